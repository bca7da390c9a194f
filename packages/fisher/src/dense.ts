/**
 * The per-sample Gram of a dense (fully connected) layer from its factors, without forming J.
 * @module
 */
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import { ShapeMismatchError } from './errors.js';
import { scoped } from './scope.js';
import { flag, fmt, requireMatrix } from './validate.js';

/** Options of {@link denseGram} and {@link conv2dGram}. */
export interface GramOptions {
  /** The layer has a bias (its gradient is the output-gradient itself). Default `true`. */
  readonly bias?: boolean;
}

/**
 * Per-sample Gram of a dense layer `y = W·a (+ b)`: the gradient of sample i is `δᵢ·aᵢᵀ` (and `δᵢ` for the
 * bias), so `G = (A·Aᵀ + 1)∘(Δ·Δᵀ)`, or `(A·Aᵀ)∘(Δ·Δᵀ)` without bias.
 *
 * @param inputs `A`, `[n,din]` layer inputs (or `[L,n,din]`).
 * @param outputGrads `Δ`, `[n,dout]` gradients of the *summed* loss w.r.t. the pre-activations (same batch as A).
 * @returns `[n,n]` (or `[L,n,n]`). Cost: two SYRKs and one element-wise product.
 */
export function denseGram(dev: LinalgDevice, inputs: Matrix, outputGrads: Matrix, options: GramOptions = {}): Matrix {
  const what = 'denseGram';
  requireMatrix(inputs, 'inputs', what);
  requireMatrix(outputGrads, 'outputGrads', what);
  const bias = flag(options.bias, true, 'bias', what);
  if (inputs.rows !== outputGrads.rows || inputs.batch !== outputGrads.batch || inputs.shape.length !== outputGrads.shape.length) {
    throw new ShapeMismatchError(
      `${what}: inputs ${fmt(inputs)} and outputGrads ${fmt(outputGrads)} must have the same samples n (rows) and batch`,
    );
  }
  return scoped((s) => {
    const k = s.tmp(dev.gram(inputs));
    const d = s.tmp(dev.gram(outputGrads));
    return dev.mul(k, d, { shiftA: bias ? 1 : 0 });
  });
}
