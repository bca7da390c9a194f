/**
 * Drift signals of the `drift` refresh policy: what a reused step and a probe tell about a batch's cached
 * coefficients. Pure functions over plain numbers.
 * @module
 */
import type { CacheEntry } from './cache.js';
import { cosine, gramInner } from './gram-math.js';
import type { DriftOptions } from './drift-options.js';

/** Why a batch was marked stale. */
export type StaleReason = 'cap' | 'length' | 'loss';

/** Signals of one reused step. */
export interface ReuseSignals {
  /** ‖reused update‖ / ‖update when fresh‖ of this batch (null before the batch had a fresh step). */
  readonly lengthRatio: number | null;
  /** The first test that tripped, or null. */
  readonly stale: StaleReason | null;
}

/** Evaluates the free per-step tests on a reused step. */
export function reuseSignals(
  entry: CacheEntry,
  step: { norm: number; capped: boolean; loss: number | undefined },
  drift: Required<DriftOptions> | null,
): ReuseSignals {
  const lengthRatio = entry.freshNorm !== null && entry.freshNorm > 0 ? step.norm / entry.freshNorm : null;
  if (!drift) return { lengthRatio, stale: null };
  let stale: StaleReason | null = null;
  if (drift.markOnCap && step.capped) stale = 'cap';
  else if (lengthRatio !== null && lengthRatio > drift.lengthRatio) stale = 'length';
  else if (
    drift.lossRatio !== null &&
    step.loss !== undefined &&
    entry.freshLoss !== null &&
    entry.freshLoss > 0 &&
    step.loss > drift.lossRatio * entry.freshLoss
  ) {
    stale = 'loss';
  }
  return { lengthRatio, stale };
}

/**
 * The shift test (`auto`): the batch's loss jumped past `ratio` × both its loss at the previous visit and the
 * running mean batch loss `meanLoss` — its samples changed under the same key, or training jumped; either way
 * its cached coefficients are suspect. The mean is a floor: a batch whose loss is near 0 moves by large ratios
 * from noise alone (the classifier's late batch losses of ~0.005).
 */
export function shiftSignal(entry: CacheEntry, loss: number | undefined, ratio: number | null, meanLoss: number | null = null): boolean {
  if (ratio === null || loss === undefined || entry.lastLoss === null || !(entry.lastLoss > 0)) return false;
  return loss > ratio * Math.max(entry.lastLoss, meanLoss ?? 0);
}

/** What a probe measured: cached against freshly computed coefficients, at the current parameters. */
export interface ProbeResult {
  /** cos(Jᵀα_cached, Jᵀα_fresh) — the update directions, from the fresh Gram. */
  readonly directionCosine: number;
  /** cos(α_cached, α_fresh) — shown for comparison; it stays high while directions diverge. */
  readonly alphaCosine: number;
  /** ‖λ_c·Jᵀα_cached‖ / ‖λ_f·Jᵀα_fresh‖. */
  readonly lengthRatio: number;
  /** Whether the cached coefficients failed the probe. */
  readonly failed: boolean;
}

/** Compares cached and fresh coefficients of one batch through the fresh Gram(s). */
export function probe(
  grams: Float32Array,
  n: number,
  cached: { alpha: Float32Array; damping: number },
  fresh: { alpha: Float32Array; damping: number },
  drift: Required<DriftOptions>,
): ProbeResult {
  const cc = gramInner(grams, n, cached.alpha, cached.alpha);
  const ff = gramInner(grams, n, fresh.alpha, fresh.alpha);
  const cf = gramInner(grams, n, cached.alpha, fresh.alpha);
  const directionCosine = cf / Math.sqrt(Math.max(cc, 0) * Math.max(ff, 0));
  const lengthRatio = (cached.damping * Math.sqrt(Math.max(cc, 0))) / (fresh.damping * Math.sqrt(Math.max(ff, 0)));
  const failed = !(directionCosine >= drift.minCosine) || !(lengthRatio <= drift.lengthRatio);
  return { directionCosine, alphaCosine: cosine(cached.alpha, fresh.alpha), lengthRatio, failed };
}

/** Next probe interval: halved after a failure, doubled after a pass, within bounds. */
export function nextProbeInterval(interval: number, failed: boolean, drift: Required<DriftOptions>): number {
  return failed
    ? Math.max(drift.minProbeEvery, Math.floor(interval / 2))
    : Math.min(drift.maxProbeEvery, interval * 2);
}
