/**
 * `elementwise`: `z = α∘m` with α broadcast over the batch and over some axes (PReLU's `α∘min(0, x)`, any
 * learned per-element scale). Sample i's gradient is `δᵢ∘mᵢ` summed over the axes α is shared on: as many
 * numbers as α has, so the factors are the explicit per-sample gradients (fisher's `jacobian`), exact; KFAC's
 * diagonal block takes their mean squares.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import type { SiteGroup, SiteRule } from './types.js';
import { meanSquares, perSample } from './weights.js';

/** Per-sample gradients `[n, |α|]`, summed over sites. */
function perSampleGrads(group: SiteGroup): Tensor {
  const alpha = group.params['scale'] as Variable;
  let out: Tensor | null = null;
  for (const s of group.sites) {
    const n = s.delta.shape[0] as number;
    const prod = tf.mul(s.delta, s.inputs);
    // α broadcasts from the trailing axes: the site's leading axes beyond α's rank, and the axes where α has
    // size 1 but the site does not, are shared
    const lead = s.delta.rank - 1 - alpha.rank;
    const shared = [
      ...Array.from({ length: Math.max(lead, 0) }, (_, i) => i + 1),
      ...alpha.shape.flatMap((d, i) => (d === 1 && (s.delta.shape[lead + i + 1] as number) !== 1 ? [lead + i + 1] : [])),
    ];
    const g = tf.reshape(shared.length > 0 ? tf.sum(prod, shared) : prod, [n, -1]);
    out = out ? tf.add(out, g) : g;
  }
  return out as unknown as Tensor;
}

/** The elementwise-scale rule. */
export const elementwiseRule: SiteRule = {
  kind: 'elementwise',
  roles: ['scale'],
  kronecker: false,
  factors: (group) => tf.tidy(() => ({ kind: 'jacobian', tensors: { jacobian: perSampleGrads(group) } })) as unknown as ReturnType<SiteRule['factors']>,
  secondMoments(group) {
    const a = group.params['scale'] as Variable;
    return new Map([[a, tf.tidy(() => meanSquares(perSampleGrads(group), a.shape))]]);
  },
  weightedGrads(group, w) {
    const a = group.params['scale'] as Variable;
    const out = new Map<Variable, Tensor>();
    tf.tidy(() => {
      out.set(a, tf.keep(tf.reshape(tf.sum(tf.mul(perSampleGrads(group), perSample(w, 2)), 0), a.shape)));
    });
    return out;
  },
};
