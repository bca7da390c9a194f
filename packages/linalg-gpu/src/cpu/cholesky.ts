/**
 * Blocked right-looking Cholesky factorization in float64 (LAPACK `potrf` semantics for `info`).
 * @internal
 * @module
 */
import type { GemmEngine } from './gemm.js';
import type { Scratch } from './scratch.js';

/** Columns per panel; trailing updates of the remaining lower triangle go through the GEMM engine. */
const NB = 64;

/**
 * Factors the n×n matrix `A + shift·I` (only the lower triangle of A, row-major at `aOffset`, is read)
 * into `L·Lᵀ` and writes L (strictly upper part 0) to `out` at `outOffset`.
 *
 * @returns 0 on success, else the 1-based index of the first pivot that was ≤ 0 or not finite; `out` is
 *   then filled with zeros.
 */
export function choleskyInto(
  engine: GemmEngine,
  work: Scratch,
  n: number,
  shift: number,
  a: Float32Array,
  aOffset: number,
  out: Float32Array,
  outOffset: number,
): number {
  const w = work.get(n * n);
  for (let i = 0; i < n; i++) {
    const src = aOffset + i * n;
    const dst = i * n;
    for (let j = 0; j < i; j++) w[dst + j] = a[src + j]!;
    w[dst + i] = a[src + i]! + shift;
  }
  const info = factorInPlace(engine, w, n);
  if (info !== 0) {
    out.fill(0, outOffset, outOffset + n * n);
    return info;
  }
  for (let i = 0; i < n; i++) {
    const src = i * n;
    const dst = outOffset + i * n;
    for (let j = 0; j <= i; j++) out[dst + j] = w[src + j]!;
    out.fill(0, dst + i + 1, dst + n);
  }
  return 0;
}

/** Factors the lower triangle of the row-major n×n float64 matrix `w` in place; returns the info code. */
function factorInPlace(engine: GemmEngine, w: Float64Array, n: number): number {
  for (let k0 = 0; k0 < n; k0 += NB) {
    const k1 = Math.min(n, k0 + NB);
    // Diagonal block (already updated by previous panels): left-looking within the block.
    for (let j = k0; j < k1; j++) {
      const rj = j * n;
      let d = w[rj + j]!;
      for (let p = k0; p < j; p++) {
        const v = w[rj + p]!;
        d -= v * v;
      }
      if (!(d > 0 && d < Infinity)) return j + 1;
      const ljj = Math.sqrt(d);
      w[rj + j] = ljj;
      for (let i = j + 1; i < k1; i++) {
        const ri = i * n;
        let s = w[ri + j]!;
        for (let p = k0; p < j; p++) s -= w[ri + p]! * w[rj + p]!;
        w[ri + j] = s / ljj;
      }
    }
    if (k1 === n) break;
    // Panel below the diagonal block: L21 = A21·L11⁻ᵀ, one row at a time (row stays in L1).
    for (let i = k1; i < n; i++) {
      const ri = i * n;
      for (let j = k0; j < k1; j++) {
        const rj = j * n;
        let s = w[ri + j]!;
        for (let p = k0; p < j; p++) s -= w[ri + p]! * w[rj + p]!;
        w[ri + j] = s / w[rj + j]!;
      }
    }
    // Trailing update of the lower triangle: A22 ← A22 − L21·L21ᵀ.
    const m = n - k1;
    const panel = k1 * n + k0;
    const diag = k1 * n + k1;
    engine.multiply(
      m,
      m,
      k1 - k0,
      { data: w, offset: panel, rowStride: n, colStride: 1 },
      { data: w, offset: panel, rowStride: 1, colStride: n },
      { data: w, offset: diag, ld: n, alpha: -1, beta: 1, c: w, cOffset: diag, cld: n, lowerOnly: true },
    );
  }
  return 0;
}
