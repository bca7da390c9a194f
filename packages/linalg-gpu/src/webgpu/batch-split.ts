/**
 * Splits a batched launch whose operands do not fit one storage binding ({@link GpuContext.bindingLimit}) into
 * chunks of whole batch entries, each operand bound as the aligned range its chunk touches (see
 * `binding.ts`): the kernels get the chunk's element offsets rebased onto those ranges as uniforms, so their
 * shader text does not change. Used by the Cholesky factorization, the triangular solves and the status
 * kernel, whose work never crosses batch entries.
 *
 * The only thing that cannot be split is a single batch entry of an operand that does not fit one binding
 * (together with the up to `minStorageBufferOffsetAlignment − 4` bytes before it that an aligned binding
 * may have to start at); {@link splitEntries} refuses it with {@link DeviceLimitError} before the caller
 * records anything.
 * @internal
 * @module
 */
import { DeviceLimitError } from '../errors.js';
import { alignedBytes, alignedRange, largest } from './binding.js';
import type { BufferRange, GpuContext } from './context.js';

/** The geometry of one operand of a batched launch (elements throughout). */
export interface EntryShape {
  /** What the refusal message calls it ("L", "B"…). */
  readonly name: string;
  /** Elements between consecutive batch entries; 0: one entry serves the whole batch. */
  readonly stride: number;
  /** Elements one entry spans from its start (the last element read or written, plus one). */
  readonly span: number;
  /** Entries the operand holds; those from it on are never read (default: every entry of the batch). */
  readonly entries?: number;
}

/** An operand: its geometry and its buffer (its entry 0 at element 0). */
export interface EntryOperand extends EntryShape {
  readonly buffer: GPUBuffer;
}

/** How a chunk binds one operand. */
export interface EntryBinding {
  /** The whole buffer (the launch fits unsplit) or an aligned range of it. */
  readonly binding: GPUBuffer | BufferRange;
  /**
   * Element index, within the binding, of the chunk's first entry (of entry 0 for a broadcast operand); 0 when
   * the chunk reads none of the operand's entries.
   */
  readonly offset: number;
}

/** Entries `[first, first + count)` of the batch with the bindings of the operands, in their order. */
export interface EntryChunk {
  readonly first: number;
  readonly count: number;
  readonly operands: readonly EntryBinding[];
}

/** Entries of `o` that exist in a batch of `batch`. */
function stored(o: EntryShape, batch: number): number {
  return o.stride === 0 ? 1 : Math.min(o.entries ?? batch, batch);
}

/** Elements `[start, end)` of `o` that entries `[e0, e0 + count)` touch, or null when they touch none. */
function span(o: EntryShape, batch: number, e0: number, count: number): [number, number] | null {
  if (o.stride === 0) return [0, o.span];
  const last = Math.min(e0 + count, stored(o, batch));
  return last <= e0 ? null : [e0 * o.stride, (last - 1) * o.stride + o.span];
}

/** Whether entries `[e0, e0 + count)` of every operand fit one aligned binding each. */
function fits(ctx: GpuContext, batch: number, shapes: readonly EntryShape[], e0: number, count: number): boolean {
  return shapes.every((o) => {
    const s = span(o, batch, e0, count);
    return s === null || alignedBytes(ctx, ...s) <= ctx.bindingLimit;
  });
}

/**
 * Throws {@link DeviceLimitError} when some single batch entry of an operand cannot be bound (so the launch
 * cannot be split); needs no buffers, so a caller can check a later step before recording an earlier one.
 */
export function checkEntries(ctx: GpuContext, what: string, batch: number, shapes: readonly EntryShape[]): void {
  for (const o of shapes) {
    // Entry e starts at byte 4·e·stride; its misalignment repeats with a period of at most alignment/4 entries.
    const period = Math.min(stored(o, batch), ctx.bindingAlignment / 4);
    for (let e = 0; e < period; e++) {
      if (!fits(ctx, batch, [o], e, 1)) {
        throw new DeviceLimitError(
          `${what}: one batch entry of ${o.name} (${o.span} elements, ${o.span * 4} bytes${e > 0 ? ' from an unaligned offset' : ''}) exceeds the storage binding limit of ${ctx.bindingLimit} bytes and cannot be split over bindings`,
        );
      }
    }
  }
}

/**
 * The chunks that run a launch over `batch` entries within the binding limit: one chunk binding every buffer
 * whole when the operands fit (the unsplit launch), else the fewest chunks of consecutive entries, taken
 * greedily. Throws {@link DeviceLimitError} (see {@link checkEntries}) when one entry does not fit.
 */
export function splitEntries(ctx: GpuContext, what: string, batch: number, operands: readonly EntryOperand[]): EntryChunk[] {
  const whole = operands.every((o) => {
    const s = span(o, batch, 0, batch);
    return s === null || s[1] * 4 <= ctx.bindingLimit;
  });
  if (whole) return [{ first: 0, count: batch, operands: operands.map((o) => ({ binding: o.buffer, offset: 0 })) }];
  checkEntries(ctx, what, batch, operands);
  const chunks: EntryChunk[] = [];
  for (let e0 = 0; e0 < batch; ) {
    const count = largest(batch - e0, (c) => fits(ctx, batch, operands, e0, c));
    if (count === 0) throw new Error(`${what}: splitEntries found no chunk at entry ${e0} after checkEntries`);
    const bindings = operands.map((o): EntryBinding => {
      const s = span(o, batch, e0, count);
      if (s === null) return { binding: o.buffer, offset: 0 };
      const r = alignedRange(ctx, o.buffer, ...s)!;
      return { binding: r.range, offset: s[0] - r.base };
    });
    chunks.push({ first: e0, count, operands: bindings });
    e0 += count;
  }
  return chunks;
}
