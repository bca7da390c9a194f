/**
 * Blocked Cholesky factorization in float64 (LAPACK `potrf` semantics for `info`).
 *
 * Two-level blocking on a row-major float64 work matrix:
 * - outer panels of {@link outerBlock}(n) columns; the trailing update of the remaining lower triangle is
 *   one lower-only GEMM of depth = the outer block (deep enough for the packed engine to run near peak);
 * - inside a panel, inner blocks of {@link INNER} columns: the diagonal block is factored by a scalar
 *   kernel ({@link factorDiagonal}), the rows below it are solved with one GEMM against the explicit
 *   inverse of that (small, positive-diagonal) block, and the rest of the panel is updated with one GEMM;
 * - matrices of order ≤ {@link UNBLOCKED_MAX} skip the GEMM engine entirely.
 * @internal
 * @module
 */
import type { GemmEngine } from './gemm.js';
import type { Scratch } from './scratch.js';

/** Columns of an inner block (diagonal kernel, panel solve against its inverse). */
export const INNER = 32;
/** Orders up to this are factored by the scalar kernel alone (no packing, no GEMM calls). */
export const UNBLOCKED_MAX = 32;

/** Columns of an outer panel (depth of the trailing GEMM update), by matrix order. */
export function outerBlock(n: number): number {
  if (n <= 512) return 64;
  if (n <= 1536) return 128;
  return 192;
}

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
  // The n×n work matrix, then the inverse of one inner diagonal block and one solved panel (n×INNER).
  const w = work.get(n * n + INNER * INNER + n * INNER);
  for (let i = 0; i < n; i++) {
    const src = aOffset + i * n;
    const dst = i * n;
    for (let j = 0; j < i; j++) w[dst + j] = a[src + j]!;
    w[dst + i] = a[src + i]! + shift;
  }
  const info = n <= UNBLOCKED_MAX ? factorDiagonal(w, n, 0, n) : factorBlocked(engine, w, n);
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
function factorBlocked(engine: GemmEngine, w: Float64Array, n: number): number {
  const nb = outerBlock(n);
  for (let k0 = 0; k0 < n; k0 += nb) {
    const k1 = Math.min(n, k0 + nb);
    const info = factorPanel(engine, w, n, k0, k1);
    if (info !== 0) return info;
    if (k1 === n) break;
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

/**
 * Factors columns `[k0, k1)` (rows k0…n−1, already updated by every column before k0) in inner blocks of
 * {@link INNER}: diagonal block, solve of the rows below it, update of the panel's remaining columns.
 */
function factorPanel(engine: GemmEngine, w: Float64Array, n: number, k0: number, k1: number): number {
  const invAt = n * n;
  const panelAt = invAt + INNER * INNER;
  for (let j0 = k0; j0 < k1; j0 += INNER) {
    const j1 = Math.min(k1, j0 + INNER);
    const info = factorDiagonal(w, n, j0, j1);
    if (info !== 0) return info;
    if (j1 === n) break;
    const bw = j1 - j0;
    const m = n - j1;
    // Rows below the diagonal block: L21 = A21·L11⁻ᵀ as one GEMM with the explicit inverse of L11,
    // through a scratch panel and copied back.
    invertLower(w, j0 * n + j0, n, bw, invAt);
    engine.multiply(
      m,
      bw,
      bw,
      { data: w, offset: j1 * n + j0, rowStride: n, colStride: 1 },
      // op(B) = L11⁻ᵀ: element (p, j) is inv(j, p).
      { data: w, offset: invAt, rowStride: 1, colStride: bw },
      { data: w, offset: panelAt, ld: bw, alpha: 1, beta: 0, c: null, cOffset: 0, cld: bw, lowerOnly: false },
    );
    for (let i = 0; i < m; i++) {
      const src = panelAt + i * bw;
      const dst = (j1 + i) * n + j0;
      for (let j = 0; j < bw; j++) w[dst + j] = w[src + j]!;
    }
    if (j1 === k1) break;
    // Remaining columns of the panel: A[j1:n, j1:k1] ← A[j1:n, j1:k1] − L[j1:n, j0:j1]·L[j1:k1, j0:j1]ᵀ.
    // Its top square is the next diagonal block, of which only the lower triangle is needed.
    const c = k1 - j1;
    const at = j1 * n + j1;
    const src = j1 * n + j0;
    engine.multiply(
      c,
      c,
      bw,
      { data: w, offset: src, rowStride: n, colStride: 1 },
      { data: w, offset: src, rowStride: 1, colStride: n },
      { data: w, offset: at, ld: n, alpha: -1, beta: 1, c: w, cOffset: at, cld: n, lowerOnly: true },
    );
    if (m > c) {
      const below = (j1 + c) * n + j1;
      engine.multiply(
        m - c,
        c,
        bw,
        { data: w, offset: (j1 + c) * n + j0, rowStride: n, colStride: 1 },
        { data: w, offset: src, rowStride: 1, colStride: n },
        { data: w, offset: below, ld: n, alpha: -1, beta: 1, c: w, cOffset: below, cld: n, lowerOnly: false },
      );
    }
  }
  return 0;
}

/**
 * Factors the diagonal block `[j0, j1)` of `w` (row-major, leading dimension `ld`), already updated by
 * every column before j0, in place: row-oriented (dot-product) Cholesky, two rows per sweep so each
 * loaded element of the pivot row serves two multiply-adds. Returns the info code (global index).
 */
function factorDiagonal(w: Float64Array, ld: number, j0: number, j1: number): number {
  for (let j = j0; j < j1; j++) {
    const rj = j * ld;
    let d0 = 0;
    let d1 = 0;
    let p = j0;
    for (; p + 1 < j; p += 2) {
      const u = w[rj + p]!;
      const v = w[rj + p + 1]!;
      d0 += u * u;
      d1 += v * v;
    }
    if (p < j) {
      const u = w[rj + p]!;
      d0 += u * u;
    }
    const d = w[rj + j]! - (d0 + d1);
    if (!(d > 0 && d < Infinity)) return j + 1;
    const ljj = Math.sqrt(d);
    const inv = 1 / ljj;
    w[rj + j] = ljj;
    let i = j + 1;
    for (; i + 1 < j1; i += 2) {
      const ri = i * ld;
      const rk = ri + ld;
      let s0 = 0;
      let s1 = 0;
      let t0 = 0;
      let t1 = 0;
      let q = j0;
      for (; q + 1 < j; q += 2) {
        const u = w[rj + q]!;
        const v = w[rj + q + 1]!;
        s0 += w[ri + q]! * u;
        t0 += w[rk + q]! * u;
        s1 += w[ri + q + 1]! * v;
        t1 += w[rk + q + 1]! * v;
      }
      if (q < j) {
        const u = w[rj + q]!;
        s0 += w[ri + q]! * u;
        t0 += w[rk + q]! * u;
      }
      w[ri + j] = (w[ri + j]! - (s0 + s1)) * inv;
      w[rk + j] = (w[rk + j]! - (t0 + t1)) * inv;
    }
    if (i < j1) {
      const ri = i * ld;
      let s0 = 0;
      let s1 = 0;
      let q = j0;
      for (; q + 1 < j; q += 2) {
        s0 += w[ri + q]! * w[rj + q]!;
        s1 += w[ri + q + 1]! * w[rj + q + 1]!;
      }
      if (q < j) s0 += w[ri + q]! * w[rj + q]!;
      w[ri + j] = (w[ri + j]! - (s0 + s1)) * inv;
    }
  }
  return 0;
}

/**
 * Writes the inverse of the bw×bw lower-triangular block of `w` at `at` (leading dimension `ld`) to
 * `w[to…]` (row-major, leading dimension bw), zeros above the diagonal. Row-by-row substitution:
 * row i of the inverse is −(L[i, c:i]·X[c:i, :]) / L[i, i], accumulated as axpy over contiguous rows of X.
 */
function invertLower(w: Float64Array, at: number, ld: number, bw: number, to: number): void {
  w.fill(0, to, to + bw * bw);
  for (let i = 0; i < bw; i++) {
    const li = at + i * ld;
    const xi = to + i * bw;
    const r = 1 / w[li + i]!;
    // X[i, c] = −r·Σ_{p=c}^{i−1} L[i, p]·X[p, c] for c < i; rows p of X are zero beyond column p.
    for (let p = 0; p < i; p++) {
      const f = w[li + p]!;
      const xp = to + p * bw;
      for (let c = 0; c <= p; c++) w[xi + c] = w[xi + c]! + f * w[xp + c]!;
    }
    for (let c = 0; c < i; c++) w[xi + c] = -r * w[xi + c]!;
    w[xi + i] = r;
  }
}
