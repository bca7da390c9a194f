/**
 * Per-sample losses ℓᵢ (the trainer minimises their mean; FNGD needs them one per sample).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor1D } from '@tensorflow/tfjs-core';
import { AdapterArgumentError } from './errors.js';

/** Built-in losses. Cross-entropies take logits (see `FngdTrainer`: a final softmax/sigmoid is folded in). */
export type LossName = 'softmax-cross-entropy' | 'sigmoid-cross-entropy' | 'mse';

/** A user per-sample loss: `(outputs [n,…], targets [n,…]) → ℓ [n]`. Must be differentiable with tfjs ops. */
export type PerSampleLoss = (outputs: Tensor, targets: Tensor) => Tensor1D;

function flat(t: Tensor): Tensor {
  const n = t.shape[0] ?? 1;
  return t.rank === 2 ? t : tf.reshape(t, [n, -1]);
}

/** ℓᵢ = −Σⱼ yᵢⱼ log softmax(zᵢ)ⱼ, from logits (targets one-hot or probabilities). */
export function softmaxCrossEntropy(logits: Tensor, targets: Tensor): Tensor1D {
  return tf.tidy(() => {
    const z = flat(logits);
    const y = flat(targets);
    const lse = tf.logSumExp(z, 1, true);
    return tf.sum(tf.mul(y, tf.sub(lse, z)), 1) as Tensor1D;
  });
}

/** ℓᵢ = Σⱼ BCE(sigmoid(zᵢⱼ), yᵢⱼ), from logits, summed over the outputs (the autoencoder convention). */
export function sigmoidCrossEntropy(logits: Tensor, targets: Tensor): Tensor1D {
  return tf.tidy(() => {
    const z = flat(logits);
    const y = flat(targets);
    // max(z,0) − z·y + log(1 + e^{−|z|})
    const v = tf.add(tf.sub(tf.relu(z), tf.mul(z, y)), tf.softplus(tf.neg(tf.abs(z))));
    return tf.sum(v, 1) as Tensor1D;
  });
}

/** ℓᵢ = mean over outputs of (zᵢⱼ − yᵢⱼ)² (Keras' convention). */
export function meanSquaredError(outputs: Tensor, targets: Tensor): Tensor1D {
  return tf.tidy(() => tf.mean(tf.squaredDifference(flat(outputs), flat(targets)), 1) as Tensor1D);
}

/**
 * A custom loss with its result checked: ℓ must be a tensor `[n]` for outputs `[n, …]` (a `[n, 1]` ℓ would
 * broadcast against the per-sample weights into a wrong gradient). Throws `AdapterArgumentError`.
 */
export function checkedLoss(loss: PerSampleLoss): PerSampleLoss {
  return (outputs, targets) => {
    const l = loss(outputs, targets);
    const n = outputs.shape[0];
    if (!(l instanceof tf.Tensor) || l.rank !== 1 || l.shape[0] !== n) {
      throw new AdapterArgumentError(`the custom loss must return per-sample losses [${n}], got ${l instanceof tf.Tensor ? `[${l.shape.join(',')}]` : typeof l}`);
    }
    return l;
  };
}

/** The per-sample loss function for a name (or the user's function, its result checked by {@link checkedLoss}). */
export function resolveLoss(loss: LossName | PerSampleLoss): PerSampleLoss {
  if (typeof loss === 'function') return checkedLoss(loss);
  switch (loss) {
    case 'softmax-cross-entropy':
      return softmaxCrossEntropy;
    case 'sigmoid-cross-entropy':
      return sigmoidCrossEntropy;
    case 'mse':
      return meanSquaredError;
    default:
      throw new AdapterArgumentError(`loss must be 'softmax-cross-entropy', 'sigmoid-cross-entropy', 'mse' or a function, got ${String(loss)}`);
  }
}
