/**
 * Options of the ready-made FNGD optimizer and their validation.
 * @module
 */
import type { LinalgDevice } from '@ifngd/linalg-gpu';
import type { FngdMode } from './curvature.js';
import { checkDamping, resolveAdaptive, type AdaptiveDampingOptions } from './damping.js';
import { FNGD_DEFAULTS } from './defaults.js';
import { InvalidArgumentError } from './errors.js';
import { checkKeys } from './option-keys.js';
import { resolvePolicy, type ResolvedPolicy } from './policies/registry.js';
import type { RefreshPolicy } from './policies/types.js';
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
export interface FngdOptions<T = HostTree, S = number> {
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
  /**
   * Cap on cached batches (integer ≥ 1): when a step stores a batch's coefficients beyond it, the least recently
   * used batches are dropped (counted in `stats.evictedBatches`). Default none (a trainer's `fit` keeps the cache
   * to the batches of its plan: {@link FngdOptimizer.retain}).
   */
  readonly maxCachedBatches?: number;
  /** Tree operations; default host `Float32Array` trees. */
  readonly ops?: TreeOps<T, S>;
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
  readonly maxCachedBatches: number | null;
}

/** Every key {@link fngd} accepts (adapters pass `device` and `ops` through). */
export const FNGD_OPTION_KEYS: readonly (keyof FngdOptions)[] = [
  'device',
  'learningRate',
  'damping',
  'mode',
  'refresh',
  'momentum',
  'weightDecay',
  'clipNorm',
  'guard',
  'adaptiveDamping',
  'onNonFinite',
  'maxJitterRetries',
  'maxCachedBatches',
  'ops',
];

const fail = (message: string): never => {
  throw new InvalidArgumentError(`fngd: ${message}`);
};
const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : typeof v === 'object' && v !== null ? JSON.stringify(v) ?? String(v) : String(v));
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** A learning rate: finite > 0, or a schedule (checked at use, see `rate.ts`). */
function resolveRate(lr: unknown): Schedule {
  if (typeof lr === 'function') return lr as Schedule;
  if (!finite(lr) || lr <= 0) return fail(`learningRate must be finite and > 0 (or a schedule), got ${show(lr)}`);
  return asSchedule(lr, 'fngd: learningRate');
}

/** Momentum: a decay in [0, 1) (0 = off) or `{ decay, nesterov? }`. */
function resolveMomentum(m: unknown): MomentumOptions | null {
  if (typeof m === 'number') {
    if (!(m >= 0 && m < 1)) return fail(`momentum must be in [0, 1), got ${show(m)}`);
    return m === 0 ? null : { decay: m };
  }
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return fail(`momentum must be a number or { decay, nesterov }, got ${show(m)}`);
  checkKeys(m, ['decay', 'nesterov'], 'fngd: momentum');
  const { decay, nesterov } = m as MomentumOptions;
  if (typeof decay !== 'number' || !(decay >= 0 && decay < 1)) fail(`momentum.decay must be in [0, 1), got ${show(decay)}`);
  if (nesterov !== undefined && typeof nesterov !== 'boolean') fail(`momentum.nesterov must be a boolean, got ${show(nesterov)}`);
  return { decay, ...(nesterov === undefined ? {} : { nesterov }) };
}

/** The reuse guard: `true`/`undefined` (defaults), `false` (off) or `{ reference?, factor? }`. */
function resolveGuard(g: unknown, reference: 'global-max' | 'batch'): Required<GuardOptions> | null {
  if (g === false) return null;
  if (g === true || g === undefined) return { reference, factor: 1 };
  if (typeof g !== 'object' || g === null || Array.isArray(g)) return fail(`guard must be a boolean or { reference, factor }, got ${show(g)}`);
  checkKeys(g, ['reference', 'factor'], 'fngd: guard');
  const o = g as GuardOptions;
  const r = { reference: o.reference ?? reference, factor: o.factor ?? 1 };
  if (r.reference !== 'global-max' && r.reference !== 'batch') fail(`guard.reference must be 'global-max' or 'batch', got ${show(r.reference)}`);
  if (!finite(r.factor) || r.factor <= 0) fail(`guard.factor must be finite and > 0, got ${show(r.factor)}`);
  return r;
}

/** Validates every option (unknown keys included); throws `InvalidArgumentError` naming the key and value. */
export function resolveOptions<T, S>(o: FngdOptions<T, S>): ResolvedOptions {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return fail('options are required');
  checkKeys(o, FNGD_OPTION_KEYS, 'fngd');
  if (typeof o.device !== 'object' || o.device === null) fail(`a linalg device is required, got ${show(o.device)}`);
  if (o.ops !== undefined && (typeof o.ops !== 'object' || o.ops === null)) fail(`ops must be tree operations, got ${show(o.ops)}`);
  const mode = o.mode ?? FNGD_DEFAULTS.mode;
  if (mode !== 'global' && mode !== 'layerwise') fail(`mode must be 'global' or 'layerwise', got ${show(mode)}`);
  const policy = resolvePolicy(o.refresh ?? 'first-epoch');
  const reference = policy.definition.guardReference;
  const damping = o.damping ?? FNGD_DEFAULTS.damping;
  if (!finite(damping) || damping <= 0) fail(`damping must be finite and > 0, got ${show(damping)}`);
  const weightDecay = o.weightDecay ?? 0;
  if (!finite(weightDecay) || weightDecay < 0) fail(`weightDecay must be finite and ≥ 0, got ${show(weightDecay)}`);
  const clipNorm = o.clipNorm ?? null;
  if (clipNorm !== null && (!finite(clipNorm) || clipNorm <= 0)) fail(`clipNorm must be finite and > 0, got ${show(clipNorm)}`);
  const a = o.adaptiveDamping;
  if (a !== undefined && (typeof a !== 'object' || a === null || Array.isArray(a))) fail(`adaptiveDamping must be an options object, got ${show(a)}`);
  const onNonFinite = o.onNonFinite ?? 'throw';
  if (onNonFinite !== 'throw' && onNonFinite !== 'skip') fail(`onNonFinite must be 'throw' or 'skip', got ${show(onNonFinite)}`);
  const retries = o.maxJitterRetries;
  if (retries !== undefined && (!Number.isSafeInteger(retries) || retries < 0)) fail(`maxJitterRetries must be an integer ≥ 0, got ${show(retries)}`);
  const cap = o.maxCachedBatches ?? null;
  if (cap !== null && (!Number.isSafeInteger(cap) || cap < 1)) fail(`maxCachedBatches must be an integer ≥ 1, got ${show(cap)}`);
  return {
    mode,
    policy,
    learningRate: resolveRate(o.learningRate ?? FNGD_DEFAULTS.learningRate),
    damping: checkDamping(damping),
    momentum: resolveMomentum(o.momentum ?? FNGD_DEFAULTS.momentum),
    weightDecay,
    clipNorm,
    guard: resolveGuard(o.guard, reference),
    adaptive: a ? resolveAdaptive(a) : null,
    onNonFinite,
    maxCachedBatches: cap,
  };
}
