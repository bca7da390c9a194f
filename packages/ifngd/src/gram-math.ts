/**
 * Host arithmetic on a batch's Gram(s) (n×n, float64 accumulation). Because ⟨Jᵀa, Jᵀb⟩ = aᵀ(JJᵀ)b = aᵀGb,
 * norms and cosines of update *directions* follow from G and α alone — no extra backward pass.
 * @module
 */

/** Σₗ aₗᵀ Gₗ bₗ for layer-major `grams` (layers·n·n) and coefficient vectors (layers·n). */
export function gramInner(grams: Float32Array, n: number, a: Float32Array, b: Float32Array): number {
  const layers = a.length / n;
  let s = 0;
  for (let l = 0; l < layers; l++) {
    const g0 = l * n * n;
    const v0 = l * n;
    for (let i = 0; i < n; i++) {
      let row = 0;
      for (let j = 0; j < n; j++) row += (grams[g0 + i * n + j] as number) * (b[v0 + j] as number);
      s += (a[v0 + i] as number) * row;
    }
  }
  return s;
}

/** Quadratic-model terms of the direction d = λJᵀα: `gᵀJᵀα = Σₗ 1ᵀGₗαₗ / n` and `(Jᵀα)ᵀF(Jᵀα) = Σₗ ‖Gₗαₗ‖² / n`. */
export function modelTerms(grams: Float32Array, n: number, alpha: Float32Array): { linear: number; curvature: number } {
  const layers = alpha.length / n;
  let linear = 0;
  let curvature = 0;
  for (let l = 0; l < layers; l++) {
    for (let i = 0; i < n; i++) {
      let row = 0;
      for (let j = 0; j < n; j++) row += (grams[l * n * n + i * n + j] as number) * (alpha[l * n + j] as number);
      linear += row;
      curvature += row * row;
    }
  }
  return { linear: linear / n, curvature: curvature / n };
}

/** Plain cosine of two coefficient vectors (NaN when one is zero). */
export function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return ab / Math.sqrt(aa * bb);
}
