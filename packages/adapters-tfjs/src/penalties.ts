/**
 * The gradients of a model's penalties (its layers' weight regularizers, {@link Penalty}), and their place in each
 * optimizer's step: added to the step direction without preconditioning — FNGD's direction is `λ·Jᵀα`, so the
 * α-weighted gradient of a penalized variable gets `∇R/λ`; KFAC adds them after its preconditioner
 * (`extras.penaltyGrads`); a tfjs-optimizer baseline adds them to the gradient, as tfjs's `fit` does.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import type { Penalty } from './model.js';

/** `∇R(w)` of every penalty, summed per variable (new tensors; none when the model has no penalties). */
export function penaltyGrads(penalties: readonly Penalty[] | undefined): Map<Variable, Tensor> {
  const out = new Map<Variable, Tensor>();
  try {
    for (const p of penalties ?? []) {
      const g = tf.tidy(() => tf.grad((w: Tensor) => p.penalty(w))(p.variable));
      const prev = out.get(p.variable);
      if (prev) {
        out.set(p.variable, tf.add(prev, g));
        tf.dispose([prev, g]);
      } else out.set(p.variable, g);
    }
    return out;
  } catch (e) {
    for (const t of out.values()) t.dispose();
    throw e;
  }
}

/** Replaces each penalized variable's gradient `g` in `grads` by `g + k·∇R` (the old tensors released). */
export function addPenaltyGrads(grads: Map<Variable, Tensor>, penalties: readonly Penalty[] | undefined, k: number): void {
  if (!penalties || penalties.length === 0) return;
  const pg = penaltyGrads(penalties);
  try {
    for (const [v, p] of pg) {
      const g = grads.get(v);
      if (!g) continue;
      grads.set(v, tf.tidy(() => tf.add(g, tf.mul(p, k))));
      g.dispose();
    }
  } finally {
    for (const t of pg.values()) t.dispose();
  }
}
