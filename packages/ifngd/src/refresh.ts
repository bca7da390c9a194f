/**
 * Refresh policies: when cached coefficients are recomputed.
 *
 * - `'first-epoch'` (the paper): computed on a miss, reused forever after.
 * - `{ everyEpochs: k }`: recomputed once they are k epochs old.
 * - `'always'`: recomputed at every request — exact damped NGD every step (the reference).
 * - `'drift'` / `{ drift: {...} }`: reused until a drift signal marks the batch stale, plus periodic probes
 *   (see {@link DriftOptions}).
 * - `'auto'` / `{ auto: {...} }`: refreshed when a refresh pays for itself — measured price of a refresh against
 *   the measured loss of value of reused coefficients (see {@link AutoOptions} and `auto.ts`).
 * @module
 */
import { resolveAuto, type AutoOptions, type ResolvedAuto } from './auto.js';
import type { CacheEntry } from './cache.js';
import { InvalidArgumentError } from './errors.js';
import { checkKeys, checkObject } from './option-keys.js';

/** Options of the drift policy. What it watches and why is documented on each field. */
export interface DriftOptions {
  /**
   * Length test, free on every reused step: mark the batch stale when ‖λJᵀα_cached‖ exceeds this multiple of
   * the norm the same batch's update had when its coefficients were fresh. A reused natural gradient is a
   * near-cancelling sum that loses its cancellation as the per-sample gradients move, so it grows. Default 2.
   */
  readonly lengthRatio?: number;
  /** Mark the batch stale when the reuse guard had to shorten its update. Default true. */
  readonly markOnCap?: boolean;
  /**
   * Loss test: mark stale when the batch's loss (passed to `step`) exceeds this multiple of its loss at the
   * step that used the coefficients fresh. `null` disables it. Default 1.5.
   */
  readonly lossRatio?: number | null;
  /**
   * Direction probe: after this many reused steps, the next reused request recomputes the batch's
   * coefficients and compares directions exactly: cos(Jᵀα_c, Jᵀα_f) = α_cᵀGα_f / √(α_cᵀGα_c·α_fᵀGα_f) from the
   * fresh Gram (no extra backward pass). Default 32.
   */
  readonly probeEvery?: number;
  /** Bounds of the adaptive probe interval (halved after a failed probe, doubled after a passed one). Default 1 / 256. */
  readonly minProbeEvery?: number;
  readonly maxProbeEvery?: number;
  /** A probe fails below this direction cosine (or above `lengthRatio`). Default 0.7. */
  readonly minCosine?: number;
}

/** Which coefficients a request gets. */
export type RefreshPolicy =
  | 'first-epoch'
  | 'always'
  | 'drift'
  | 'auto'
  | { readonly everyEpochs: number }
  | { readonly drift: DriftOptions }
  | { readonly auto: AutoOptions };

/** A policy with defaults filled in. */
export type ResolvedPolicy =
  | { readonly kind: 'first-epoch' }
  | { readonly kind: 'always' }
  | { readonly kind: 'every'; readonly epochs: number }
  | { readonly kind: 'drift'; readonly drift: Required<DriftOptions> }
  | { readonly kind: 'auto'; readonly auto: ResolvedAuto };

/** How a request is served. */
export type Decision = 'hit' | 'miss' | 'refresh' | 'probe';

function positive(x: number, name: string, integer = false): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || x <= 0 || (integer && !Number.isSafeInteger(x))) {
    throw new InvalidArgumentError(`refresh: ${name} must be a positive ${integer ? 'integer' : 'number'}, got ${String(x)}`);
  }
  return x;
}

/** Every key of {@link DriftOptions}. */
const DRIFT_KEYS: readonly (keyof DriftOptions)[] = ['lengthRatio', 'markOnCap', 'lossRatio', 'probeEvery', 'minProbeEvery', 'maxProbeEvery', 'minCosine'];

function resolveDrift(d: DriftOptions): Required<DriftOptions> {
  checkObject(d, 'refresh: drift');
  checkKeys(d, DRIFT_KEYS, 'refresh: drift');
  const lossRatio = d.lossRatio === undefined ? 1.5 : d.lossRatio;
  const drift: Required<DriftOptions> = {
    lengthRatio: positive(d.lengthRatio ?? 2, 'lengthRatio'),
    markOnCap: d.markOnCap ?? true,
    lossRatio: lossRatio === null ? null : positive(lossRatio, 'lossRatio'),
    probeEvery: positive(d.probeEvery ?? 32, 'probeEvery', true),
    minProbeEvery: positive(d.minProbeEvery ?? 1, 'minProbeEvery', true),
    maxProbeEvery: positive(d.maxProbeEvery ?? 256, 'maxProbeEvery', true),
    minCosine: d.minCosine ?? 0.7,
  };
  if (typeof drift.markOnCap !== 'boolean') throw new InvalidArgumentError(`refresh: markOnCap must be a boolean, got ${String(drift.markOnCap)}`);
  if (typeof drift.minCosine !== 'number' || !(drift.minCosine >= -1 && drift.minCosine <= 1)) {
    throw new InvalidArgumentError(`refresh: minCosine must be in [-1, 1], got ${String(drift.minCosine)}`);
  }
  if (drift.minProbeEvery > drift.maxProbeEvery) {
    throw new InvalidArgumentError(`refresh: minProbeEvery (${drift.minProbeEvery}) > maxProbeEvery (${drift.maxProbeEvery})`);
  }
  return drift;
}

/** Validates a policy (unknown keys included) and fills in the defaults; throws `InvalidArgumentError`. */
export function resolvePolicy(policy: RefreshPolicy): ResolvedPolicy {
  if (policy === 'first-epoch' || policy === 'always') return { kind: policy };
  if (policy === 'drift') return resolvePolicy({ drift: {} });
  if (policy === 'auto') return { kind: 'auto', auto: resolveAuto({}) };
  if (typeof policy === 'object' && policy !== null && !Array.isArray(policy)) {
    const keys = Object.keys(policy);
    if (keys.length === 1 && keys[0] === 'auto') return { kind: 'auto', auto: resolveAuto((policy as { auto: AutoOptions }).auto) };
    if (keys.length === 1 && keys[0] === 'everyEpochs') return { kind: 'every', epochs: positive((policy as { everyEpochs: number }).everyEpochs, 'everyEpochs', true) };
    if (keys.length === 1 && keys[0] === 'drift') return { kind: 'drift', drift: resolveDrift((policy as { drift: DriftOptions }).drift) };
    if (keys.length !== 1) throw new InvalidArgumentError(`refresh: a policy object has exactly one of everyEpochs, drift, auto; got {${keys.join(', ')}}`);
    checkKeys(policy, ['everyEpochs', 'drift', 'auto'], 'refresh');
  }
  throw new InvalidArgumentError(`refresh: unknown policy ${JSON.stringify(policy) ?? String(policy)}`);
}

/**
 * Decides how a request for a batch is served. `probeDue`: the drift policy's probe counter has run out;
 * `autoRefresh`: the `auto` policy asks for a refresh (warm-up, return on investment, exploration or `maxAge`).
 */
export function decide(policy: ResolvedPolicy, entry: CacheEntry | undefined, epoch: number, probeDue: boolean, autoRefresh = false): Decision {
  if (!entry) return 'miss';
  // a stale mark (drift's and auto's tests, `invalidate(key)`, a checkpoint of another policy) → recompute, whatever the policy
  if (entry.stale) return 'refresh';
  switch (policy.kind) {
    case 'first-epoch':
      return 'hit';
    case 'always':
      return 'refresh';
    case 'every':
      return epoch - entry.epoch >= policy.epochs ? 'refresh' : 'hit';
    case 'drift':
      return probeDue ? 'probe' : 'hit';
    case 'auto':
      return autoRefresh ? 'refresh' : 'hit';
  }
}
