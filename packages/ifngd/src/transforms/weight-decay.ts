/**
 * Decoupled weight decay (optax `add_decayed_weights`): added after the preconditioner, before the learning rate.
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import type { GradientTransformation } from '../transform.js';
import { hostTreeOps, type HostTree, type TreeOps } from '../tree.js';

/** `u ← u + w·θ`. Stateless. */
export function weightDecay<T = HostTree>(
  weight: number,
  ops: TreeOps<T, unknown> = hostTreeOps as unknown as TreeOps<T, unknown>,
): GradientTransformation<Record<string, never>, T> {
  if (!Number.isFinite(weight) || weight < 0) {
    throw new InvalidArgumentError(`weightDecay: weight must be finite and ≥ 0, got ${String(weight)}`);
  }
  return {
    init: () => ({}),
    update: (updates, state, params) => ({ updates: weight === 0 ? updates : ops.axpy(weight, params, updates), state }),
  };
}
