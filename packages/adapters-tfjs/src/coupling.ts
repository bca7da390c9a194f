/**
 * Whether a model's forward couples the samples of a batch (sample i's output depends on sample j's input:
 * batch statistics, attention across the batch…). Checked once, at a FunctionModel's first training step: the
 * outputs of sample 0 with the batch as given and with every other sample replaced by a copy of sample 0. A
 * forward that is not deterministic (dropout, noise) cannot be checked this way and is not (null).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import { identityTap, type FunctionModel } from './model.js';

/**
 * true: sample 0's output changed with the other samples; false: it did not; null: the forward is not
 * deterministic (cannot be checked); 'later': a batch of one sample (check again on the next batch).
 */
export async function forwardCouplesSamples(model: FunctionModel, x: Tensor): Promise<boolean | null | 'later'> {
  const n = x.shape[0] as number;
  if (n < 2) return 'later';
  const probe = tf.tidy(() => {
    const first = tf.slice(x, [0], [1]);
    const copies = tf.concat(new Array<Tensor>(n).fill(first));
    const out = (t: Tensor): Tensor => tf.reshape(tf.cast(model.forward(t, identityTap, true), 'float32'), [n, -1]);
    const a = out(x);
    const b = out(x); // the whole batch twice: a random forward shows up somewhere
    const c = out(copies);
    const a0 = tf.slice(a, [0, 0], [1, -1]);
    return tf.stack([tf.max(tf.abs(tf.sub(a, b))), tf.max(tf.abs(tf.sub(a0, tf.slice(c, [0, 0], [1, -1])))), tf.max(tf.abs(a0))]);
  });
  try {
    const [noise, change, scale] = Array.from((await probe.data()) as Float32Array) as [number, number, number];
    if (!(noise === 0)) return null;
    return change > 1e-6 * Math.max(scale, 1e-30);
  } finally {
    probe.dispose();
  }
}
