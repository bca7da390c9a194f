/**
 * Aligned sub-range bindings, the building block of every launch split over several bindings: a range starts
 * at its element span's start rounded down to `minStorageBufferOffsetAlignment`
 * ({@link GpuContext.bindingAlignment}) and covers whole 16-byte groups up to the span's end (never past the
 * buffer). Kernels then index it with their element offsets rebased by {@link AlignedRange.base}, so their
 * shader text does not change.
 * @internal
 * @module
 */
import type { BufferRange, GpuContext } from './context.js';

/** A range of a buffer to bind, and the element index of the buffer at which it starts. */
export interface AlignedRange {
  readonly range: BufferRange;
  /** Buffer element index of the range's first element: subtract it from buffer element indices. */
  readonly base: number;
}

/**
 * The aligned binding of elements `[start, end)` of `buffer`, or null when it exceeds the binding limit.
 * Whether it fits depends only on the span and the context (not on the buffer's size, which only trims the
 * bound size), so planners can decide it before any buffer exists.
 */
export function alignedRange(ctx: GpuContext, buffer: GPUBuffer, start: number, end: number): AlignedRange | null {
  const size = alignedBytes(ctx, start, end);
  if (size > ctx.bindingLimit) return null;
  const first = alignedStart(ctx, start);
  return { range: { buffer, offset: first, size: Math.min(size, buffer.size - first) }, base: first / 4 };
}

/** Bytes an aligned binding of elements `[start, end)` spans: from the aligned start, whole 16-byte groups. */
export function alignedBytes(ctx: GpuContext, start: number, end: number): number {
  return Math.ceil((end * 4 - alignedStart(ctx, start)) / 16) * 16;
}

/** The byte offset an aligned binding of a span starting at element `start` begins at. */
function alignedStart(ctx: GpuContext, start: number): number {
  return Math.floor((start * 4) / ctx.bindingAlignment) * ctx.bindingAlignment;
}

/** Largest `x` in `[1, hi]` with `ok(x)` (monotone: true up to some point), or 0. */
export function largest(hi: number, ok: (x: number) => boolean): number {
  if (hi < 1 || !ok(1)) return 0;
  let lo = 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (ok(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
