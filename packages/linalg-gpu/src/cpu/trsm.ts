/**
 * Triangular solves with a lower-triangular L: `L·X = B` (forward substitution) or `Lᵀ·X = B` (back
 * substitution reading L only), many right-hand sides, float64 accumulation. Large problems are blocked:
 * off-diagonal contributions go through the GEMM engine, diagonal blocks use row-oriented substitution.
 * @internal
 * @module
 */
import type { GemmEngine } from './gemm.js';
import type { Scratch } from './scratch.js';

/** Rows per diagonal block. */
const TB = 64;
/** Below this many right-hand sides the GEMM path does not pay off; substitution runs over the whole L. */
const MIN_BLOCKED_RHS = 8;

/**
 * Solves one system: L n×n row-major at `lOffset` (only its lower triangle is read), B n×nrhs at
 * `bOffset`; writes X (n×nrhs) to `out` at `outOffset`.
 */
export function triangularSolveInto(
  engine: GemmEngine,
  work: Scratch,
  n: number,
  nrhs: number,
  transpose: boolean,
  l: Float32Array,
  lOffset: number,
  b: Float32Array,
  bOffset: number,
  out: Float32Array,
  outOffset: number,
): void {
  const size = n * nrhs;
  const x = work.get(size);
  for (let i = 0; i < size; i++) x[i] = b[bOffset + i]!;
  const tb = nrhs < MIN_BLOCKED_RHS ? n : TB;
  if (!transpose) {
    for (let i0 = 0; i0 < n; i0 += tb) {
      const i1 = Math.min(n, i0 + tb);
      if (i0 > 0) {
        // X[i0:i1] −= L[i0:i1, 0:i0] · X[0:i0]
        engine.multiply(
          i1 - i0,
          nrhs,
          i0,
          { data: l, offset: lOffset + i0 * n, rowStride: n, colStride: 1 },
          { data: x, offset: 0, rowStride: nrhs, colStride: 1 },
          { data: x, offset: i0 * nrhs, ld: nrhs, alpha: -1, beta: 1, c: x, cOffset: i0 * nrhs, cld: nrhs, lowerOnly: false },
        );
      }
      forwardBlock(l, lOffset, n, x, nrhs, i0, i1);
    }
  } else {
    const last = Math.floor((n - 1) / tb) * tb;
    for (let i0 = last; i0 >= 0; i0 -= tb) {
      const i1 = Math.min(n, i0 + tb);
      if (i1 < n) {
        // X[i0:i1] −= L[i1:n, i0:i1]ᵀ · X[i1:n]
        engine.multiply(
          i1 - i0,
          nrhs,
          n - i1,
          { data: l, offset: lOffset + i1 * n + i0, rowStride: 1, colStride: n },
          { data: x, offset: i1 * nrhs, rowStride: nrhs, colStride: 1 },
          { data: x, offset: i0 * nrhs, ld: nrhs, alpha: -1, beta: 1, c: x, cOffset: i0 * nrhs, cld: nrhs, lowerOnly: false },
        );
      }
      backwardBlock(l, lOffset, n, x, nrhs, i0, i1);
    }
  }
  for (let i = 0; i < size; i++) out[outOffset + i] = x[i]!;
}

/** Forward substitution on rows [i0, i1) using only the diagonal block of L (row i of X ← (X_i − Σ L_ip X_p)/L_ii). */
function forwardBlock(l: Float32Array, lOff: number, n: number, x: Float64Array, nrhs: number, i0: number, i1: number): void {
  for (let i = i0; i < i1; i++) {
    const li = lOff + i * n;
    const xi = i * nrhs;
    for (let p = i0; p < i; p++) {
      const f = l[li + p]!;
      if (f === 0) continue;
      const xp = p * nrhs;
      for (let r = 0; r < nrhs; r++) x[xi + r]! -= f * x[xp + r]!;
    }
    const inv = l[li + i]!;
    for (let r = 0; r < nrhs; r++) x[xi + r] = x[xi + r]! / inv;
  }
}

/**
 * Back substitution with Lᵀ on rows [i0, i1) using only the diagonal block: once X_p is final, row p of L
 * (contiguous) is swept into the rows above it.
 */
function backwardBlock(l: Float32Array, lOff: number, n: number, x: Float64Array, nrhs: number, i0: number, i1: number): void {
  for (let p = i1 - 1; p >= i0; p--) {
    const lp = lOff + p * n;
    const xp = p * nrhs;
    const d = l[lp + p]!;
    for (let r = 0; r < nrhs; r++) x[xp + r] = x[xp + r]! / d;
    for (let i = i0; i < p; i++) {
      const f = l[lp + i]!;
      if (f === 0) continue;
      const xi = i * nrhs;
      for (let r = 0; r < nrhs; r++) x[xi + r]! -= f * x[xp + r]!;
    }
  }
}
