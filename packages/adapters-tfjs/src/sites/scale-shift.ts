/**
 * `scale-shift`: `z = γ∘x̂ + β` over the last axis (the normalized values x̂ of BatchNormalization or
 * LayerNormalization, channels last). Sample i's gradient is `Σₜ δᵢₜ∘x̂ᵢₜ` for γ and `Σₜ δᵢₜ` for β (t over every
 * axis but the batch and the channels; summed over sites too): 2·C numbers per sample, so the factors are the
 * explicit per-sample gradients (fisher's `jacobian`) — exact at the cost of one SYRK of `[n, 2C]`. KFAC's
 * diagonal block (kfac-jax's scale-and-shift diagonal) takes their mean squares.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import type { SiteGroup, SiteRule } from './types.js';
import { meanSquares, perSample, positions } from './weights.js';

/** Per-sample gradients `[n, C]` of γ and β (null when absent), summed over the group's sites. */
function perSampleGrads(group: SiteGroup): { gamma: Tensor | null; beta: Tensor | null } {
  let gamma: Tensor | null = null;
  let beta: Tensor | null = null;
  for (const s of group.sites) {
    const d = positions(s.delta);
    if (group.params['gamma']) {
      const g = tf.sum(tf.mul(d, positions(s.inputs)), 1);
      gamma = gamma ? tf.add(gamma, g) : g;
    }
    if (group.params['beta']) {
      const b = tf.sum(d, 1);
      beta = beta ? tf.add(beta, b) : b;
    }
  }
  return { gamma, beta };
}

/** The scale-and-shift rule. */
export const scaleShiftRule: SiteRule = {
  kind: 'scale-shift',
  roles: ['gamma', 'beta'],
  kronecker: false,
  factors(group) {
    return tf.tidy(() => {
      const { gamma, beta } = perSampleGrads(group);
      const parts = [gamma, beta].filter((t): t is Tensor => t !== null);
      return { kind: 'jacobian', tensors: { jacobian: parts.length === 1 ? (parts[0] as Tensor) : tf.concat(parts, 1) } };
    }) as unknown as ReturnType<SiteRule['factors']>;
  },
  secondMoments(group) {
    const out = new Map<Variable, Tensor>();
    tf.tidy(() => {
      const { gamma, beta } = perSampleGrads(group);
      const g = group.params['gamma'];
      const b = group.params['beta'];
      if (g && gamma) out.set(g, tf.keep(meanSquares(gamma, g.shape)));
      if (b && beta) out.set(b, tf.keep(meanSquares(beta, b.shape)));
    });
    return out;
  },
  weightedGrads(group, w) {
    const out = new Map<Variable, Tensor>();
    tf.tidy(() => {
      const { gamma, beta } = perSampleGrads(group);
      const wc = perSample(w, 2);
      const g = group.params['gamma'];
      const b = group.params['beta'];
      if (g && gamma) out.set(g, tf.keep(tf.reshape(tf.sum(tf.mul(gamma, wc), 0), g.shape)));
      if (b && beta) out.set(b, tf.keep(tf.reshape(tf.sum(tf.mul(beta, wc), 0), b.shape)));
    });
    return out;
  },
};
