/**
 * Plans GEMM dispatches: the public batched {@link encodeGemm} and the strided, in-place
 * {@link encodeGemmStrided} used by the blocked Cholesky and triangular-solve kernels.
 * @internal
 * @module
 */
import type { GemmPlan } from '../../backend.js';
import type { BufferRange, GpuContext } from '../context.js';
import { forEachChunk } from '../grid.js';
import { Uniforms } from '../uniforms.js';
import { GEMM_TILE, gemmWgsl } from './gemm.wgsl.js';
import { splitLaunch } from './split.js';

/**
 * A strided view of one matrix (or one matrix per batch entry) inside a buffer of float32 elements.
 * Entry `b`, element (i, j) of the *stored* matrix is at `offset + b·batchStride + i·ld + j`.
 */
export interface GemmView {
  readonly buffer: GPUBuffer;
  /** Offset of entry 0, element (0, 0), in elements. */
  readonly offset: number;
  /** Leading dimension (row pitch) of the stored matrix, in elements. */
  readonly ld: number;
  /** Elements between consecutive batch entries; 0 broadcasts one matrix over the batch. */
  readonly batchStride: number;
  /**
   * The range of `buffer` the view is bound to, `offset` then counting from the range's start (launches split
   * over bindings, see `split.ts` and `batch-split.ts`); absent: the buffer is bound from its start. Views of
   * one buffer in one launch share one range.
   */
  readonly range?: BufferRange;
}

/**
 * `out[b] = alpha·op(A[b])·op(B[b]) + beta·out[b]` over strided views, for `b < batch`. op(A) is m×k (A is
 * stored k×m when `transA`), op(B) is k×n (B is stored n×k when `transB`), out is m×n.
 *
 * The views may share one buffer (an operand in out's buffer is read through out's binding); the caller
 * promises that, within one call, the elements written do not overlap the elements of A and B that are read.
 */
export interface StridedGemm {
  readonly batch: number;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly transA: boolean;
  readonly transB: boolean;
  readonly alpha: number;
  /** Scale of the previous contents of out; 0 overwrites without reading them (NaN/garbage safe). */
  readonly beta: number;
  readonly a: GemmView;
  readonly b: GemmView;
  /** out = alpha·op(A)·op(B) + beta·out (accumulate in place; beta 0 = overwrite) */
  readonly out: GemmView;
  /**
   * Only compute output tiles that intersect the lower triangle (i ≥ j) of out; elements strictly above the
   * diagonal are left untouched (neither read nor written).
   */
  readonly lowerOnly?: boolean;
}

/** Everything one kernel launch needs (element units throughout). @internal */
export interface GemmLaunch {
  readonly batch: number;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly transA: boolean;
  readonly transB: boolean;
  /** 0 full, 1 lower triangle only, 2 symmetric (lower tiles mirrored into the upper triangle). */
  readonly mode: 0 | 1 | 2;
  readonly alpha: number;
  readonly beta: number;
  readonly a: GemmView;
  readonly b: GemmView;
  /** Added as beta·C when non-null and beta ≠ 0. */
  readonly c: GemmView | null;
  readonly out: GemmView;
}

/** WGSL of each variant, built once per process. */
const sources = new Map<string, string>();

const aligned = (...xs: number[]): boolean => xs.every((x) => x % 4 === 0);

/** Whether every 4-element group the kernel touches is 16-byte aligned and entirely inside or outside. */
function vec4Eligible(g: GemmLaunch, useC: boolean): boolean {
  const { a, b, c, out } = g;
  return (
    aligned(g.transA ? g.m : g.k, a.offset, a.ld, a.batchStride) &&
    aligned(g.transB ? g.k : g.n, b.offset, b.ld, b.batchStride) &&
    aligned(g.n, out.offset, out.ld, out.batchStride) &&
    (g.mode !== 2 || aligned(g.m)) &&
    (!useC || c === null || aligned(c.offset, c.ld, c.batchStride))
  );
}

/**
 * Records the dispatches of one launch: split over several bindings when its operands exceed the binding limit
 * (see `split.ts`; throws DeviceLimitError, recording nothing, where that is impossible), and each part's batch
 * over the per-dimension workgroup limit.
 */
function launch(ctx: GpuContext, g: GemmLaunch, what?: string): void {
  if (g.batch === 0 || g.m === 0 || g.n === 0) return;
  for (const p of splitLaunch(ctx, g, what)) launchPart(ctx, p);
}

/** The binding of a view: its range when the splitter bound one, else the whole buffer. */
const binding = (v: GemmView) => v.range ?? v.buffer;

function launchPart(ctx: GpuContext, g: GemmLaunch): void {
  const useC = g.c !== null && g.beta !== 0;
  const c = g.c ?? g.out;
  const vec4 = vec4Eligible(g, useC);
  // Operands in out's buffer are read through the out binding (WebGPU forbids writable-binding aliasing).
  const out = g.out.buffer;
  const alias = { a: g.a.buffer === out, b: g.b.buffer === out, c: c.buffer === out || !useC };
  const key = `gemm${vec4 ? '_vec4' : ''}${alias.a ? '_a' : ''}${alias.b ? '_b' : ''}${alias.c ? '_c' : ''}`;
  let code = sources.get(key);
  if (code === undefined) sources.set(key, (code = gemmWgsl(vec4, alias)));
  const pipeline = ctx.pipeline(key, code);
  const buffers = [binding(g.out)];
  if (!alias.a) buffers.push(binding(g.a));
  if (!alias.b) buffers.push(binding(g.b));
  if (!alias.c) buffers.push(binding(c));
  const x = Math.ceil(g.n / GEMM_TILE);
  const y = Math.ceil(g.m / GEMM_TILE);
  forEachChunk(g.batch, ctx.limits.maxComputeWorkgroupsPerDimension, (first, count) => {
    const u = new Uniforms()
      .u32(g.m)
      .u32(g.n)
      .u32(g.k)
      .u32(g.transA ? 1 : 0)
      .u32(g.transB ? 1 : 0)
      .u32(g.mode)
      .u32(useC ? 1 : 0)
      .u32(first)
      .u32(g.a.offset)
      .u32(g.b.offset)
      .u32(c.offset)
      .u32(g.out.offset)
      .u32(g.a.ld)
      .u32(g.b.ld)
      .u32(c.ld)
      .u32(g.out.ld)
      .u32(g.a.batchStride)
      .u32(g.b.batchStride)
      .u32(c.batchStride)
      .u32(g.out.batchStride)
      .f32(g.alpha)
      .f32(useC ? g.beta : 0);
    ctx.dispatch(pipeline, u, buffers, [x, y, count]);
  });
}

/**
 * Records `out[b] = alpha·op(A[b])·op(B[b]) + beta·C[b]` for a validated {@link GemmPlan}: A, B and C are
 * contiguous per batch entry with the plan's batch strides (0 broadcasts), out is contiguous batch×m×n.
 */
export function encodeGemm(
  ctx: GpuContext,
  plan: GemmPlan,
  a: GPUBuffer,
  b: GPUBuffer,
  c: GPUBuffer | null,
  out: GPUBuffer,
): void {
  const { m, n, k } = plan;
  launch(ctx, {
    batch: plan.batch,
    m,
    n,
    k,
    transA: plan.transA,
    transB: plan.transB,
    mode: 0,
    alpha: plan.alpha,
    beta: c ? plan.beta : 0,
    a: { buffer: a, offset: 0, ld: plan.transA ? m : k, batchStride: plan.strideA },
    b: { buffer: b, offset: 0, ld: plan.transB ? k : n, batchStride: plan.strideB },
    c: c ? { buffer: c, offset: 0, ld: n, batchStride: plan.strideC } : null,
    out: { buffer: out, offset: 0, ld: n, batchStride: m * n },
  }, 'gemm');
}

/**
 * Records an in-place strided GEMM (see {@link StridedGemm}): `out = alpha·op(A)·op(B) + beta·out` on
 * sub-matrix views, optionally restricted to the lower triangle of out. A, B and out may alias one buffer.
 */
export function encodeGemmStrided(ctx: GpuContext, g: StridedGemm): void {
  launch(ctx, {
    batch: g.batch,
    m: g.m,
    n: g.n,
    k: g.k,
    transA: g.transA,
    transB: g.transB,
    mode: g.lowerOnly ? 1 : 0,
    alpha: g.alpha,
    beta: g.beta,
    a: g.a,
    b: g.b,
    c: g.beta !== 0 ? g.out : null,
    out: g.out,
  });
}

/**
 * Records `out[b] = A[b]·A[b]ᵀ` (A[b] n×d, contiguous; out contiguous batch×n×n): only the tiles on and
 * below the diagonal are computed, and each strictly-lower tile is also written transposed.
 * @internal Used by the Gram (SYRK) planner.
 */
export function encodeSymmetricRankK(
  ctx: GpuContext,
  batch: number,
  n: number,
  d: number,
  a: GPUBuffer,
  out: GPUBuffer,
): void {
  const view: GemmView = { buffer: a, offset: 0, ld: d, batchStride: n * d };
  launch(ctx, {
    batch,
    m: n,
    n,
    k: d,
    transA: false,
    transB: true,
    mode: 2,
    alpha: 1,
    beta: 0,
    a: view,
    b: view,
    c: null,
    out: { buffer: out, offset: 0, ld: n, batchStride: n * n },
  }, 'gram');
}
