/**
 * Storage of the CPU backend: float storage is a `Float32Array`, info storage an `Int32Array`.
 * @internal
 * @module
 */

/** A CPU storage handle. */
export type CpuStorage = Float32Array | Int32Array;

/** Narrows a storage handle to float storage (throws on an info storage). */
export function asFloat(s: CpuStorage): Float32Array {
  if (!(s instanceof Float32Array)) throw new TypeError('CPU backend: expected float storage (Float32Array)');
  return s;
}

/** Narrows a storage handle to info storage (throws on a float storage). */
export function asInfo(s: CpuStorage): Int32Array {
  if (!(s instanceof Int32Array)) throw new TypeError('CPU backend: expected info storage (Int32Array)');
  return s;
}
