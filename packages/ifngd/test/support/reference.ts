/**
 * Float64 dense references: the damped natural-gradient direction λ(F + λI)⁻¹g from explicit per-sample
 * gradients, globally or block-diagonally.
 */

/** Solves the SPD system M·x = b in float64 (Cholesky), M d×d row-major. */
export function solveSpd(M: Float64Array, b: Float64Array, d: number): Float64Array {
  const L = new Float64Array(d * d);
  for (let j = 0; j < d; j++) {
    let s = M[j * d + j] as number;
    for (let k = 0; k < j; k++) s -= (L[j * d + k] as number) ** 2;
    if (!(s > 0)) throw new Error('reference: not positive definite');
    const ljj = Math.sqrt(s);
    L[j * d + j] = ljj;
    for (let i = j + 1; i < d; i++) {
      let t = M[i * d + j] as number;
      for (let k = 0; k < j; k++) t -= (L[i * d + k] as number) * (L[j * d + k] as number);
      L[i * d + j] = t / ljj;
    }
  }
  const y = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let s = b[i] as number;
    for (let k = 0; k < i; k++) s -= (L[i * d + k] as number) * (y[k] as number);
    y[i] = s / (L[i * d + i] as number);
  }
  const x = new Float64Array(d);
  for (let i = d - 1; i >= 0; i--) {
    let s = y[i] as number;
    for (let k = i + 1; k < d; k++) s -= (L[k * d + i] as number) * (x[k] as number);
    x[i] = s / (L[i * d + i] as number);
  }
  return x;
}

/**
 * λ(F + λI)⁻¹g with F = JᵀJ/n, g = Jᵀ1/n for J `[n,d]`; with `blocks`, F is block-diagonal over the column
 * ranges (layer-wise FNGD).
 */
export function dampedNaturalGradient(J: Float64Array, n: number, d: number, damping: number, blocks: [number, number][] = [[0, d]]): Float64Array {
  const out = new Float64Array(d);
  for (const [a, b] of blocks) {
    const m = b - a;
    const F = new Float64Array(m * m);
    const g = new Float64Array(m);
    for (let i = 0; i < n; i++) {
      for (let p = 0; p < m; p++) {
        const jp = J[i * d + a + p] as number;
        g[p] = (g[p] as number) + jp / n;
        for (let q = 0; q < m; q++) F[p * m + q] = (F[p * m + q] as number) + (jp * (J[i * d + a + q] as number)) / n;
      }
    }
    for (let p = 0; p < m; p++) F[p * m + p] = (F[p * m + p] as number) + damping;
    const x = solveSpd(F, g, m);
    for (let p = 0; p < m; p++) out[a + p] = damping * (x[p] as number);
  }
  return out;
}

/** ‖a − b‖ / ‖b‖. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += ((a[i] as number) - (b[i] as number)) ** 2;
    den += (b[i] as number) ** 2;
  }
  return Math.sqrt(num / den);
}
