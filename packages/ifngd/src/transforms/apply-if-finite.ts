/**
 * Skips a step whose incoming gradients or outgoing updates are not finite (optax `apply_if_finite`).
 * @module
 */
import type { GradientTransformation } from '../transform.js';
import { hostTreeOps, readNow, type HostTree, type TreeOps } from '../tree.js';

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
 * the inner state, counting the skip. Its decision is a host branch, so it needs tree ops whose
 * {@link TreeOps.read} is synchronous (host trees); `InvalidArgumentError` otherwise. `FngdOptimizer` decides
 * the same thing for any tree ops with one read per step (`propose`/`settle`).
 */
export function applyIfFinite<S, T = HostTree>(
  inner: GradientTransformation<S, T>,
  ops: TreeOps<T, unknown> = hostTreeOps as unknown as TreeOps<T, unknown>,
): GradientTransformation<ApplyIfFiniteState<S>, T> {
  const finite = (t: T): boolean => readNow(ops, [ops.allFinite(t)], 'applyIfFinite')[0] === 1;
  return {
    init: (params) => ({ inner: inner.init(params), consecutive: 0, skipped: 0, lastApplied: true }),
    update(updates, state, params, extras) {
      if (finite(updates)) {
        const r = inner.update(updates, state.inner, params, extras);
        if (finite(r.updates)) {
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
