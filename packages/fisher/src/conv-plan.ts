/**
 * Which of the two exact convolution-Gram algorithms to run, by a flop estimate and a memory check.
 *
 * With n samples, T output positions, k = patch length (c_in·kh·kw) and c output channels:
 * - `per-sample` materialises each sample's weight gradient `ΔᵢᵀAᵢ` (batched GEMM, `[n,c,k]`) and takes its
 *   Gram: ≈ `n·T·c·k + n²·c·k/2` multiply-adds, `n·c·k` floats.
 * - `double-sum` forms `(A·Aᵀ + 1)∘(Δ·Δᵀ)` over all `n·T` rows and sums its T×T blocks:
 *   ≈ `(nT)²·(k + c)/2 + (nT)²·(1 + 1/n)` multiply-adds, `3·(nT)²` floats at peak.
 *
 * Per sample pair that is `c·k·(1/2 + T/n)` against `T²·((k + c)/2 + 1)`: the double sum wins only for few
 * positions (`T² ≲ c·k/(k + c)`, e.g. 1×1 or 2×2 feature maps), the per-sample gradients everywhere else.
 * `auto` picks the cheaper one that fits the memory budget (`min(maxBindingElements, 2²⁴)` floats per matrix).
 * @module
 */

/** A convolution-Gram algorithm, or `auto` to choose by {@link conv2dGramMethod}. */
export type Conv2dGramMethod = 'auto' | 'per-sample' | 'double-sum';

/** Largest intermediate (floats) the double sum may allocate, whatever the device allows. */
const DOUBLE_SUM_BUDGET = 1 << 24;

/** Estimated multiply-adds of each algorithm (see the module comment). */
export function conv2dGramCost(n: number, t: number, k: number, c: number): { perSample: number; doubleSum: number } {
  const nt = n * t;
  return {
    perSample: n * t * c * k + (n * n * c * k) / 2 + n * t * c + n * n * c,
    doubleSum: (nt * nt * (k + c)) / 2 + nt * nt + n * t * nt + n * n * t,
  };
}

/**
 * The algorithm `auto` runs for `n` samples of `t` positions, patch length `k` and `c` output channels on a
 * device holding at most `maxElements` floats per matrix: the cheaper by {@link conv2dGramCost} among those
 * whose intermediates fit.
 */
export function conv2dGramMethod(n: number, t: number, k: number, c: number, maxElements = Infinity): 'per-sample' | 'double-sum' {
  const { perSample, doubleSum } = conv2dGramCost(n, t, k, c);
  const doubleFits = (n * t) ** 2 <= Math.min(maxElements, DOUBLE_SUM_BUDGET);
  const perSampleFits = n * c * k <= maxElements;
  if (doubleFits && (doubleSum < perSample || !perSampleFits)) return 'double-sum';
  return 'per-sample';
}
