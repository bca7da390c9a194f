/**
 * Plans element-wise and batch-sum dispatches. Past the storage-binding limit the work is split, never
 * refused (one element always fits a binding):
 * - an element-wise map runs over flat ranges of its result, each operand bound as the aligned range the
 *   result range reads (a broadcast operand: the part of its one entry the range covers, or all of it);
 * - the batch sum runs over blocks of columns, and within a block over chunks of entries that accumulate into
 *   the result in entry order (the same additions as one pass).
 * @internal
 * @module
 */
import type { ElementwisePlan, SumBatchPlan } from '../../backend.js';
import { alignedBytes, alignedRange, largest, type AlignedRange } from '../binding.js';
import type { BufferRange, GpuContext } from '../context.js';
import { grid1d } from '../grid.js';
import { Uniforms } from '../uniforms.js';
import { ELEMENTWISE_WGSL, SUM_BATCH_WGSL } from './elementwise.wgsl.js';

const GROUP = 256;

/** Elements `[start, end)` of an operand of entry stride `stride` (0 or size) that results `[t0, t1)` read. */
function reads(stride: number, size: number, t0: number, t1: number): [number, number] {
  if (stride !== 0) return [t0, t1];
  const e = Math.floor(t0 / size);
  return e === Math.floor((t1 - 1) / size) ? [t0 - e * size, t1 - e * size] : [0, size];
}

export function encodeElementwise(
  ctx: GpuContext,
  plan: ElementwisePlan,
  a: GPUBuffer,
  b: GPUBuffer | null,
  out: GPUBuffer,
): void {
  const total = plan.batch * plan.size;
  if (total === 0) return;
  const op = plan.op === 'mul' ? 1 : b ? 0 : 2;
  const operands: [GPUBuffer, number][] = [[a, plan.strideA], [out, plan.size]];
  if (b) operands.push([b, plan.strideB]);
  /** The operands' aligned bindings for results `[t0, t1)` (a, out, b), or null when one exceeds the limit. */
  const bind = (t0: number, t1: number): AlignedRange[] | null => {
    const ranges: AlignedRange[] = [];
    for (const [buffer, stride] of operands) {
      const r = alignedRange(ctx, buffer, ...reads(stride, plan.size, t0, t1));
      if (!r) return null;
      ranges.push(r);
    }
    return ranges;
  };
  const whole = operands.every(([, stride]) => reads(stride, plan.size, 0, total)[1] * 4 <= ctx.bindingLimit);
  const dispatch = (first: number, count: number, aBind: Binding, outBind: Binding, bBind: Binding | null) => {
    const [x, y] = grid1d(count, GROUP);
    const u = new Uniforms()
      .u32(count)
      .u32(plan.size)
      .u32(plan.strideA)
      .u32(b ? plan.strideB : 0)
      .u32(op)
      .u32(x * GROUP)
      .u32(first)
      .u32(aBind.base)
      .u32(bBind?.base ?? 0)
      .u32(outBind.base)
      .f32(plan.alpha)
      .f32(plan.beta)
      .f32(plan.gamma);
    const buffers = [aBind.binding, (bBind ?? aBind).binding, outBind.binding];
    ctx.dispatch(ctx.pipeline('elementwise', ELEMENTWISE_WGSL), u, buffers, [x, y]);
  };
  if (whole) {
    const w = (buffer: GPUBuffer): Binding => ({ binding: buffer, base: 0 });
    dispatch(0, total, w(a), w(out), b ? w(b) : null);
    return;
  }
  for (let t0 = 0; t0 < total; ) {
    const count = largest(total - t0, (c) => bind(t0, t0 + c) !== null);
    if (count === 0) throw new Error('elementwise: one element does not fit a binding');
    const [ra, ro, rb] = bind(t0, t0 + count)!.map((r): Binding => ({ binding: r.range, base: r.base }));
    dispatch(t0, count, ra!, ro!, rb ?? null);
    t0 += count;
  }
}

/** A binding and the buffer element index it starts at. */
interface Binding {
  readonly binding: GPUBuffer | BufferRange;
  readonly base: number;
}

export function encodeSumBatch(ctx: GpuContext, plan: SumBatchPlan, a: GPUBuffer, out: GPUBuffer): void {
  const { batch, size } = plan;
  if (batch === 0 || size === 0) return;
  const pipeline = ctx.pipeline('sumBatch', SUM_BATCH_WGSL);
  const dispatch = (e0: number, count: number, i0: number, width: number, aBind: Binding, outBind: Binding) => {
    const [x, y] = grid1d(width, GROUP);
    const u = new Uniforms()
      .u32(count)
      .u32(size)
      .u32(width)
      .u32(e0 * size + i0 - aBind.base)
      .u32(i0 - outBind.base)
      .u32(e0 > 0 ? 1 : 0);
    ctx.dispatch(pipeline, u, [aBind.binding, outBind.binding], [x, y]);
  };
  if (batch * size * 4 <= ctx.bindingLimit) {
    dispatch(0, batch, 0, size, { binding: a, base: 0 }, { binding: out, base: 0 });
    return;
  }
  /** Elements of `a` that entries `[e0, e0 + count)` read in columns `[i0, i0 + width)`. */
  const aSpan = (e0: number, count: number, i0: number, width: number): [number, number] => [
    e0 * size + i0,
    (e0 + count - 1) * size + i0 + width,
  ];
  // Entry e's columns start at byte 4·(e·size + i0), whose misalignment repeats within alignment/4 entries.
  const period = Math.min(batch, ctx.bindingAlignment / 4);
  const columnsFit = (i0: number, width: number): boolean => {
    if (alignedBytes(ctx, i0, i0 + width) > ctx.bindingLimit) return false;
    for (let e = 0; e < period; e++) if (alignedBytes(ctx, ...aSpan(e, 1, i0, width)) > ctx.bindingLimit) return false;
    return true;
  };
  for (let i0 = 0; i0 < size; ) {
    const width = largest(size - i0, (w) => columnsFit(i0, w));
    if (width === 0) throw new Error('sumBatch: one column does not fit a binding');
    const o = alignedRange(ctx, out, i0, i0 + width)!;
    for (let e0 = 0; e0 < batch; ) {
      const count = largest(batch - e0, (c) => alignedBytes(ctx, ...aSpan(e0, c, i0, width)) <= ctx.bindingLimit);
      const r = alignedRange(ctx, a, ...aSpan(e0, count, i0, width))!;
      dispatch(e0, count, i0, width, { binding: r.range, base: r.base }, { binding: o.range, base: o.base });
      e0 += count;
    }
    i0 += width;
  }
}
