/**
 * Per-sample weights broadcast against a tensor.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';

/** `w` (`[n]`) shaped `[n, 1, …, 1]` to multiply a tensor of rank `rank` sample by sample. */
export function perSample(w: Tensor, rank: number): Tensor {
  return rank <= 1 ? w : tf.reshape(w, [w.shape[0] as number, ...new Array<number>(rank - 1).fill(1)]);
}

/** `(1/n)·Σᵢ rowᵢ²` of per-sample gradients `[n, …]`, shaped `shape` (KFAC's diagonal block). */
export function meanSquares(rows: Tensor, shape: readonly number[]): Tensor {
  return tf.reshape(tf.mean(tf.square(rows), 0), [...shape]);
}

/** `x` as `[n, T, last]` (T = product of the middle axes; 1 for rank 2). */
export function positions(x: Tensor): Tensor {
  const n = x.shape[0] as number;
  const last = x.shape[x.rank - 1] as number;
  return tf.reshape(x, [n, -1, last]);
}
