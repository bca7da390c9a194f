/**
 * Plans the dispatch of merged statuses ({@link STATUS_WGSL}): one invocation per status entry, laid over a
 * 2-D grid when the entries exceed one dispatch row.
 * @internal
 * @module
 */
import type { StatusPlan } from '../../backend.js';
import { splitEntries, type EntryBinding, type EntryOperand } from '../batch-split.js';
import type { GpuContext } from '../context.js';
import { grid1d } from '../grid.js';
import { Uniforms } from '../uniforms.js';
import { STATUS_GROUP, STATUS_WGSL } from './status.wgsl.js';

/**
 * Records a merged status into `out` (int32, `plan.count` entries) from the diagonal of `l` and the codes of
 * the priors (see {@link StatusPlan}). At least one of `l`, `prior0`, `prior1` is given. Past the
 * storage-binding limit the entries are done in chunks (`batch-split.ts`); only one entry of L beyond a binding
 * is refused (DeviceLimitError, nothing recorded), which a triangular solve over the same L refuses first.
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
  const prior = (buffer: GPUBuffer, count: number, name: string): EntryOperand => ({
    name,
    buffer,
    stride: count === 1 ? 0 : 1,
    span: 1,
    entries: count,
  });
  const operands: EntryOperand[] = [{ name: 'the status', buffer: out, stride: 1, span: 1 }];
  if (l !== null) operands.push({ name: 'L', buffer: l, stride: plan.strideL, span: plan.n * plan.n });
  if (prior0 !== null) operands.push(prior(prior0, plan.priorCounts[0], 'a prior status'));
  if (prior1 !== null) operands.push(prior(prior1, plan.priorCounts[1], 'a prior status'));
  const chunks = splitEntries(ctx, 'status', plan.count, operands);
  const pipeline = ctx.pipeline('status', STATUS_WGSL);
  for (const { first, count, operands: bound } of chunks) {
    const [info, ...rest] = bound as [EntryBinding, ...EntryBinding[]];
    const take = (present: boolean): EntryBinding | null => (present ? rest.shift()! : null);
    const lb = take(l !== null);
    const p0 = take(prior0 !== null);
    const p1 = take(prior1 !== null);
    const standIn = (lb ?? p0 ?? p1)!;
    const [x, y] = grid1d(count, STATUS_GROUP, ctx.limits.maxComputeWorkgroupsPerDimension);
    const u = new Uniforms()
      .u32(count)
      .u32(l === null ? 0 : plan.n)
      .u32(plan.strideL)
      .u32(prior0 === null ? 0 : plan.priorCounts[0])
      .u32(prior1 === null ? 0 : plan.priorCounts[1])
      .u32(x * STATUS_GROUP)
      .u32(first)
      .u32(lb?.offset ?? 0)
      .u32(p0?.offset ?? 0)
      .u32(p1?.offset ?? 0)
      .u32(info.offset);
    const bindings = [lb ?? standIn, p0 ?? standIn, p1 ?? standIn, info].map((b) => b.binding);
    ctx.dispatch(pipeline, u, bindings, [x, y]);
  }
}
