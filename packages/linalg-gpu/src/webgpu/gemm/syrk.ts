/**
 * Plans Gram (SYRK) dispatches: `out[b] = A[b]·A[b]ᵀ`.
 * @internal
 * @module
 */
import type { GramPlan } from '../../backend.js';
import type { GpuContext } from '../context.js';
import { encodeSymmetricRankK } from './gemm.js';

/**
 * Records `out[b] = A[b]·A[b]ᵀ` for a {@link GramPlan} (A[b] n×d, out batch×n×n contiguous). Only the
 * output tiles on and below the diagonal are computed (about half the flops of a GEMM); each strictly-lower
 * tile is written both in place and transposed, so out is exactly symmetric.
 */
export function encodeGram(ctx: GpuContext, plan: GramPlan, a: GPUBuffer, out: GPUBuffer): void {
  encodeSymmetricRankK(ctx, plan.batch, plan.n, plan.d, a, out);
}
