/**
 * Options of the ready-made FNGD optimizer and their validation.
 * @module
 */
import type { LinalgDevice } from '@ifngd/linalg-gpu';
import type { FngdMode } from './curvature.js';
import { checkDamping, resolveAdaptive, type AdaptiveDampingOptions } from './damping.js';
import { FNGD_DEFAULTS } from './defaults.js';
import { InvalidArgumentError } from './errors.js';
import { resolvePolicy, type RefreshPolicy, type ResolvedPolicy } from './refresh.js';
import { asSchedule, type Schedule } from './schedule.js';
import type { MomentumOptions } from './transforms/momentum.js';
import type { HostTree, TreeOps } from './tree.js';

/** The reuse guard: caps the norm of updates made with reused coefficients. */
export interface GuardOptions {
  /**
   * What the cap is relative to: `'global-max'` the largest fresh update norm seen so far — the rule that
   * removed all divergences in the MNIST calibration, default for `'first-epoch'` and `everyEpochs`; `'batch'`
   * the norm of the same batch's last fresh update — default for `'drift'` and `'auto'`, whose refreshes keep it
   * current (the global maximum dates from epoch 1 and let late reused steps grow past every current fresh one).
   */
  readonly reference?: 'global-max' | 'batch';
  /** Cap = factor × reference. Default 1. */
  readonly factor?: number;
}

/**
 * Options of {@link fngd}. Only `device` is required: `learningRate`, `damping`, `momentum` and `mode` default to
 * {@link FNGD_DEFAULTS} (chosen by measurement against Adam's defaults, see there).
 */
export interface FngdOptions<T = HostTree> {
  /** The linear-algebra device the Grams and Cholesky factorizations run on. */
  readonly device: LinalgDevice;
  /**
   * Learning rate (finite, > 0) or schedule, on SGD's scale: the direction is λ·Jᵀα = λ(F + λI)⁻¹g → g as
   * λ → ∞, so it is coupled to `damping` (a smaller λ needs a larger rate). Default `FNGD_DEFAULTS.learningRate`.
   */
  readonly learningRate?: number | Schedule;
  /** Damping λ (finite, > 0). Default `FNGD_DEFAULTS.damping`. */
  readonly damping?: number;
  /** `'global'` or `'layerwise'`. Default `FNGD_DEFAULTS.mode` (`'global'`). */
  readonly mode?: FngdMode;
  /** Default `'first-epoch'`. */
  readonly refresh?: RefreshPolicy;
  /** Momentum decay, or options (Nesterov). Default `FNGD_DEFAULTS.momentum`; `0` turns momentum off. */
  readonly momentum?: number | MomentumOptions;
  /** Decoupled weight decay. Default 0. */
  readonly weightDecay?: number;
  /** Clip the preconditioned direction to this global norm. Default none. */
  readonly clipNorm?: number;
  /** The reuse guard; on by default. `false` disables it. */
  readonly guard?: boolean | GuardOptions;
  /** Adapt λ by a Levenberg–Marquardt rule (needs `observeLoss`). Default off. */
  readonly adaptiveDamping?: AdaptiveDampingOptions;
  /** Non-finite gradients: throw `NonFiniteError` (default) or skip the step (counted). */
  readonly onNonFinite?: 'throw' | 'skip';
  /** Passed to the coefficient solver. */
  readonly maxJitterRetries?: number;
  /** Tree operations; default host `Float32Array` trees. */
  readonly ops?: TreeOps<T>;
}

/** Options after validation, with defaults. */
export interface ResolvedOptions {
  readonly mode: FngdMode;
  readonly policy: ResolvedPolicy;
  readonly learningRate: Schedule;
  readonly damping: number;
  readonly momentum: MomentumOptions | null;
  readonly weightDecay: number;
  readonly clipNorm: number | null;
  readonly guard: Required<GuardOptions> | null;
  readonly adaptive: Required<AdaptiveDampingOptions> | null;
  readonly onNonFinite: 'throw' | 'skip';
}

/** Validates every option; throws `InvalidArgumentError`. */
export function resolveOptions<T>(o: FngdOptions<T>): ResolvedOptions {
  if (typeof o !== 'object' || o === null) throw new InvalidArgumentError('fngd: options are required');
  if (!o.device) throw new InvalidArgumentError('fngd: a linalg device is required');
  const mode = o.mode ?? FNGD_DEFAULTS.mode;
  if (mode !== 'global' && mode !== 'layerwise') throw new InvalidArgumentError(`fngd: mode must be 'global' or 'layerwise'`);
  const policy = resolvePolicy(o.refresh ?? 'first-epoch');
  const reference = policy.kind === 'drift' || policy.kind === 'auto' ? ('batch' as const) : ('global-max' as const);
  const guard = o.guard === false ? null : { reference, factor: 1, ...(o.guard === true || o.guard === undefined ? {} : o.guard) };
  if (guard && (!(guard.factor > 0) || !Number.isFinite(guard.factor))) throw new InvalidArgumentError('fngd: guard.factor must be > 0');
  if (guard && guard.reference !== 'global-max' && guard.reference !== 'batch') throw new InvalidArgumentError('fngd: guard.reference');
  const m = o.momentum ?? FNGD_DEFAULTS.momentum;
  const lr = o.learningRate ?? FNGD_DEFAULTS.learningRate;
  if (typeof lr === 'number' && !(lr > 0)) throw new InvalidArgumentError(`fngd: learningRate must be finite and > 0, got ${String(lr)}`);
  const onNonFinite = o.onNonFinite ?? 'throw';
  if (onNonFinite !== 'throw' && onNonFinite !== 'skip') throw new InvalidArgumentError(`fngd: onNonFinite must be 'throw' or 'skip'`);
  return {
    mode,
    policy,
    learningRate: asSchedule(lr, 'fngd: learningRate'),
    damping: checkDamping(o.damping ?? FNGD_DEFAULTS.damping),
    momentum: m === 0 ? null : typeof m === 'number' ? { decay: m } : m,
    weightDecay: o.weightDecay ?? 0,
    clipNorm: o.clipNorm ?? null,
    guard,
    adaptive: o.adaptiveDamping ? resolveAdaptive(o.adaptiveDamping) : null,
    onNonFinite,
  };
}
