/**
 * Skips a step whose incoming gradients or outgoing updates are not finite (optax `apply_if_finite`).
 * @module
 */
import type { GradientTransformation } from '../transform.js';
import { hostTreeOps, type HostTree, type TreeOps } from '../tree.js';

/** State of {@link applyIfFinite}. */
export interface ApplyIfFiniteState<S> {
  readonly inner: S;
  /** Steps skipped in a row. */
  readonly consecutive: number;
  /** Steps skipped in total. */
  readonly skipped: number;
  /** Whether the last step was applied. */
  readonly lastApplied: boolean;
}

/**
 * Runs `inner` only when the gradients (and its updates) are finite; otherwise returns zero updates and keeps
 * the inner state, counting the skip.
 */
export function applyIfFinite<S, T = HostTree>(
  inner: GradientTransformation<S, T>,
  ops: TreeOps<T> = hostTreeOps as unknown as TreeOps<T>,
): GradientTransformation<ApplyIfFiniteState<S>, T> {
  return {
    init: (params) => ({ inner: inner.init(params), consecutive: 0, skipped: 0, lastApplied: true }),
    update(updates, state, params, extras) {
      if (ops.allFinite(updates)) {
        const r = inner.update(updates, state.inner, params, extras);
        if (ops.allFinite(r.updates)) {
          return { updates: r.updates, state: { inner: r.state, consecutive: 0, skipped: state.skipped, lastApplied: true } };
        }
      }
      return {
        updates: ops.zerosLike(updates),
        state: { inner: state.inner, consecutive: state.consecutive + 1, skipped: state.skipped + 1, lastApplied: false },
      };
    },
  };
}
