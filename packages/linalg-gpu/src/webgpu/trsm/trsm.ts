/**
 * Plans the dispatches of the batched triangular solve `L·X = B` / `Lᵀ·X = B` (L lower triangular, read
 * transposed by indexing for `Lᵀ`, never copied).
 *
 * - **sweep** ({@link trsmSweepWgsl}): one workgroup per (batch entry, block of ≤ 16 right-hand-side
 *   columns) holds its block of X in workgroup memory and sweeps the pivots in blocks of 8, two barriers
 *   per block. nrhs = 1 uses a one-column block, i.e. all 64 invocations over the rows.
 * - **blocked** (large n with many right-hand sides, or n·cb beyond the tile): for each diagonal block of
 *   {@link BLOCK} rows, solve it with the sweep kernel in place in `out`, then update the rows still to be
 *   solved with the strided GEMM (`X_rest -= L_rest,k·X_k`, or `-= L_k,restᵀ·X_k` for `Lᵀ`).
 *
 * Past the storage-binding limit the batch is solved in chunks of whole entries (`batch-split.ts`): L, B and
 * X are bound as the aligned ranges a chunk touches (a broadcast operand as its one entry), with the kernels'
 * offsets rebased. One entry of L, B or X that does not fit a binding is refused with DeviceLimitError before
 * anything is recorded ({@link checkTrsm} tells in advance).
 * @internal
 * @module
 */
import type { TrsmPlan } from '../../backend.js';
import { checkEntries, splitEntries, type EntryBinding, type EntryShape } from '../batch-split.js';
import type { BufferRange, GpuContext } from '../context.js';
import { encodeGemmStrided } from '../gemm/gemm.js';
import { forEachChunk, grid1d } from '../grid.js';
import { Uniforms } from '../uniforms.js';
import { TRSM_COPY_WGSL, TRSM_GROUP, TRSM_TILE, trsmSweepWgsl } from './trsm.wgsl.js';

/** Rows of a diagonal block of the blocked solve. */
const BLOCK = 256;
/** Largest columns-per-workgroup of the sweep. */
const MAX_CB = 16;
/**
 * The blocked solve is used when n > {@link BLOCKED_MIN_N} and nrhs ≥ {@link BLOCKED_MIN_NRHS} (and always
 * when one column of n rows does not fit the sweep's tile). Measured on lavapipe (single system, wall ms,
 * sweep / blocked, forward solve; ±30 % noise on a shared machine):
 *
 * | n × nrhs | 1024×1  | 1024×4 | 1024×8 | 1024×16 | 1024×64 | 1024×256  | 384×32 | 512×64  | 2048×1 | 2048×16 |
 * |----------|---------|--------|--------|---------|---------|-----------|--------|---------|--------|---------|
 * |          | 9/61    | 39/46  | 102/37 | 291/65  | 663/208 | 3390/1048 | 122/38 | 277/115 | 51/304 | 993/232 |
 *
 * With one right-hand side the sweep reads L once and needs no extra dispatches, so it stays the better
 * choice at every n (nrhs = 1 is the FNGD case); from about 8 columns the GEMM updates of the blocked solve
 * spread the O(n²·nrhs) work over the whole device while the sweep keeps it in ⌈nrhs/cb⌉ workgroups.
 */
const BLOCKED_MIN_N = 256;
const BLOCKED_MIN_NRHS = 8;
const MAX_GROUPS = 65535;

/** Columns per sweep workgroup: a power of two ≤ 16 covering nrhs when possible, with n·cb ≤ the tile. */
function columnsPerGroup(n: number, nrhs: number): number {
  let cb = 1;
  while (cb < MAX_CB && cb < nrhs && 2 * cb * n <= TRSM_TILE) cb *= 2;
  return cb;
}

/** Whether the blocked algorithm solves this plan. */
export function trsmUsesBlocked(n: number, nrhs: number): boolean {
  return n > TRSM_TILE || (n > BLOCKED_MIN_N && nrhs >= BLOCKED_MIN_NRHS);
}

/** A strided view of L, B or X: entry e at `offset + e·stride` of its binding, rows `ld` apart. */
interface SweepView {
  readonly buffer: GPUBuffer;
  /** What is bound: the buffer, or the range of it `offset` counts from. */
  readonly binding: GPUBuffer | BufferRange;
  readonly offset: number;
  readonly ld: number;
  readonly stride: number;
}

/** One sweep dispatch set: solves the n×n block of L at `lv` against `cols` columns of `bv` into `xv`. */
function sweep(
  ctx: GpuContext,
  batch: number,
  n: number,
  cols: number,
  transpose: boolean,
  lv: SweepView,
  bv: SweepView,
  xv: SweepView,
): void {
  const inPlace = bv.buffer === xv.buffer;
  const pipeline = inPlace
    ? ctx.pipeline('trsm.sweep.inplace', trsmSweepWgsl(true))
    : ctx.pipeline('trsm.sweep', trsmSweepWgsl(false));
  const cb = columnsPerGroup(n, cols);
  const colBlocks = Math.ceil(cols / cb);
  forEachChunk(batch, MAX_GROUPS, (first, count) => {
    forEachChunk(colBlocks, MAX_GROUPS, (colBase, colCount) => {
      const u = new Uniforms()
        .u32(n)
        .u32(cols)
        .u32(cb)
        .u32(transpose ? 1 : 0)
        .u32(lv.offset)
        .u32(lv.ld)
        .u32(lv.stride)
        .u32(bv.offset)
        .u32(bv.ld)
        .u32(bv.stride)
        .u32(xv.offset)
        .u32(xv.ld)
        .u32(xv.stride)
        .u32(first)
        .u32(colBase);
      const buffers = inPlace ? [lv.binding, xv.binding] : [lv.binding, bv.binding, xv.binding];
      ctx.dispatch(pipeline, u, buffers, [colCount, count]);
    });
  });
}

/** Writes `X[e] = B[e·strideB]` for the chunk's entries (strideB 0 broadcasts) with the copy kernel. */
function copyRhs(ctx: GpuContext, plan: TrsmPlan, count: number, bv: SweepView, xv: SweepView): void {
  const size = plan.n * plan.nrhs;
  const pipeline = ctx.pipeline('trsm.copy', TRSM_COPY_WGSL);
  const [x, y] = grid1d(size, TRSM_GROUP);
  forEachChunk(count, MAX_GROUPS, (first, n) => {
    const u = new Uniforms().u32(size).u32(plan.strideB).u32(first).u32(x * TRSM_GROUP).u32(bv.offset).u32(xv.offset);
    ctx.dispatch(pipeline, u, [bv.binding, xv.binding], [x, y, n]);
  });
}

/** The operands of a solve as the batch splitter sees them: L, B, X. */
function shapes(plan: TrsmPlan): EntryShape[] {
  const size = plan.n * plan.nrhs;
  return [
    { name: 'L', stride: plan.strideL, span: plan.n * plan.n },
    { name: 'B', stride: plan.strideB, span: size },
    { name: 'X (the result)', stride: size, span: size },
  ];
}

/**
 * Throws DeviceLimitError when {@link encodeTrsm} would refuse `plan` (one entry of L, B or X beyond a
 * binding); records nothing, so a caller can check before recording the steps that lead to the solve.
 */
export function checkTrsm(ctx: GpuContext, plan: TrsmPlan, what: string): void {
  if (plan.batch === 0 || plan.n === 0 || plan.nrhs === 0) return;
  checkEntries(ctx, what, plan.batch, shapes(plan));
}

/**
 * Records the solve of `plan.batch` systems `L·X = B` (or `Lᵀ·X = B`) into `out` (batch×n×nrhs,
 * contiguous). `l` and `b` may broadcast (stride 0). `regime` forces one algorithm (benchmarks and tests;
 * the sweep needs n ≤ 4096); by default {@link trsmUsesBlocked} chooses. Throws DeviceLimitError, recording
 * nothing, when one entry does not fit a storage binding.
 */
export function encodeTrsm(
  ctx: GpuContext,
  plan: TrsmPlan,
  l: GPUBuffer,
  b: GPUBuffer,
  out: GPUBuffer,
  regime?: 'blocked' | 'sweep',
): void {
  const { batch, n, nrhs } = plan;
  if (batch === 0 || n === 0 || nrhs === 0) return;
  const [ls, bs, xs] = shapes(plan) as [EntryShape, EntryShape, EntryShape];
  const chunks = splitEntries(ctx, 'triangularSolve', batch, [
    { ...ls, buffer: l },
    { ...bs, buffer: b },
    { ...xs, buffer: out },
  ]);
  const blocked = n > TRSM_TILE || (regime ? regime === 'blocked' : trsmUsesBlocked(n, nrhs));
  const size = n * nrhs;
  // X = B in one copy, which no binding limits, when B is not broadcast
  const copied = blocked && plan.strideB === size;
  if (copied) ctx.copy(b, 0, out, 0, batch * size * 4);
  for (const { count, operands } of chunks) {
    const [lb, bb, xb] = operands as [EntryBinding, EntryBinding, EntryBinding];
    const lv: SweepView = { buffer: l, binding: lb.binding, offset: lb.offset, ld: n, stride: plan.strideL };
    const bv: SweepView = { buffer: b, binding: bb.binding, offset: bb.offset, ld: nrhs, stride: plan.strideB };
    const xv: SweepView = { buffer: out, binding: xb.binding, offset: xb.offset, ld: nrhs, stride: size };
    if (!blocked) {
      sweep(ctx, count, n, nrhs, plan.transpose, lv, bv, xv);
      continue;
    }
    if (!copied) copyRhs(ctx, plan, count, bv, xv);
    encodeBlocked(ctx, plan, count, lv, xv);
  }
}

/** The blocked solve of `count` entries, in place in X (which holds B). */
function encodeBlocked(ctx: GpuContext, plan: TrsmPlan, batch: number, lv: SweepView, xv: SweepView): void {
  const { n, nrhs, transpose } = plan;
  const size = n * nrhs;
  // the GEMM updates bind L and X as the chunk does
  const rangeOf = (v: SweepView) => ('buffer' in v.binding ? { range: v.binding } : {});
  const blocks = Math.ceil(n / BLOCK);
  for (let s = 0; s < blocks; s++) {
    // forward: blocks top to bottom; transposed (backward): bottom to top
    const blk = transpose ? blocks - 1 - s : s;
    const k0 = blk * BLOCK;
    const nb = Math.min(BLOCK, n - k0);
    const k1 = k0 + nb;
    const diagL: SweepView = { ...lv, offset: lv.offset + k0 * n + k0 };
    const xk: SweepView = { ...xv, offset: xv.offset + k0 * nrhs };
    sweep(ctx, batch, nb, nrhs, transpose, diagL, xk, xk);
    const rest = transpose ? k0 : n - k1;
    if (rest === 0) continue;
    forEachChunk(batch, MAX_GROUPS, (first, count) => {
      const xBase = xv.offset + first * size;
      const xBlock = { buffer: xv.buffer, ...rangeOf(xv), offset: xBase + k0 * nrhs, ld: nrhs, batchStride: size };
      encodeGemmStrided(ctx, {
        batch: count,
        m: rest,
        n: nrhs,
        k: nb,
        // forward: rows k1… of L, columns k0…k1 (rest×nb); backward: rows k0…k1, columns 0…k0 used
        // transposed (stored nb×rest)
        transA: transpose,
        transB: false,
        alpha: -1,
        beta: 1,
        a: {
          buffer: lv.buffer,
          ...rangeOf(lv),
          offset: lv.offset + first * plan.strideL + (transpose ? k0 * n : k1 * n + k0),
          ld: n,
          batchStride: plan.strideL,
        },
        b: xBlock,
        out: { buffer: xv.buffer, ...rangeOf(xv), offset: xBase + (transpose ? 0 : k1 * nrhs), ld: nrhs, batchStride: size },
      });
    });
  }
}
