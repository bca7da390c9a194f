/**
 * Helpers to lay out 1-D work over the 2-D dispatch grid when it exceeds the per-dimension limit.
 * @internal
 * @module
 */

/** Workgroup counts `[x, y]` covering `invocations` threads in groups of `groupSize`, x ≤ maxX. */
export function grid1d(invocations: number, groupSize: number, maxX = 65535): [number, number] {
  const groups = Math.ceil(invocations / groupSize);
  if (groups <= maxX) return [groups, 1];
  return [maxX, Math.ceil(groups / maxX)];
}

/** Calls `fn(first, count)` for consecutive chunks of at most `max` batch entries. */
export function forEachChunk(total: number, max: number, fn: (first: number, count: number) => void): void {
  for (let first = 0; first < total; first += max) fn(first, Math.min(max, total - first));
}
