/**
 * Plans the dispatch of merged statuses ({@link STATUS_WGSL}): one invocation per status entry, laid over a
 * 2-D grid when the entries exceed one dispatch row.
 * @internal
 * @module
 */
import type { StatusPlan } from '../../backend.js';
import type { GpuContext } from '../context.js';
import { grid1d } from '../grid.js';
import { Uniforms } from '../uniforms.js';
import { STATUS_GROUP, STATUS_WGSL } from './status.wgsl.js';

/**
 * Records a merged status into `out` (int32, `plan.count` entries) from the diagonal of `l` and the codes of
 * the priors (see {@link StatusPlan}). At least one of `l`, `prior0`, `prior1` is given.
 */
export function encodeStatus(
  ctx: GpuContext,
  plan: StatusPlan,
  l: GPUBuffer | null,
  prior0: GPUBuffer | null,
  prior1: GPUBuffer | null,
  out: GPUBuffer,
): void {
  if (plan.count === 0) return;
  // Absent operands are bound to a present one (read-only bindings may share a buffer; the writable output
  // may not) and never read: their counts, or n, are 0.
  const stand = l ?? prior0 ?? prior1;
  if (stand === null) throw new Error('encodeStatus: needs L or a prior status');
  const [x, y] = grid1d(plan.count, STATUS_GROUP, ctx.limits.maxComputeWorkgroupsPerDimension);
  const u = new Uniforms()
    .u32(plan.count)
    .u32(l === null ? 0 : plan.n)
    .u32(plan.strideL)
    .u32(prior0 === null ? 0 : plan.priorCounts[0])
    .u32(prior1 === null ? 0 : plan.priorCounts[1])
    .u32(x * STATUS_GROUP);
  ctx.dispatch(ctx.pipeline('status', STATUS_WGSL), u, [l ?? stand, prior0 ?? stand, prior1 ?? stand, out], [x, y]);
}
