/**
 * `fit`'s `sampleWeight` and `classWeight`, as tfjs takes them: sample i's loss becomes `wᵢ·ℓᵢ` for the training
 * steps of that `fit` (validation and `evaluate` stay unweighted, as in tfjs). Every optimizer sees the weighted
 * per-sample losses — FNGD's Gram and α, KFAC's factors and a baseline's gradient — because the weight travels
 * with the targets: each batch's targets carry one more column, which the trainer's loss splits off while a
 * weighted `fit` runs. With `sampleIds: 'content'` the weights are part of a sample's identity, so new weights mean
 * new batch keys (fresh coefficients); with ids of your own, change of weights leaves the keys and their cached α.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor1D } from '@tensorflow/tfjs-core';
import { optionError } from './errors.js';
import type { LossName, PerSampleLoss } from './losses.js';

/**
 * The per-sample weights `[n]` (a new float32 tensor) of `sampleWeight` (`[n]`, finite, ≥ 0) times the
 * `classWeight` of each sample's class (`y` the targets as the loss takes them: the argmax of softmax targets
 * `[n, C]`, or binary sigmoid targets `[n, 1]` at 0.5; classes absent from `classWeight` weigh 1), or null when
 * neither is given. Checks with one awaited read; throws
 * `InvalidOptionError` naming the option.
 */
export async function sampleWeights(sampleWeight: unknown, classWeight: unknown, y: Tensor, lossName: LossName | null, n: number): Promise<Tensor | null> {
  if (sampleWeight === undefined && classWeight === undefined) return null;
  const parts: Tensor[] = [];
  try {
    if (sampleWeight !== undefined) {
      const ok = sampleWeight instanceof tf.Tensor && sampleWeight.rank === 1 && sampleWeight.shape[0] === n;
      if (!ok) throw optionError('sampleWeight', sampleWeight, `fit: must be a tensor [${n}] of weights ≥ 0`);
      parts.push(tf.cast(sampleWeight, 'float32'));
    }
    if (classWeight !== undefined) {
      const cw = classWeight as Record<string, unknown>;
      if (typeof classWeight !== 'object' || classWeight === null || Array.isArray(classWeight)) throw optionError('classWeight', classWeight, 'fit: must be an object { class index: weight }');
      // the class of each sample: softmax targets [n, C] (one-hot or probabilities: the argmax), binary sigmoid targets [n, 1]
      const softmax = lossName === 'softmax-cross-entropy' && y.rank === 2;
      const binary = lossName === 'sigmoid-cross-entropy' && y.rank === 2 && y.shape[1] === 1;
      if (!softmax && !binary) {
        throw optionError('classWeight', classWeight, "fit: needs one class per sample: 'softmax-cross-entropy' targets [n, C] or binary 'sigmoid-cross-entropy' targets [n, 1]");
      }
      const size = softmax ? (y.shape[1] as number) : 2;
      const table = new Float32Array(size).fill(1);
      for (const [k, w] of Object.entries(cw)) {
        const c = Number(k);
        if (!Number.isSafeInteger(c) || c < 0 || c >= size || typeof w !== 'number' || !Number.isFinite(w) || w < 0) {
          throw optionError(`classWeight.${k}`, w, `fit: class weights map class indices in [0, ${size}) to finite weights ≥ 0`);
        }
        table[c] = w;
      }
      parts.push(
        tf.tidy(() => {
          const idx = softmax ? tf.argMax(y, 1) : tf.cast(tf.greaterEqual(tf.reshape(y, [n]), 0.5), 'int32');
          return tf.gather(tf.tensor1d(table), tf.cast(idx, 'int32'));
        }),
      );
    }
    const w = tf.tidy(() => (parts.length === 1 ? tf.clone(parts[0] as Tensor) : tf.mul(parts[0] as Tensor, parts[1] as Tensor)));
    const probe = tf.tidy(() => tf.stack([tf.all(tf.isFinite(w)), tf.all(tf.greaterEqual(w, 0))]));
    let finite: number;
    let nonNegative: number;
    try {
      [finite, nonNegative] = Array.from((await probe.data()) as Uint8Array) as [number, number];
    } finally {
      probe.dispose();
    }
    if (!finite || !nonNegative) {
      w.dispose();
      throw optionError(sampleWeight !== undefined ? 'sampleWeight' : 'classWeight', sampleWeight ?? classWeight, 'fit: weights must be finite and ≥ 0');
    }
    return w;
  } finally {
    tf.dispose(parts);
  }
}

/** Targets `[n, …]` with each sample's weight appended as one more value: `[n, size + 1]` (a new tensor). */
export function weightedTargets(y: Tensor, w: Tensor): Tensor {
  const n = y.shape[0] as number;
  return tf.tidy(() => tf.concat([tf.reshape(tf.cast(y, 'float32'), [n, -1]), tf.reshape(w, [n, 1])], 1));
}

/** The weights `[n]` after `size` target values per sample in `y` (`[n, size + 1]`, {@link weightedTargets}). */
function weightColumn(y: Tensor, size: number): Tensor {
  const n = y.shape[0] as number;
  return tf.reshape(tf.slice(y, [0, size], [n, 1]), [n]);
}

/**
 * The trainer's per-sample loss, weighted while a weighted `fit` runs: its targets are then
 * {@link weightedTargets} of the loss's own targets (shape `shape` per sample); otherwise the loss as given.
 */
export class LossWeighting {
  #shape: readonly number[] | null = null;
  #dtype: 'float32' | 'int32' = 'float32';

  /** The loss the steps use. */
  wrap(base: PerSampleLoss): PerSampleLoss {
    return (out, y) => {
      const shape = this.#shape;
      if (!shape) return base(out, y);
      return tf.tidy(() => {
        const n = y.shape[0] as number;
        const size = shape.reduce((a, b) => a * b, 1);
        const flat = tf.reshape(tf.slice(y, [0, 0], [n, size]), [n, ...shape]);
        const t = this.#dtype === 'int32' ? tf.cast(flat, 'int32') : flat; // a custom loss's int32 targets, as given
        return tf.mul(base(out, t), weightColumn(y, size)) as Tensor1D;
      });
    };
  }

  /** The per-sample weights `[n]` the steps' targets `y` carry while a weighted `fit` runs (a new tensor); else null. */
  weightsOf(y: Tensor): Tensor | null {
    const shape = this.#shape;
    if (!shape) return null;
    return tf.tidy(() => weightColumn(y, shape.reduce((a, b) => a * b, 1)));
  }

  /** Runs `run` with the steps' targets carrying weights after per-sample targets of `shape` and `dtype`. */
  async during<T>(shape: readonly number[], dtype: string, run: () => Promise<T>): Promise<T> {
    this.#shape = shape;
    this.#dtype = dtype === 'int32' ? 'int32' : 'float32';
    try {
      return await run();
    } finally {
      this.#shape = null;
      this.#dtype = 'float32';
    }
  }
}
