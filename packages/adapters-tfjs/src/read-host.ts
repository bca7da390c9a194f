/**
 * One awaited read of several tensors to the host.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';

/** Reads float32 tensors to the host with one awaited read (one concatenation). */
export async function readHost(tensors: readonly Tensor[]): Promise<Float32Array[]> {
  if (tensors.length === 0) return [];
  const flat = tf.tidy(() => tf.concat(tensors.map((t) => tf.reshape(tf.cast(t, 'float32'), [-1]))));
  try {
    const data = (await flat.data()) as Float32Array;
    let at = 0;
    return tensors.map((t) => data.slice(at, (at += t.size)));
  } finally {
    flat.dispose();
  }
}
