/**
 * Range copies between storages of one kind (the CPU side of `stack` / `take`).
 * @internal
 * @module
 */
import type { CopyRange } from '../backend.js';
import type { CpuStorage } from './storage.js';

/** Copies each range of `src` into `dst`; both must be float storages or both info storages. */
export function copyRanges(ranges: readonly CopyRange[], src: CpuStorage, dst: CpuStorage): void {
  if (src.constructor !== dst.constructor) {
    throw new TypeError('CPU backend: copy between a float storage and an info storage');
  }
  for (const r of ranges) {
    (dst as Float32Array).set((src as Float32Array).subarray(r.srcOffset, r.srcOffset + r.count), r.dstOffset);
  }
}
