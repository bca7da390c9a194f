/**
 * The KFAC transform: KL clipping of the preconditioned direction (Ba, Grosse & Martens 2017; kfac-pytorch).
 * Its input is `V = (G ⊗ A + damping)⁻¹∇L` per layer (computed by the optimizer on the device), and
 * `extras.kfac.vg = Σₗ ⟨Vₗ, ∇Wₗ⟩`. The predicted KL change of the step `−lr·V` is `lr²·Vᵀ·F·V ≈ lr²·Σ⟨V, ∇W⟩`;
 * the whole direction (leaves KFAC does not precondition included) is scaled by `ν = min(1, √(κ / (lr²·vg)))`
 * so that it stays below κ. With `klClip` null, or `vg ≤ 0`, ν = 1.
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import { asSchedule, type Schedule } from '../schedule.js';
import type { GradientTransformation } from '../transform.js';
import { hostTreeOps, type HostTree, type TreeOps } from '../tree.js';

/** State of {@link scaleByKfac}. */
export interface KfacScaleState {
  /** Schedule position (the learning-rate transform's count, kept in step with it). */
  readonly count: number;
  /** Steps whose direction the KL clip shortened. */
  readonly clipped: number;
  /** ν of the last step (1 = untouched). */
  readonly lastScale: number;
  /** `Σ⟨V, ∇W⟩` of the last step. */
  readonly lastVg: number;
}

/** Options of {@link scaleByKfac}. */
export interface KfacScaleOptions {
  /** κ (finite, > 0), or null for no clipping. */
  readonly klClip: number | null;
  /** The learning rate the chain ends with (the clip is on the step `lr·ν·V`). */
  readonly learningRate: number | Schedule;
}

/** ν = min(1, √(κ / (lr²·vg))) for `vg = Σ⟨V, ∇W⟩` (see the module comment); 1 without a clip or for `vg ≤ 0`. */
export function klClipScale(klClip: number | null, rate: number, vg: number): number {
  const bound = klClip === null || !(vg > 0) ? Infinity : Math.sqrt(klClip / (rate * rate * vg));
  return bound < 1 ? bound : 1;
}

/** `u ← ν·u` (see the module comment). Requires `extras.kfac`. */
export function scaleByKfac<T = HostTree>(
  options: KfacScaleOptions,
  ops: TreeOps<T> = hostTreeOps as unknown as TreeOps<T>,
): GradientTransformation<KfacScaleState, T> {
  const { klClip } = options;
  if (klClip !== null && !(typeof klClip === 'number' && Number.isFinite(klClip) && klClip > 0)) {
    throw new InvalidArgumentError(`scaleByKfac: klClip must be finite and > 0, or null, got ${String(klClip)}`);
  }
  const lr = asSchedule(options.learningRate, 'scaleByKfac: learningRate');
  return {
    init: () => ({ count: 0, clipped: 0, lastScale: 1, lastVg: 0 }),
    update(updates, state, _params, extras) {
      const info = extras.kfac;
      if (!info || typeof info.vg !== 'number')
        throw new InvalidArgumentError('scaleByKfac: extras.kfac with Σ⟨V, ∇W⟩ is required');
      const scale = klClipScale(klClip, lr(state.count), info.vg);
      return {
        updates: scale === 1 ? updates : ops.scale(updates, scale),
        state: {
          count: state.count + 1,
          clipped: state.clipped + (scale < 1 ? 1 : 0),
          lastScale: scale,
          lastVg: info.vg,
        },
      };
    },
  };
}
