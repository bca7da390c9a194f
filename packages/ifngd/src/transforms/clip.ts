/**
 * Gradient clipping by global norm (optax `clip_by_global_norm`).
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import type { GradientTransformation } from '../transform.js';
import { hostTreeOps, type HostTree, type TreeOps } from '../tree.js';

/** State of {@link clipByGlobalNorm}: how many updates were clipped. */
export interface ClipState {
  readonly clipped: number;
}

/** Scales the update to norm `maxNorm` when it is longer. */
export function clipByGlobalNorm<T = HostTree>(
  maxNorm: number,
  ops: TreeOps<T> = hostTreeOps as unknown as TreeOps<T>,
): GradientTransformation<ClipState, T> {
  if (!Number.isFinite(maxNorm) || maxNorm <= 0) {
    throw new InvalidArgumentError(`clipByGlobalNorm: maxNorm must be finite and > 0, got ${String(maxNorm)}`);
  }
  return {
    init: () => ({ clipped: 0 }),
    update(updates, state) {
      const norm = Math.sqrt(ops.norm2(updates));
      if (!(norm > maxNorm)) return { updates, state };
      return { updates: ops.scale(updates, maxNorm / norm), state: { clipped: state.clipped + 1 } };
    },
  };
}
