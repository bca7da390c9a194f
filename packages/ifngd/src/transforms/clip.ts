/**
 * Gradient clipping by global norm (optax `clip_by_global_norm`).
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import type { GradientTransformation } from '../transform.js';
import { hostTreeOps, type HostTree, type TreeOps } from '../tree.js';

/**
 * State of {@link clipByGlobalNorm}: how many updates were clipped (`V`: `number` on the host; a scalar of the
 * tree's kind until read with a framework's tree ops).
 */
export interface ClipState<V = number> {
  readonly clipped: V;
}

/**
 * Scales the update to norm `maxNorm` when it is longer. The norm and the factor `min(1, maxNorm/‖u‖)` are
 * computed where the trees live: nothing is read back (works on backends without synchronous reads).
 */
export function clipByGlobalNorm<T = HostTree, S = number>(
  maxNorm: number,
  ops: TreeOps<T, S> = hostTreeOps as unknown as TreeOps<T, S>,
): GradientTransformation<ClipState<S | number>, T> {
  if (!Number.isFinite(maxNorm) || maxNorm <= 0) {
    throw new InvalidArgumentError(`clipByGlobalNorm: maxNorm must be finite and > 0, got ${String(maxNorm)}`);
  }
  return {
    init: () => ({ clipped: 0 }),
    update(updates, state) {
      const factor = ops.shrink(ops.norm(updates, 1), maxNorm);
      return { updates: ops.scaleBy(updates, factor, 1), state: { clipped: ops.countBelow(state.clipped, factor, 1) } };
    },
  };
}
