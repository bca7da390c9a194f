/**
 * The factors' running averages (exponential moving averages, float64).
 *
 * **First-step initialisation** (as gpauloski/kfac-pytorch), not bias correction: the first update *sets*
 * the average to the batch factor, `M₁ = M̂₁`; later updates `Mₖ = β·Mₖ₋₁ + (1 − β)·M̂ₖ`. So every average is
 * a convex combination of batch factors (weights `β^(k−1)` for the first, `(1 − β)·β^(k−j)` for batch j > 1,
 * summing to 1) and needs no correction; an identity prior (alecwangcq/KFAC-Pytorch) would bias early
 * steps towards plain gradient descent instead.
 * @module
 */

/** `β·prev + (1 − β)·batch`, or a copy of `batch` when there is no average yet. Pure. */
export function runningAverage(prev: Float64Array | null, batch: Float64Array, decay: number): Float64Array {
  if (prev === null) return batch.slice();
  if (prev.length !== batch.length) throw new TypeError('unreachable: running average of another size');
  const out = new Float64Array(batch.length);
  for (let i = 0; i < out.length; i++) out[i] = decay * (prev[i] as number) + (1 - decay) * (batch[i] as number);
  return out;
}
