/**
 * Evaluation and prediction in inference mode: mean per-sample loss, top-1 accuracy (softmax cross-entropy).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { LossName } from './losses.js';
import { identityTap, type FoldActivation } from './model.js';
import type { StepContext } from './step-context.js';
import type { Evaluation } from './trainer-types.js';

/** Per-batch `[Σℓ, #correct]` rows `[B, 2]` (summed on the host in float64 by {@link evalResult}). */
export function evalSums(c: Pick<StepContext, 'model' | 'loss'>, lossName: LossName | null, xs: Tensor, ys: Tensor, bs: number): Tensor {
  const N = xs.shape[0] as number;
  const acc = lossName === 'softmax-cross-entropy';
  const rows: Tensor[] = [];
  try {
    for (let s = 0; s < N; s += bs) {
      const m = Math.min(bs, N - s);
      rows.push(
        tf.tidy(() => {
          const x = tf.slice(xs, [s], [m]);
          const y = tf.slice(ys, [s], [m]);
          const out = c.model.forward(x, identityTap, false);
          const ls = tf.sum(c.loss(out, y));
          const cs = acc ? tf.sum(tf.cast(tf.equal(tf.argMax(tf.reshape(out, [m, -1]), 1), tf.argMax(tf.reshape(y, [m, -1]), 1)), 'float32')) : tf.scalar(0);
          return tf.stack([ls, cs]);
        }),
      );
    }
    return rows.length === 0 ? tf.zeros([0, 2]) : tf.stack(rows);
  } finally {
    for (const r of rows) r.dispose();
  }
}

/** The {@link Evaluation} of {@link evalSums}' rows over `N` samples. */
export function evalResult(v: Float32Array, N: number, lossName: LossName | null): Evaluation {
  let loss = 0;
  let correct = 0;
  for (let i = 0; i + 1 < v.length; i += 2) {
    loss += v[i] as number;
    correct += v[i + 1] as number;
  }
  return { loss: loss / N, ...(lossName === 'softmax-cross-entropy' ? { accuracy: correct / N } : {}) };
}

/** An output with its folded softmax/sigmoid applied again (a new tensor, or `out` itself when none). */
export function refold(out: Tensor, folded: FoldActivation): Tensor {
  return tf.tidy(() => {
    if (folded === 'softmax') return tf.reshape(tf.softmax(tf.reshape(out, [out.shape[0] as number, -1])), out.shape);
    if (folded === 'sigmoid') return tf.sigmoid(out);
    return out;
  });
}

/** The model's outputs with a folded softmax/sigmoid applied again. */
export function predict(c: Pick<StepContext, 'model'>, folded: FoldActivation, x: Tensor): Tensor {
  return tf.tidy(() => refold(c.model.forward(x, identityTap, false), folded));
}

/** Evaluates with a synchronous read (not on webgpu in Node). */
export function evaluateSync(c: Pick<StepContext, 'model' | 'loss'>, lossName: LossName | null, xs: Tensor, ys: Tensor, bs = 1000): Evaluation {
  const t = evalSums(c, lossName, xs, ys, bs);
  try {
    return evalResult(t.dataSync() as Float32Array, xs.shape[0] as number, lossName);
  } finally {
    t.dispose();
  }
}

/** Evaluates with an awaited read (every backend). */
export async function evaluateAsync(c: Pick<StepContext, 'model' | 'loss'>, lossName: LossName | null, xs: Tensor, ys: Tensor, bs = 1000): Promise<Evaluation> {
  const t = evalSums(c, lossName, xs, ys, bs);
  try {
    return evalResult((await t.data()) as Float32Array, xs.shape[0] as number, lossName);
  } finally {
    t.dispose();
  }
}
