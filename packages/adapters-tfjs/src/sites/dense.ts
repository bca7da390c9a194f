/**
 * `dense`: `z = a·W (+ b)` over the last axis of `a` (any rank; the middle axes are positions sharing W).
 * Per-sample gradient `Σₜ aᵢₜδᵢₜᵀ` (+ `Σₜ δᵢₜ`). One site of rank 2: fisher's `dense` factors; several sites or
 * positions: `conv2d` factors with the sites' positions side by side (a shared weight is a convolution over its
 * sites). Kronecker factors for KFAC either way.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import type { RuleContext, SiteGroup, SiteRecord, SiteRule, TensorFactors } from './types.js';
import { perSample, positions } from './weights.js';

/** `[n, T, k]` rows of a site: its inputs by position (dense) — the conv rule overrides this. */
export type SiteRows = (site: SiteRecord, ctx: RuleContext) => Tensor;

/** The factors of a group whose sites each give `[n, Tₛ, k]` rows and Δ `[n, Tₛ, c]`. */
export function sharedFactors(group: SiteGroup, rows: SiteRows, ctx: RuleContext): TensorFactors {
  const bias = !!group.params['bias'];
  return tf.tidy(() => {
    const sites = group.sites;
    const only = sites.length === 1 ? sites[0] : undefined;
    if (only && only.delta.rank === 2 && only.inputs.rank === 2 && group.rule.kind === 'dense') {
      return { kind: 'dense', tensors: { inputs: tf.clone(only.inputs), outputGrads: tf.clone(only.delta) }, flags: { bias } };
    }
    const a = sites.map((s) => rows(s, ctx));
    const d = sites.map((s) => positions(s.delta));
    return {
      kind: 'conv2d',
      tensors: { patches: a.length === 1 ? (a[0] as Tensor) : tf.concat(a, 1), outputGrads: d.length === 1 ? (d[0] as Tensor) : tf.concat(d, 1) },
      flags: { bias },
    };
  }) as TensorFactors;
}

/** `Σᵢ wᵢ Σₜ aᵢₜδᵢₜᵀ` (and the bias) over every site of the group. */
export function sharedWeightedGrads(group: SiteGroup, w: Tensor, rows: SiteRows, ctx: RuleContext): Map<Variable, Tensor> {
  const kernel = group.params['kernel'] as Variable;
  const bias = group.params['bias'] ?? null;
  const out = new Map<Variable, Tensor>();
  tf.tidy(() => {
    let gk: Tensor | null = null;
    let gb: Tensor | null = null;
    for (const s of group.sites) {
      const dout = s.delta.shape[s.delta.rank - 1] as number;
      const d2 = tf.reshape(tf.mul(s.delta, perSample(w, s.delta.rank)), [-1, dout]) as tf.Tensor2D;
      const r = rows(s, ctx);
      const a2 = tf.reshape(r, [-1, r.shape[2] as number]) as tf.Tensor2D;
      const k = tf.matMul(a2, d2, true, false);
      gk = gk ? tf.add(gk, k) : k;
      if (bias) {
        const b = tf.sum(d2, 0);
        gb = gb ? tf.add(gb, b) : b;
      }
    }
    out.set(kernel, tf.keep(tf.reshape(gk as unknown as Tensor, kernel.shape)));
    if (bias) out.set(bias, tf.keep(gb as unknown as Tensor));
  });
  return out;
}

const denseRows: SiteRows = (s) => positions(s.inputs);

/** The dense rule. */
export const denseRule: SiteRule = {
  kind: 'dense',
  roles: ['kernel', 'bias'],
  kronecker: true,
  factors: (g, ctx) => sharedFactors(g, denseRows, ctx),
  weightedGrads: (g, w, ctx) => sharedWeightedGrads(g, w, denseRows, ctx),
};
