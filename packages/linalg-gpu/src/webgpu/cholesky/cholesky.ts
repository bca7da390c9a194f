/**
 * Plans the dispatches of the batched Cholesky factorization `L·Lᵀ = A + shift·I`.
 *
 * Two regimes:
 * - **unblocked** (small n, the FNGD case of many small matrices): one workgroup per matrix copies
 *   `A + shift·I` (lower part) into `out` and factors it in place with a right-looking column sweep
 *   ({@link cholUnblockedWgsl});
 * - **blocked** (large n): right-looking blocked algorithm over diagonal blocks of {@link BLOCK} columns:
 *   factor the diagonal block (the unblocked kernel on a sub-matrix), solve the panel below it
 *   (`L21 = A21·L11⁻ᵀ`, {@link CHOL_PANEL_WGSL}) and update the trailing lower triangle
 *   `A22 -= L21·L21ᵀ` with the strided GEMM (`lowerOnly`). The batch runs on dispatch z (the
 *   diagonal-block kernel, one workgroup per entry, on x).
 *
 * Failures: every kernel reads `info` and skips a failed entry (the panel kernel writes a zero panel so the
 * GEMM update is a no-op), so a failure never feeds NaN work into later steps.
 *
 * Past the storage-binding limit the batch is factored in chunks of whole entries (`batch-split.ts`): A, the
 * factor and `info` are bound as the aligned ranges a chunk touches, with the kernels' offsets rebased. One
 * entry that does not fit a binding is refused with DeviceLimitError before anything is recorded.
 * @internal
 * @module
 */
import type { CholeskyPlan } from '../../backend.js';
import { checkEntries, splitEntries, type EntryBinding, type EntryShape } from '../batch-split.js';
import type { BufferRange, GpuContext } from '../context.js';
import { encodeGemmStrided } from '../gemm/gemm.js';
import { forEachChunk } from '../grid.js';
import { Uniforms } from '../uniforms.js';
import {
  CHOL_COPY_WGSL,
  CHOL_PANEL_MAX_NB,
  CHOL_PANEL_ROWS,
  CHOL_PANEL_WGSL,
  CHOL_UNBLOCKED_MAX,
  cholUnblockedWgsl,
} from './cholesky.wgsl.js';

/** Column block of the blocked algorithm (≤ {@link CHOL_PANEL_MAX_NB}). */
const BLOCK = 32;

/**
 * Crossover between the regimes: the blocked algorithm is used for n > 96. Measured on Mesa lavapipe
 * (2 CPU threads; process CPU ms per factorization, which is less noisy than wall time on a shared
 * machine; unblocked / blocked):
 *
 * | batch × n | 1×64    | 1×96    | 1×128   | 1×192   | 1×256    | 16×96     | 64×96   | 256×96  |
 * |-----------|---------|---------|---------|---------|----------|-----------|---------|---------|
 * |           | 1.0/2.1 | 1.1/3.0 | 3.5/3.0 | 6.0/5.3 | 16.1/9.7 | 16.8/17.1 | 69/86   | 288/288 |
 *
 * | batch × n | 256×64  | 8×128     | 64×128  | 8×256   |
 * |-----------|---------|-----------|---------|---------|
 * |           | 121/171 | 27.7/16.2 | 143/132 | 103/85  |
 *
 * Up to n ≈ 96 one dispatch with one workgroup per matrix wins at every batch size (the blocked path pays
 * a copy, a diagonal, a panel and a GEMM dispatch per block of 32 columns); beyond, the blocked path wins
 * because its O(n³) trailing updates run in the tiled GEMM, which is far more efficient per flop than the
 * one-workgroup kernel's rank-8 updates, and because one workgroup per large matrix leaves most of a
 * device idle (on a discrete GPU even more so than on lavapipe).
 */
const CROSSOVER = 96;

const MAX_GROUPS = 65535;

/**
 * Whether the blocked algorithm factors a batch of n×n matrices by default (see {@link CROSSOVER}; the
 * batch size did not move the crossover in the measurements, it is a parameter for other devices).
 */
export function useBlocked(n: number, _batch: number): boolean {
  return n > CROSSOVER;
}

/** One chunk of entries: A, the factor and info bound (the same element offset in A and in the factor). */
interface Chunk {
  readonly count: number;
  readonly a: GPUBuffer | BufferRange;
  readonly out: GPUBuffer | BufferRange;
  /** The buffer of the factor (`out` may be a range of it). */
  readonly outBuffer: GPUBuffer;
  readonly info: GPUBuffer | BufferRange;
  /** Element offset of the chunk's first entry in A's and the factor's bindings. */
  readonly offset: number;
  /** Element offset of its status in info's binding. */
  readonly infoOffset: number;
}

/** The operands of a factorization as the batch splitter sees them: A, the factor, the status. */
function shapes(plan: CholeskyPlan): EntryShape[] {
  const nn = plan.n * plan.n;
  return [
    { name: 'A', stride: nn, span: nn },
    { name: 'the factor', stride: nn, span: nn },
    { name: 'the status', stride: 1, span: 1 },
  ];
}

/**
 * Throws DeviceLimitError when {@link encodeCholesky} would refuse `plan` (one entry beyond a binding);
 * records nothing.
 */
export function checkCholesky(ctx: GpuContext, plan: CholeskyPlan, what: string): void {
  if (plan.batch === 0 || plan.n === 0) return;
  checkEntries(ctx, what, plan.batch, shapes(plan));
}

/**
 * Records the factorization of `plan.batch` n×n matrices of `a` into `out` (contiguous, same layout), with
 * per-entry LAPACK `info` codes in `info` (int32, zero-filled by the caller). `regime` forces one algorithm
 * (benchmarks and tests); by default {@link useBlocked} chooses. Throws DeviceLimitError, recording nothing,
 * when one entry does not fit a storage binding.
 */
export function encodeCholesky(
  ctx: GpuContext,
  plan: CholeskyPlan,
  a: GPUBuffer,
  out: GPUBuffer,
  info: GPUBuffer,
  regime?: 'blocked' | 'unblocked',
): void {
  const { batch, n } = plan;
  if (batch === 0 || n === 0) return;
  const [as, ls, is] = shapes(plan) as [EntryShape, EntryShape, EntryShape];
  const chunks = splitEntries(ctx, 'cholesky', batch, [
    { ...as, buffer: a },
    { ...ls, buffer: out },
    { ...is, buffer: info },
  ]);
  const blocked = regime ? regime === 'blocked' : useBlocked(n, batch);
  for (const { count, operands } of chunks) {
    const [av, ov, iv] = operands as [EntryBinding, EntryBinding, EntryBinding];
    // A and the factor have one layout, so their ranges start equally far before the chunk (the kernels
    // index both with one offset)
    if (av.offset !== ov.offset) throw new Error('cholesky: A and the factor are bound at different offsets');
    const chunk: Chunk = {
      count,
      a: av.binding,
      out: ov.binding,
      outBuffer: out,
      info: iv.binding,
      offset: ov.offset,
      infoOffset: iv.offset,
    };
    if (blocked || n > CHOL_UNBLOCKED_MAX) encodeBlocked(ctx, plan, chunk);
    else encodeUnblocked(ctx, plan, chunk);
  }
}

function encodeUnblocked(ctx: GpuContext, plan: CholeskyPlan, c: Chunk): void {
  const { n } = plan;
  const pipeline = ctx.pipeline('cholesky.unblocked.copy', cholUnblockedWgsl(true));
  forEachChunk(c.count, MAX_GROUPS * MAX_GROUPS, (first, count) => {
    const x = Math.min(count, MAX_GROUPS);
    const y = Math.ceil(count / x);
    const u = new Uniforms()
      .u32(n) // n
      .u32(n) // ld
      .u32(c.offset) // offset
      .u32(n * n) // batchStride
      .u32(first) // batchBase
      .u32(count) // batchCount
      .u32(x) // gridX
      .u32(0) // infoBase
      .u32(c.infoOffset) // infoOffset
      .f32(plan.shift);
    ctx.dispatch(pipeline, u, [c.a, c.out, c.info], [x, y]);
  });
}

function encodeBlocked(ctx: GpuContext, plan: CholeskyPlan, c: Chunk): void {
  const { n } = plan;
  const nn = n * n;
  const copy = ctx.pipeline('cholesky.copy', CHOL_COPY_WGSL);
  const diag = ctx.pipeline('cholesky.unblocked.inplace', cholUnblockedWgsl(false));
  const panel = ctx.pipeline('cholesky.panel', CHOL_PANEL_WGSL);
  const tiles = Math.ceil(n / 16);
  // the GEMM updates read and write the factor through its binding
  const range = 'buffer' in c.out ? { range: c.out } : {};
  forEachChunk(c.count, MAX_GROUPS, (first, count) => {
    const copyU = new Uniforms().u32(n).u32(first).u32(c.offset).f32(plan.shift);
    ctx.dispatch(copy, copyU, [c.a, c.out], [tiles, tiles, count]);
    for (let k0 = 0; k0 < n; k0 += BLOCK) {
      const nb = Math.min(BLOCK, n - k0);
      const diagU = new Uniforms()
        .u32(nb)
        .u32(n)
        .u32(c.offset + k0 * n + k0)
        .u32(nn)
        .u32(first)
        .u32(count)
        .u32(count) // gridX: the batch runs on x only
        .u32(k0) // infoBase
        .u32(c.infoOffset)
        .f32(0);
      ctx.dispatch(diag, diagU, [c.out, c.info], [count, 1, 1]);
      const k1 = k0 + nb;
      const rest = n - k1;
      if (rest === 0) break;
      const panelU = new Uniforms().u32(n).u32(n).u32(k0).u32(nb).u32(nn).u32(first).u32(c.offset).u32(c.infoOffset);
      ctx.dispatch(panel, panelU, [c.out, c.info], [Math.ceil(rest / CHOL_PANEL_ROWS), 1, count]);
      const base = c.offset + first * nn;
      const l21 = { buffer: c.outBuffer, ...range, offset: base + k1 * n + k0, ld: n, batchStride: nn };
      encodeGemmStrided(ctx, {
        batch: count,
        m: rest,
        n: rest,
        k: nb,
        transA: false,
        transB: true,
        alpha: -1,
        beta: 1,
        a: l21,
        b: l21,
        out: { buffer: c.outBuffer, ...range, offset: base + k1 * n + k1, ld: n, batchStride: nn },
        lowerOnly: true,
      });
    }
    // No clean-up pass: the copy zeroed the strict upper part, and neither the diagonal kernel nor the
    // lowerOnly GEMM (which leaves elements above the diagonal untouched) writes there afterwards.
  });
}

if (BLOCK > CHOL_PANEL_MAX_NB || BLOCK > CHOL_UNBLOCKED_MAX) throw new Error('cholesky: BLOCK exceeds the kernel caches');
