/**
 * Gram matrices (SYRK): `A·Aᵀ` computing only the lower triangle with the packed GEMM engine, then
 * mirroring it into the upper triangle.
 * @internal
 * @module
 */
import type { GemmEngine } from './gemm.js';

/**
 * Writes the symmetric n×n matrix `A·Aᵀ` (A n×d row-major at `aOffset`) to `out` at `outOffset`.
 * About half the flops of a general product; both triangles of the result are written.
 */
export function gramInto(
  engine: GemmEngine,
  n: number,
  d: number,
  a: Float32Array,
  aOffset: number,
  out: Float32Array,
  outOffset: number,
): void {
  engine.multiply(
    n,
    n,
    d,
    { data: a, offset: aOffset, rowStride: d, colStride: 1 },
    // op(B) = Aᵀ: element (p, j) is A(j, p).
    { data: a, offset: aOffset, rowStride: 1, colStride: d },
    { data: out, offset: outOffset, ld: n, alpha: 1, beta: 0, c: null, cOffset: 0, cld: n, lowerOnly: true },
  );
  mirrorLower(out, outOffset, n);
}

/** Copies the strictly lower triangle of the n×n row-major matrix at `offset` into its upper triangle. */
export function mirrorLower(m: Float32Array, offset: number, n: number): void {
  // Blocked to keep both the row being read and the column being written in cache.
  const B = 32;
  for (let i0 = 0; i0 < n; i0 += B) {
    const i1 = Math.min(n, i0 + B);
    for (let j0 = 0; j0 <= i0; j0 += B) {
      for (let i = i0; i < i1; i++) {
        const jEnd = Math.min(i, j0 + B);
        const row = offset + i * n;
        for (let j = j0; j < jEnd; j++) m[offset + j * n + i] = m[row + j]!;
      }
    }
  }
}
