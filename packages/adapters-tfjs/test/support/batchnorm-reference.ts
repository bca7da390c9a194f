/**
 * Per-sample gradients of the BatchNorm MLP (`bnMlp`: Dense → BatchNorm → relu → Dense) under two definitions,
 * computed independently of the trainer's capture:
 * - **share** (the trainer's): sample i's share of the batch gradient — the gradient of the summed loss Σⱼℓⱼ
 *   w.r.t. a private copy θᵢ of the parameters that only sample i uses (evaluated at θᵢ = θ). Rows sum to the
 *   exact batch gradient.
 * - **exact**: ∇θ ℓᵢ, sample i's own loss differentiated through the batch statistics (n backward passes).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { PerSampleLoss } from '../../src/index.js';

const EPS = 1e-3;

/** The bnMlp's weights: h/kernel, h/bias, bn/gamma, bn/beta, o/kernel, o/bias (trainable order). */
function weightsOf(model: LayersModel): Tensor[] {
  return model.trainableWeights.map((w) => w.read());
}

/** Forward of bnMlp in training mode with per-sample parameter copies `[n, …]`; per-sample losses. */
function forwardCopies(ps: Tensor[], x: Tensor, y: Tensor, loss: PerSampleLoss): Tensor {
  const [w1, b1, gamma, beta, w2, b2] = ps as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
  const n = x.shape[0] as number;
  const z1 = tf.add(tf.reshape(tf.matMul(tf.reshape(x, [n, 1, -1]) as tf.Tensor3D, w1 as tf.Tensor3D), [n, -1]), b1);
  const m = tf.moments(z1, [0]);
  const xhat = tf.div(tf.sub(z1, m.mean), tf.sqrt(tf.add(m.variance, EPS)));
  const h = tf.relu(tf.add(tf.mul(xhat, gamma), beta));
  const out = tf.add(tf.reshape(tf.matMul(tf.reshape(h, [n, 1, -1]) as tf.Tensor3D, w2 as tf.Tensor3D), [n, -1]), b2);
  return loss(out, y);
}

/** Rows [n][d] (trainable order) of the share definition. */
export function shareJacobian(model: LayersModel, loss: PerSampleLoss, x: Tensor, y: Tensor): number[][] {
  const n = x.shape[0] as number;
  const flat = tf.tidy(() => {
    const copies = weightsOf(model).map((w) => tf.tile(tf.expandDims(w, 0), [n, ...w.shape.map(() => 1)]));
    const grads = tf.grads((...ps: Tensor[]) => tf.sum(forwardCopies(ps, x, y, loss)))(copies);
    return tf.concat(grads.map((g) => tf.reshape(g, [n, -1])), 1);
  });
  const d = flat.shape[1] as number;
  const data = flat.dataSync();
  flat.dispose();
  return Array.from({ length: n }, (_, i) => Array.from(data.subarray(i * d, (i + 1) * d)));
}

/** Rows [n][d] of the exact definition (n backward passes through the batch statistics). */
export function exactJacobian(model: LayersModel, loss: PerSampleLoss, x: Tensor, y: Tensor): number[][] {
  const n = x.shape[0] as number;
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) {
    const flat = tf.tidy(() => {
      const copies = weightsOf(model).map((w) => tf.tile(tf.expandDims(w, 0), [n, ...w.shape.map(() => 1)]));
      const grads = tf.grads((...ps: Tensor[]) => tf.sum(tf.slice(forwardCopies(ps, x, y, loss), [i], [1])))(copies);
      // the total derivative w.r.t. θ is the sum over every sample's copy
      return tf.concat(grads.map((g) => tf.reshape(tf.sum(g, 0), [-1])));
    });
    rows.push(Array.from(flat.dataSync()));
    flat.dispose();
  }
  return rows;
}
