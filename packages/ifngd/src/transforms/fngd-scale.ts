/**
 * The FNGD preconditioning transform. Its input is the α-weighted gradient `Jᵀα = Σᵢ αᵢ∇ℓᵢ` (computed by the
 * adapter with the coefficients from the optimizer); its output is the step direction `λ·Jᵀα`, which equals
 * `λ(F + λI)⁻¹g` and tends to the mean gradient `g` as λ → ∞, so learning rates sit on SGD's scale.
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import type { GradientTransformation } from '../transform.js';
import { hostTreeOps, type HostTree, type TreeOps } from '../tree.js';

/**
 * State of {@link scaleByFngd}. `V` is `number` on the host; with a framework's tree ops the fields an update
 * computes are scalars of the tree's kind until read (the optimizer reads them once per step, then stores numbers).
 */
export interface FngdScaleState<V = number> {
  /** Steps whose direction the reuse guard shortened. */
  readonly capped: V;
  /** ‖λ·Jᵀα‖ of the last step, before the guard. */
  readonly lastNorm: V;
  /** Factor the guard applied in the last step (1 = untouched). */
  readonly lastScale: V;
}

/**
 * `d = λ·u`; when `extras.fngd.maxNorm` is given (coefficients reused from the cache) and `‖d‖` exceeds it,
 * `d` is scaled down to that norm — the reuse guard. Requires `extras.fngd`. The norm and the factor are computed
 * where the trees live (`min(1, cap/‖d‖)` on the device for a framework's trees): nothing is read back.
 */
export function scaleByFngd<T = HostTree, S = number>(
  ops: TreeOps<T, S> = hostTreeOps as unknown as TreeOps<T, S>,
): GradientTransformation<FngdScaleState<S | number>, T> {
  return {
    init: () => ({ capped: 0, lastNorm: 0, lastScale: 1 }),
    update(updates, state, _params, extras) {
      const info = extras.fngd;
      if (!info || !(info.damping > 0)) {
        throw new InvalidArgumentError('scaleByFngd: extras.fngd with the damping λ > 0 of the coefficients is required');
      }
      const norm = ops.norm(updates, info.damping);
      const cap = info.maxNorm;
      if (cap === undefined) return { updates: ops.scale(updates, info.damping), state: { capped: state.capped, lastNorm: norm, lastScale: 1 } };
      const scale = ops.shrink(norm, cap);
      return {
        updates: ops.scaleBy(updates, scale, info.damping),
        state: { capped: ops.countBelow(state.capped, scale, 1), lastNorm: norm, lastScale: scale },
      };
    },
  };
}
