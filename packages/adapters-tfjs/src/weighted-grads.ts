/**
 * Gradients from factors and losses: `Σᵢ wᵢ∇ℓᵢ` from a capture's site groups (each by its rule: dense
 * `∇W = Aᵀ(w∘Δ)`, `∇b = (w∘Δ)ᵀ1`, conv the same with unfolded patches, …), by differentiating the weighted loss, and the
 * per-sample `tf.grad` loop for variables no tap covers (slow: n extra forward/backward passes; documented).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import type { PerSampleLoss } from './losses.js';
import { identityTap, type FunctionModel } from './model.js';
import type { PatchFilters } from './patches.js';
import type { SiteGroup } from './sites/types.js';
import { releaseTapeOnThrow } from './tape.js';

/** `Σᵢ wᵢ∇ℓᵢ` for the parameters of one site group, by its rule (new tensors keyed by variable). */
export function weightedGroupGrads(g: SiteGroup, w: Float32Array, filters: PatchFilters, n = w.length): Map<Variable, Tensor> {
  const wt = tf.tensor1d(w);
  try {
    return g.rule.weightedGrads(g, wt, { filters, n });
  } finally {
    wt.dispose();
  }
}

/**
 * `Σᵢ wᵢ∇ℓᵢ` for `vars` by differentiating the weighted loss (one extra forward/backward); Σℓᵢ is read with an
 * awaited `data()`, so it works on backends without synchronous reads (tfjs-webgpu in Node).
 */
export async function weightedLossGradsAsync(
  model: FunctionModel,
  loss: PerSampleLoss,
  x: Tensor,
  y: Tensor,
  w: Float32Array,
  vars: readonly Variable[],
): Promise<{ grads: Map<Variable, Tensor>; lossSum: number }> {
  const { grads, lossSum } = weightedLossGradTensors(model, loss, x, y, w, vars);
  try {
    return { grads, lossSum: (await lossSum.data())[0] as number };
  } catch (e) {
    for (const g of grads.values()) g.dispose();
    throw e;
  } finally {
    lossSum.dispose();
  }
}

/**
 * `Σᵢ wᵢ∇ℓᵢ` for `vars` and Σℓᵢ as a 0-d tensor (not read: the caller reads it with whatever else the step
 * needs, and disposes it and the gradients).
 */
export function weightedLossGradTensors(
  model: FunctionModel,
  loss: PerSampleLoss,
  x: Tensor,
  y: Tensor,
  w: Float32Array,
  vars: readonly Variable[],
): { grads: Map<Variable, Tensor>; lossSum: Tensor } {
  const wt = tf.tensor1d(w);
  let lossSumT: Tensor | null = null;
  try {
    const { value, grads } = releaseTapeOnThrow(() =>
      tf.variableGrads(() => {
        const l = loss(model.forward(x, identityTap, true), y);
        lossSumT = tf.keep(tf.sum(l));
        return tf.sum(tf.mul(l, wt)) as tf.Scalar;
      }, [...vars]),
    );
    value.dispose();
    const m = new Map<Variable, Tensor>();
    for (const v of vars) {
      const g = grads[v.name];
      m.set(v, g ?? tf.zerosLike(v));
    }
    const lossSum = (lossSumT as Tensor | null) ?? tf.scalar(NaN);
    lossSumT = null;
    return { grads: m, lossSum };
  } finally {
    wt.dispose();
    (lossSumT as Tensor | null)?.dispose();
  }
}

/** Sample i's gradient of `vars`, flattened and concatenated (a new tensor). */
function sampleRow(model: FunctionModel, loss: PerSampleLoss, x: Tensor, y: Tensor, vars: readonly Variable[], i: number): Tensor {
  return tf.tidy(() => {
    const xi = tf.slice(x, [i], [1]);
    const yi = tf.slice(y, [i], [1]);
    const { value, grads } = releaseTapeOnThrow(() => tf.variableGrads(() => tf.sum(loss(model.forward(xi, identityTap, true), yi)) as tf.Scalar, [...vars]));
    value.dispose();
    return tf.concat(vars.map((v) => tf.reshape(grads[v.name] ?? tf.zerosLike(v), [-1])));
  });
}

/** Per-sample gradients `[n, d]` of `vars` by a `tf.grad` loop (the generic fallback: slow). */
export function perSampleJacobian(model: FunctionModel, loss: PerSampleLoss, x: Tensor, y: Tensor, vars: readonly Variable[]): Float32Array {
  const n = x.shape[0] as number;
  const d = vars.reduce((s, v) => s + v.size, 0);
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const row = sampleRow(model, loss, x, y, vars, i);
    out.set(row.dataSync(), i * d);
    row.dispose();
  }
  return out;
}

/** {@link perSampleJacobian} with awaited reads (backends without synchronous reads). */
export async function perSampleJacobianAsync(model: FunctionModel, loss: PerSampleLoss, x: Tensor, y: Tensor, vars: readonly Variable[]): Promise<Float32Array> {
  const n = x.shape[0] as number;
  const d = vars.reduce((s, v) => s + v.size, 0);
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const row = sampleRow(model, loss, x, y, vars, i);
    try {
      out.set((await row.data()) as Float32Array, i * d);
    } finally {
      row.dispose();
    }
  }
  return out;
}

/**
 * Per-sample gradients `[n, d]` of `vars` as total derivatives of each ℓᵢ on the whole batch (n backward passes
 * of the full forward): the exact definition when the forward couples samples.
 */
export async function wholeBatchJacobian(model: FunctionModel, loss: PerSampleLoss, x: Tensor, y: Tensor, vars: readonly Variable[]): Promise<Float32Array> {
  const n = x.shape[0] as number;
  const d = vars.reduce((s, v) => s + v.size, 0);
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const row = tf.tidy(() => {
      const { value, grads } = releaseTapeOnThrow(() =>
        tf.variableGrads(() => tf.sum(tf.slice(loss(model.forward(x, identityTap, true), y), [i], [1])) as tf.Scalar, [...vars]),
      );
      value.dispose();
      return tf.concat(vars.map((v) => tf.reshape(grads[v.name] ?? tf.zerosLike(v), [-1])));
    });
    try {
      out.set((await row.data()) as Float32Array, i * d);
    } finally {
      row.dispose();
    }
  }
  return out;
}
