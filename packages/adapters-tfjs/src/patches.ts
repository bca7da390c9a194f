/**
 * Conv patches: unfolding a conv layer's input into `[n, T, kh·kw·cin]` rows with one convolution by an
 * identity filter (cached per kernel shape).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { Conv2dGeometry } from './model.js';

/** Identity filters `[kh,kw,cin,kh·kw·cin]` that unfold patches with a convolution (cached per shape). */
export class PatchFilters {
  readonly #cache = new Map<string, Tensor>();
  get(kh: number, kw: number, cin: number): tf.Tensor4D {
    const key = `${kh}x${kw}x${cin}`;
    let f = this.#cache.get(key);
    if (!f) {
      const k = kh * kw * cin;
      const data = new Float32Array(k * k);
      for (let m = 0; m < k; m++) data[m * k + m] = 1; // filter[i,j,c,(i·kw+j)·cin+c] = 1; flattened [k,k] identity
      f = tf.keep(tf.tensor4d(data, [kh, kw, cin, k]));
      this.#cache.set(key, f);
    }
    return f as tf.Tensor4D;
  }
  dispose(): void {
    for (const t of this.#cache.values()) t.dispose();
    this.#cache.clear();
  }
}

/** Unfolded patches `[n, T, kh·kw·cin]` of a conv layer input, in the kernel's flattening order. */
export function unfoldPatches(inputs: Tensor, kernelShape: readonly number[], g: Conv2dGeometry, filters: PatchFilters): Tensor {
  const [kh, kw, cin] = kernelShape as [number, number, number];
  return tf.tidy(() => {
    const p = tf.conv2d(inputs as tf.Tensor4D, filters.get(kh, kw, cin), [...g.strides], g.padding, 'NHWC', [...g.dilations]);
    const [n, oh, ow, k] = p.shape;
    return tf.reshape(p, [n, oh * ow, k]);
  });
}
