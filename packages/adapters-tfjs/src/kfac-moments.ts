/**
 * KFAC's diagonal block in the tfjs trainer: the per-sample second moments `(1/n)·Σᵢ (∂ℓᵢ/∂θ)²` of every parameter
 * outside the Kronecker layers, from one capture. Each non-Kronecker site group asks its rule
 * (`SiteRule.secondMoments`; a rule without one: n calls of its weighted gradient with one-hot weights, exact since
 * that gradient is linear in the weights); variables at no site (layers without a block) take them from explicit
 * per-sample gradients (one backward pass per sample, as FNGD's generic route).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import type { Capture } from './capture.js';
import { AdapterArgumentError } from './errors.js';
import type { RuleContext, SiteGroup } from './sites/types.js';

/** `(1/n)·Σᵢ gᵢ²` from `Σᵢ wᵢ∇ℓᵢ` at w = e₁ … eₙ. */
function byOneHot(group: SiteGroup, ctx: RuleContext): Map<Variable, Tensor> {
  const acc = new Map<Variable, Tensor>();
  try {
    for (let i = 0; i < ctx.n; i++) {
      const w = tf.tidy(() => tf.reshape(tf.cast(tf.oneHot(tf.tensor1d([i], 'int32'), ctx.n), 'float32'), [ctx.n]));
      let grads: Map<Variable, Tensor>;
      try {
        grads = group.rule.weightedGrads(group, w, ctx);
      } finally {
        w.dispose();
      }
      for (const [v, g] of grads) {
        const prev = acc.get(v);
        acc.set(v, tf.tidy(() => (prev ? tf.add(prev, tf.div(tf.square(g), ctx.n)) : tf.div(tf.square(g), ctx.n))));
        prev?.dispose();
        g.dispose();
      }
    }
    return acc;
  } catch (e) {
    for (const t of acc.values()) t.dispose();
    throw e;
  }
}

/** One group's second moments (its rule's, or by one-hot weights). */
async function groupMoments(group: SiteGroup, ctx: RuleContext): Promise<Map<Variable, Tensor>> {
  return group.rule.secondMoments ? await group.rule.secondMoments(group, ctx) : byOneHot(group, ctx);
}

/**
 * The second moments of `groups` and of the capture's uncovered variables (`jacobian`: their per-sample gradients
 * `[n, d]`, called only when there are some), new tensors keyed by variable. Throws `AdapterArgumentError` when a
 * rule's moments do not match its variable's shape; nothing stays allocated then.
 */
export async function secondMoments(
  cap: Capture,
  groups: readonly SiteGroup[],
  ctx: RuleContext,
  jacobian: (vars: readonly Variable[]) => Promise<Float32Array>,
): Promise<Map<Variable, Tensor>> {
  const out = new Map<Variable, Tensor>();
  try {
    for (const g of groups) {
      for (const [v, m] of await groupMoments(g, ctx)) {
        out.set(v, m);
        if (m.size !== v.size) {
          throw new AdapterArgumentError(`kfac: site rule '${g.rule.kind}' gave second moments of ${m.size} values for '${v.name}' (${v.size})`);
        }
      }
    }
    if (cap.uncovered.length > 0) {
      const j = await jacobian(cap.uncovered);
      const n = cap.n;
      const d = j.length / n;
      let at = 0;
      for (const v of cap.uncovered) {
        const m = new Float64Array(v.size);
        for (let i = 0; i < n; i++) for (let k = 0; k < v.size; k++) m[k]! += (j[i * d + at + k] as number) ** 2 / n;
        out.set(v, tf.tensor(Float32Array.from(m), v.shape, 'float32'));
        at += v.size;
      }
    }
    return out;
  } catch (e) {
    for (const t of out.values()) t.dispose();
    throw e;
  }
}
