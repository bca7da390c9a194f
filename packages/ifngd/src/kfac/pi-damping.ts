/**
 * Tikhonov damping split between the Kronecker factors by the π-rule (Martens & Grosse 2015, §6.3).
 *
 * `(G ⊗ A + λI)⁻¹` is replaced by `(G + (√λ/π)·I)⁻¹ ⊗ (A + π√λ·I)⁻¹` with
 * `π = √((tr A / dim A) / (tr G / dim G))`, which minimises the norm of the cross terms `π√λ·(G ⊗ I)` and
 * `(√λ/π)·(I ⊗ A)` that the factored form adds to `G ⊗ A + λI`. π is scale-covariant: scaling A by c and G by
 * 1/c scales π by c and leaves the damped product unchanged. When either mean eigenvalue is 0 (an all-zero
 * layer) or the ratio is not finite, π = 1.
 * @module
 */

/** Trace of a row-major `[m, m]` matrix divided by m (the mean eigenvalue). */
function meanDiagonal(x: Float64Array, m: number): number {
  let s = 0;
  for (let i = 0; i < m; i++) s += x[i * m + i] as number;
  return s / m;
}

/** π for `A` (`[p, p]`) and `G` (`[q, q]`). */
export function piFactor(a: Float64Array, p: number, g: Float64Array, q: number): number {
  const ta = meanDiagonal(a, p);
  const tg = meanDiagonal(g, q);
  const pi = Math.sqrt(ta / tg);
  return ta > 0 && tg > 0 && Number.isFinite(pi) && pi > 0 ? pi : 1;
}

/** `x + shift·I` in float32 (the device's precision), from a float64 `[m, m]`. */
export function shifted(x: Float64Array, m: number, shift: number): Float32Array {
  const out = Float32Array.from(x);
  for (let i = 0; i < m; i++) out[i * m + i] = (x[i * m + i] as number) + shift;
  return out;
}

/** The damped factors `A + π√λ·I`, `G + (√λ/π)·I` (float32) and π. */
export function dampedFactors(
  a: Float64Array,
  p: number,
  g: Float64Array,
  q: number,
  damping: number,
): { a: Float32Array; g: Float32Array; pi: number } {
  const pi = piFactor(a, p, g, q);
  const r = Math.sqrt(damping);
  return { a: shifted(a, p, pi * r), g: shifted(g, q, r / pi), pi };
}
