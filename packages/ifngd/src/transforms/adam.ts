/**
 * Adam's moment scaling (optax `scale_by_adam`, PyTorch's `Adam` update before the learning rate), on host trees.
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import type { GradientTransformation } from '../transform.js';
import type { HostTree } from '../tree.js';

/** State of {@link scaleByAdam}: the step count and the first and second moment estimates. */
export interface AdamState {
  readonly count: number;
  readonly mu: HostTree;
  readonly nu: HostTree;
}

/** Options of {@link scaleByAdam}. */
export interface AdamMoments {
  /** Decay of the first moment, in [0, 1). */
  readonly beta1: number;
  /** Decay of the second moment, in [0, 1). */
  readonly beta2: number;
  /** Added to √v̂, > 0. */
  readonly epsilon: number;
}

/** Throws `InvalidArgumentError` unless the moments' hyper-parameters are in range. */
export function checkAdamMoments(o: AdamMoments, where: string): void {
  for (const k of ['beta1', 'beta2'] as const) {
    const v = o[k];
    if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new InvalidArgumentError(`${where}: ${k} must be in [0, 1), got ${String(v)}`);
  }
  if (typeof o.epsilon !== 'number' || !(o.epsilon > 0) || !Number.isFinite(o.epsilon)) {
    throw new InvalidArgumentError(`${where}: epsilon must be finite and > 0, got ${String(o.epsilon)}`);
  }
}

/**
 * `m ← β₁m + (1−β₁)u`, `v ← β₂v + (1−β₂)u²`, `u ← m̂ / (√v̂ + ε)` with the bias corrections
 * `m̂ = m/(1−β₁ᵗ)`, `v̂ = v/(1−β₂ᵗ)` (t counts from 1). Each element is computed in float64 and the moments are
 * stored in float32, as PyTorch stores them for float32 parameters.
 */
export function scaleByAdam(o: AdamMoments, where = 'scaleByAdam'): GradientTransformation<AdamState, HostTree> {
  checkAdamMoments(o, where);
  const { beta1, beta2, epsilon } = o;
  const zeros = (t: HostTree): HostTree => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, new Float32Array(v.length)]));
  return {
    init: (params) => ({ count: 0, mu: zeros(params), nu: zeros(params) }),
    update(updates, state) {
      const t = state.count + 1;
      const c1 = 1 - beta1 ** t;
      const c2 = 1 - beta2 ** t;
      const mu: Record<string, Float32Array> = {};
      const nu: Record<string, Float32Array> = {};
      const out: Record<string, Float32Array> = {};
      for (const [k, g] of Object.entries(updates)) {
        const m0 = state.mu[k] as Float32Array;
        const v0 = state.nu[k] as Float32Array;
        const m = new Float32Array(g.length);
        const v = new Float32Array(g.length);
        const u = new Float32Array(g.length);
        for (let i = 0; i < g.length; i++) {
          const gi = g[i] as number;
          m[i] = beta1 * (m0[i] as number) + (1 - beta1) * gi;
          v[i] = beta2 * (v0[i] as number) + (1 - beta2) * gi * gi;
          u[i] = (m[i] as number) / c1 / (Math.sqrt((v[i] as number) / c2) + epsilon);
        }
        mu[k] = m;
        nu[k] = v;
        out[k] = u;
      }
      return { updates: out, state: { count: t, mu, nu } };
    },
  };
}
