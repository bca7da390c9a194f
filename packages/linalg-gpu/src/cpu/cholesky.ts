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
  // The n×n work matrix, then the inverse of one diagonal block (NB×NB) and one solved panel (n×NB).
  const w = work.get(n * n + NB * NB + n * NB);
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
    // Panel below the diagonal block: L21 = A21·L11⁻ᵀ as one GEMM with the explicit inverse of the
    // (well-conditioned, positive-diagonal) L11, through a scratch panel and copied back.
    const bw = k1 - k0;
    const m = n - k1;
    const invAt = n * n;
    const panelAt = invAt + NB * NB;
    invertLower(w, k0 * n + k0, n, bw, invAt);
    engine.multiply(
      m,
      bw,
      bw,
      { data: w, offset: k1 * n + k0, rowStride: n, colStride: 1 },
      // op(B) = L11⁻ᵀ: element (p, j) is inv(j, p).
      { data: w, offset: invAt, rowStride: 1, colStride: bw },
      { data: w, offset: panelAt, ld: bw, alpha: 1, beta: 0, c: null, cOffset: 0, cld: bw, lowerOnly: false },
    );
    for (let i = 0; i < m; i++) {
      const src = panelAt + i * bw;
      const dst = (k1 + i) * n + k0;
      for (let j = 0; j < bw; j++) w[dst + j] = w[src + j]!;
    }
    // Trailing update of the lower triangle: A22 ← A22 − L21·L21ᵀ.
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

/**
 * Writes the inverse of the bw×bw lower-triangular block of `w` at `at` (leading dimension `ld`) to
 * `w[to…]` (row-major, leading dimension bw), zeros above the diagonal. Column-by-column substitution.
 */
function invertLower(w: Float64Array, at: number, ld: number, bw: number, to: number): void {
  w.fill(0, to, to + bw * bw);
  for (let c = 0; c < bw; c++) {
    w[to + c * bw + c] = 1 / w[at + c * ld + c]!;
    for (let i = c + 1; i < bw; i++) {
      const li = at + i * ld;
      let s = 0;
      for (let p = c; p < i; p++) s += w[li + p]! * w[to + p * bw + c]!;
      w[to + i * bw + c] = -s / w[li + i]!;
    }
  }
}
