/**
 * `depthwise`: `z[·,·,·,c·m+k] = Σᵢⱼ x[·, ·+i, ·+j, c]·K[i,j,c,k] (+ b)` (NHWC, kernel `[kh, kw, cin, mult]`).
 * Sample i's kernel gradient `Σₜ Pᵢₜ[ij, c]·Δᵢₜ[c, k]` (P the unfolded patches) is one batched GEMM over
 * (sample, channel) pairs — kh·kw·cin·mult numbers per sample, so the factors are the explicit per-sample
 * gradients (fisher's `jacobian`), exact; KFAC's diagonal block takes their mean squares.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import type { Conv2dGeometry } from '../model.js';
import { unfoldPatches } from '../patches.js';
import type { RuleContext, SiteGroup, SiteRule } from './types.js';
import { meanSquares, perSample } from './weights.js';

/** Per-sample gradients `[n, |K|]` of the kernel and `[n, cin·mult]` of the bias, summed over sites. */
function perSampleGrads(group: SiteGroup, ctx: RuleContext): { kernel: Tensor; bias: Tensor | null } {
  const k = group.params['kernel'] as Variable;
  const [kh, kw, cin, mult] = k.shape as [number, number, number, number];
  let kernel: Tensor | null = null;
  let bias: Tensor | null = null;
  for (const s of group.sites) {
    const p = unfoldPatches(s.inputs, [kh, kw, cin], s.meta as Conv2dGeometry, ctx.filters); // [n, T, kh·kw·cin]
    const [n, t] = p.shape as [number, number, number];
    const pc = tf.reshape(tf.transpose(tf.reshape(p, [n, t, kh * kw, cin]), [0, 3, 2, 1]), [n * cin, kh * kw, t]);
    const d = tf.reshape(tf.transpose(tf.reshape(s.delta, [n, t, cin, mult]), [0, 2, 1, 3]), [n * cin, t, mult]);
    const g = tf.matMul(pc as tf.Tensor3D, d as tf.Tensor3D); // [n·cin, kh·kw, mult]
    const flat = tf.reshape(tf.transpose(tf.reshape(g, [n, cin, kh * kw, mult]), [0, 2, 1, 3]), [n, -1]);
    kernel = kernel ? tf.add(kernel, flat) : flat;
    if (group.params['bias']) {
      const b = tf.sum(tf.reshape(s.delta, [n, t, cin * mult]), 1);
      bias = bias ? tf.add(bias, b) : b;
    }
  }
  return { kernel: kernel as unknown as Tensor, bias };
}

/** The depthwise rule. */
export const depthwiseRule: SiteRule = {
  kind: 'depthwise',
  roles: ['kernel', 'bias'],
  kronecker: false,
  factors(group, ctx) {
    return tf.tidy(() => {
      const { kernel, bias } = perSampleGrads(group, ctx);
      return { kind: 'jacobian', tensors: { jacobian: bias ? tf.concat([kernel, bias], 1) : kernel } };
    }) as unknown as ReturnType<SiteRule['factors']>;
  },
  secondMoments(group, ctx) {
    const out = new Map<Variable, Tensor>();
    tf.tidy(() => {
      const { kernel, bias } = perSampleGrads(group, ctx);
      const k = group.params['kernel'] as Variable;
      out.set(k, tf.keep(meanSquares(kernel, k.shape)));
      const b = group.params['bias'];
      if (b && bias) out.set(b, tf.keep(meanSquares(bias, b.shape)));
    });
    return out;
  },
  weightedGrads(group, w, ctx) {
    const out = new Map<Variable, Tensor>();
    tf.tidy(() => {
      const { kernel, bias } = perSampleGrads(group, ctx);
      const k = group.params['kernel'] as Variable;
      out.set(k, tf.keep(tf.reshape(tf.sum(tf.mul(kernel, perSample(w, 2)), 0), k.shape)));
      const b = group.params['bias'];
      if (b && bias) out.set(b, tf.keep(tf.sum(tf.mul(bias, perSample(w, 2)), 0)));
    });
    return out;
  },
};
