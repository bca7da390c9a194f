/**
 * Plans element-wise and batch-sum dispatches.
 * @internal
 * @module
 */
import type { ElementwisePlan, SumBatchPlan } from '../../backend.js';
import type { GpuContext } from '../context.js';
import { grid1d } from '../grid.js';
import { Uniforms } from '../uniforms.js';
import { ELEMENTWISE_WGSL, SUM_BATCH_WGSL } from './elementwise.wgsl.js';

const GROUP = 256;

export function encodeElementwise(
  ctx: GpuContext,
  plan: ElementwisePlan,
  a: GPUBuffer,
  b: GPUBuffer | null,
  out: GPUBuffer,
): void {
  const total = plan.batch * plan.size;
  const [x, y] = grid1d(total, GROUP);
  const op = plan.op === 'mul' ? 1 : b ? 0 : 2;
  const u = new Uniforms()
    .u32(total)
    .u32(plan.size)
    .u32(plan.strideA)
    .u32(b ? plan.strideB : 0)
    .u32(op)
    .u32(x * GROUP)
    .f32(plan.alpha)
    .f32(plan.beta)
    .f32(plan.gamma);
  ctx.dispatch(ctx.pipeline('elementwise', ELEMENTWISE_WGSL), u, [a, b ?? a, out], [x, y]);
}

export function encodeSumBatch(ctx: GpuContext, plan: SumBatchPlan, a: GPUBuffer, out: GPUBuffer): void {
  const [x, y] = grid1d(plan.size, GROUP);
  const u = new Uniforms().u32(plan.batch).u32(plan.size);
  ctx.dispatch(ctx.pipeline('sumBatch', SUM_BATCH_WGSL), u, [a, out], [x, y]);
}
