/**
 * The optax-style core: a transformation is a pair of pure functions `init` / `update` over a typed state, and
 * optimizers are {@link chain}s of small transformations.
 * @module
 */
import type { HostTree } from './tree.js';

/** What the FNGD preconditioner hands the transforms for one step (see `scaleByFngd`). */
export interface FngdStepInfo {
  /** λ the coefficients were computed with: the direction is `λ·Jᵀα`. */
  readonly damping: number;
  /** Norm cap on the direction (the reuse guard); absent = no cap (fresh coefficients). */
  readonly maxNorm?: number;
}

/** What the KFAC preconditioner hands the transforms for one step (see `scaleByKfac`). */
export interface KfacStepInfo {
  /** `Σₗ ⟨Vₗ, ∇Wₗ⟩` over the preconditioned layers (bias included): V the preconditioned, ∇W the raw gradient. */
  readonly vg: number;
}

/** Per-step inputs beyond the gradients. All optional; each transform reads what it needs. */
export interface StepExtras {
  /** FNGD step information (λ, guard cap). */
  readonly fngd?: FngdStepInfo;
  /** KFAC step information (for KL clipping). */
  readonly kfac?: KfacStepInfo;
  /** Mean loss of this batch at the current parameters (before the step). */
  readonly loss?: number;
  /**
   * The learning rate of this step, evaluated once by the optimizer that drives the chain: `scaleByLearningRate`
   * uses it instead of evaluating its schedule at its own count.
   */
  readonly learningRate?: number;
}

/** Result of {@link GradientTransformation.update}. */
export interface UpdateResult<S, T> {
  readonly updates: T;
  readonly state: S;
}

/**
 * A gradient transformation: `init(params) → state`, `update(updates, state, params, extras) → {updates, state}`.
 * Both are pure: inputs are never modified. States are plain data (numbers, arrays, trees) so they can be
 * checkpointed.
 */
export interface GradientTransformation<S, T = HostTree> {
  init(params: T): S;
  update(updates: T, state: S, params: T, extras: StepExtras): UpdateResult<S, T>;
}

/** The state type of a transformation. */
export type StateOf<G> = G extends GradientTransformation<infer S, infer _T> ? S : never;

/** Applies transformations in order; the state is the tuple of their states. */
export function chain<T, const G extends readonly GradientTransformation<any, T>[]>(
  ...transforms: G
): GradientTransformation<{ -readonly [K in keyof G]: StateOf<G[K]> }, T> {
  type S = { -readonly [K in keyof G]: StateOf<G[K]> };
  return {
    init: (params) => transforms.map((t) => t.init(params)) as unknown as S,
    update(updates, state, params, extras) {
      const states = state as unknown as unknown[];
      const next: unknown[] = [];
      let u = updates;
      transforms.forEach((t, i) => {
        const r = t.update(u, states[i], params, extras);
        u = r.updates;
        next.push(r.state);
      });
      return { updates: u, state: next as unknown as S };
    },
  };
}

/** A transformation that leaves updates unchanged (empty state). */
export function identity<T>(): GradientTransformation<Record<string, never>, T> {
  return { init: () => ({}), update: (updates, state) => ({ updates, state }) };
}
