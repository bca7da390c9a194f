/**
 * The Gauss–Newton matrix of a batch along a few vectors — what kfac-jax's adaptive mode builds its quadratic model
 * from (`exact_quad_model_matrix_type='ggn'`): `Cₐᵦ = (1/n)·Σᵢ wᵢ·(Jᵢuₐ)ᵀ·Hᵢ·(Jᵢuᵦ)`, with Jᵢ sample i's output
 * Jacobian, Hᵢ the loss's Hessian in the outputs and wᵢ the sample's weight. A trainer supplies the output
 * directional derivatives `Jᵢu` (by central differences of its forward pass: {@link differenceStep}); the loss
 * Hessians of the named losses are exact here, on the host in float64:
 * - softmax cross-entropy over logits z: `H = diag(p) − ppᵀ`, p = softmax(z), for targets that are distributions
 *   (a row summing to s scales H by s);
 * - sigmoid cross-entropy summed over the outputs: `H = diag(σ(z)·(1 − σ(z)))`;
 * - mean squared error over d outputs: `H = (2/d)·I`.
 * All three are positive semi-definite, so C is too.
 * @module
 */
import type { SampledLoss } from './sampling.js';

/**
 * The k×k matrix `C` (row-major) for outputs `z` (`[n, d]` row-major, logits for the cross-entropies) and the
 * outputs' directional derivatives `jvps[a]` (`[n, d]` each) along k vectors; `weights` (n values) scale each
 * sample (default 1).
 */
export function gaussNewtonProducts(
  loss: SampledLoss,
  z: ArrayLike<number>,
  jvps: readonly ArrayLike<number>[],
  n: number,
  weights: ArrayLike<number> | null = null,
): number[] {
  const k = jvps.length;
  const d = n > 0 ? z.length / n : 0;
  if (!Number.isInteger(d) || jvps.some((j) => j.length !== z.length)) {
    throw new RangeError(`gaussNewtonProducts: outputs of ${z.length} values and directional derivatives of ${jvps.map((j) => j.length).join(', ')} do not form [${n}, d] rows`);
  }
  const c = new Array<number>(k * k).fill(0);
  const h = new Float64Array(d); // Hᵢ's diagonal (softmax: diag(p); sigmoid: σ(1 − σ); mse: 2/d)
  const pj = new Float64Array(k); // softmax: pᵀ(Jᵢuₐ)
  for (let i = 0; i < n; i++) {
    const w = weights ? (weights[i] as number) : 1;
    if (w === 0) continue;
    const at = i * d;
    if (loss === 'softmax-cross-entropy') {
      let max = -Infinity;
      for (let j = 0; j < d; j++) max = Math.max(max, z[at + j] as number);
      let sum = 0;
      for (let j = 0; j < d; j++) sum += h[j] = Math.exp((z[at + j] as number) - max);
      for (let j = 0; j < d; j++) h[j] = (h[j] as number) / sum;
      for (let a = 0; a < k; a++) {
        let s = 0;
        const ja = jvps[a]!;
        for (let j = 0; j < d; j++) s += (h[j] as number) * (ja[at + j] as number);
        pj[a] = s;
      }
    } else if (loss === 'sigmoid-cross-entropy') {
      for (let j = 0; j < d; j++) {
        const s = 1 / (1 + Math.exp(-(z[at + j] as number)));
        h[j] = s * (1 - s);
      }
    } else h.fill(2 / d);
    for (let a = 0; a < k; a++) {
      const ja = jvps[a]!;
      for (let b = a; b < k; b++) {
        const jb = jvps[b]!;
        let s = 0;
        for (let j = 0; j < d; j++) s += (h[j] as number) * (ja[at + j] as number) * (jb[at + j] as number);
        if (loss === 'softmax-cross-entropy') s -= (pj[a] as number) * (pj[b] as number);
        c[a * k + b] = (c[a * k + b] as number) + w * s;
      }
    }
  }
  for (let a = 0; a < k; a++) {
    for (let b = a; b < k; b++) {
      const v = n > 0 ? (c[a * k + b] as number) / n : 0;
      c[a * k + b] = v;
      c[b * k + a] = v;
    }
  }
  return c;
}

/** The cube root of float32's machine epsilon: the central difference's balance of truncation and rounding. */
const CBRT_EPS32 = Math.cbrt(2 ** -23);

/**
 * The step t of the central difference `Ju ≈ (f(θ + t·u) − f(θ − t·u)) / 2t` in float32: `∛ε·(1 + ‖θ‖)/‖u‖`
 * (2-norms over every leaf), the usual scaling that keeps truncation and rounding errors of one order; 0 for u = 0.
 */
export function differenceStep(paramNorm: number, vectorNorm: number): number {
  return vectorNorm > 0 ? (CBRT_EPS32 * (1 + paramNorm)) / vectorNorm : 0;
}
