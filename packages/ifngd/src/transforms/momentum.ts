/**
 * Heavy-ball and Nesterov momentum (optax `trace`).
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import type { GradientTransformation } from '../transform.js';
import { hostTreeOps, type HostTree, type TreeOps } from '../tree.js';

/** State of {@link momentum}: the velocity buffer. */
export interface MomentumState<T = HostTree> {
  readonly velocity: T;
}

/** Options of {@link momentum}. */
export interface MomentumOptions {
  /** Decay β ∈ [0, 1). */
  readonly decay: number;
  /** Nesterov: the update is `u + β·v` instead of `v`. Default false. */
  readonly nesterov?: boolean;
}

/** `v ← u + β·v`; update `v` (heavy ball) or `u + β·v` (Nesterov). */
export function momentum<T = HostTree>(
  options: MomentumOptions,
  ops: TreeOps<T, unknown> = hostTreeOps as unknown as TreeOps<T, unknown>,
): GradientTransformation<MomentumState<T>, T> {
  const { decay } = options;
  if (!Number.isFinite(decay) || decay < 0 || decay >= 1) {
    throw new InvalidArgumentError(`momentum: decay must be in [0, 1), got ${String(decay)}`);
  }
  const nesterov = options.nesterov ?? false;
  return {
    init: (params) => ({ velocity: ops.zerosLike(params) }),
    update(updates, state) {
      const velocity = ops.axpy(decay, state.velocity, updates);
      return { updates: nesterov ? ops.axpy(decay, velocity, updates) : velocity, state: { velocity } };
    },
  };
}
