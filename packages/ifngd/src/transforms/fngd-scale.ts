/**
 * The FNGD preconditioning transform. Its input is the α-weighted gradient `Jᵀα = Σᵢ αᵢ∇ℓᵢ` (computed by the
 * adapter with the coefficients from the optimizer); its output is the step direction `λ·Jᵀα`, which equals
 * `λ(F + λI)⁻¹g` and tends to the mean gradient `g` as λ → ∞, so learning rates sit on SGD's scale.
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import type { GradientTransformation } from '../transform.js';
import { hostTreeOps, type HostTree, type TreeOps } from '../tree.js';

/** State of {@link scaleByFngd}. */
export interface FngdScaleState {
  /** Steps whose direction the reuse guard shortened. */
  readonly capped: number;
  /** ‖λ·Jᵀα‖ of the last step, before the guard. */
  readonly lastNorm: number;
  /** Factor the guard applied in the last step (1 = untouched). */
  readonly lastScale: number;
}

/**
 * `d = λ·u`; when `extras.fngd.maxNorm` is given (coefficients reused from the cache) and `‖d‖` exceeds it,
 * `d` is scaled down to that norm — the reuse guard. Requires `extras.fngd`.
 */
export function scaleByFngd<T = HostTree>(
  ops: TreeOps<T> = hostTreeOps as unknown as TreeOps<T>,
): GradientTransformation<FngdScaleState, T> {
  return {
    init: () => ({ capped: 0, lastNorm: 0, lastScale: 1 }),
    update(updates, state, _params, extras) {
      const info = extras.fngd;
      if (!info || !(info.damping > 0)) {
        throw new InvalidArgumentError('scaleByFngd: extras.fngd with the damping λ > 0 of the coefficients is required');
      }
      const norm = info.damping * Math.sqrt(ops.norm2(updates));
      const cap = info.maxNorm;
      const scale = cap !== undefined && norm > cap ? cap / norm : 1;
      return {
        updates: ops.scale(updates, info.damping * scale),
        state: { capped: state.capped + (scale < 1 ? 1 : 0), lastNorm: norm, lastScale: scale },
      };
    },
  };
}
