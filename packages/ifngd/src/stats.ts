/**
 * Counters of an FNGD optimizer (`opt.stats`): the cost of the curvature work and what the guard and the
 * drift policy saw. A request's counters (hits, misses, refreshes, factorizations, probes, `auto`) move when the
 * step that uses its coefficients commits, not at `coefficients()`: a request whose step fails is not counted.
 * @module
 */
import type { ProbeResult, StaleReason } from './drift.js';

/** A snapshot of the optimizer's counters. */
export interface FngdStats {
  /** Coefficient computations (Grams + Cholesky): misses + refreshes + probes. */
  factorizations: number;
  /** Requests served from the cache. */
  cacheHits: number;
  /** Requests for a batch not in the cache. */
  cacheMisses: number;
  /** Recomputations of cached coefficients by the policy (epoch schedule, `always`, stale marks). */
  refreshes: number;
  /** Cholesky retries with growing jitter reported by the solver. */
  jitterRetries: number;
  /** Parameter updates applied. */
  steps: number;
  /** Steps skipped because gradients or updates were not finite (`onNonFinite: 'skip'`). */
  skippedSteps: number;
  /** The reuse guard. */
  guard: {
    /** Steps taken with reused coefficients. */
    reusedSteps: number;
    /** Reused steps whose update the cap shortened. */
    capped: number;
    /** Largest ‖λJᵀα‖ of a fresh step so far (the global-max reference). */
    maxFreshNorm: number;
    /** ‖reused update‖ / ‖the batch's fresh update‖ of the last reused step. */
    lastLengthRatio: number | null;
    /** The largest such ratio seen. */
    maxLengthRatio: number;
  };
  /** The drift policy. */
  drift: {
    /** Batches marked stale, by reason. */
    staleMarks: Record<StaleReason, number>;
    /** Probes run (each one factorization). */
    probes: number;
    /** Probes whose cached coefficients failed. */
    probeFailures: number;
    /** Reused requests until the next probe. */
    probeInterval: number;
    /** The last probe's measurements. */
    lastProbe: Omit<ProbeResult, 'failed'> | null;
  };
  /** The `auto` refresh policy. */
  auto: {
    /** Refreshes by reason: warm-up (model not trusted yet), return on investment, exploration (an age reaching twice the oldest observed), `maxAge`. */
    refreshes: { warmup: number; roi: number; explore: number; maxAge: number };
    /** Price of a refresh in cached steps at the last decision (measured or fixed); null before one. */
    price: number | null;
    /** Decay rate r = −ln ρ of the running mean per-visit retention ρ of reuse efficiency (e(k) = min(1, ρ^k); r < 0 when reuse measured worth more than fresh); null before an observation. */
    rate: number | null;
    /** Efficiency observations (one per refresh of a reused batch that had a held-out slope to compare). */
    observations: number;
    /** The last observation: age in visits and efficiency (held-out value of the reused direction over the fresh one). */
    last: { age: number; efficiency: number } | null;
    /** Best cycle length τ* (visits per refresh) at the last model decision; null before one. */
    cycle: number | null;
  };
  /** Damping. */
  damping: {
    /** λ for the next computation. */
    current: number;
    increases: number;
    decreases: number;
    /** ρ of the last adaptive update. */
    lastRho: number | null;
  };
  /** Batches in the cache. */
  cachedBatches: number;
  /** Float32 values in the cache (Σ L·n). */
  cachedFloats: number;
  /** Cached batches dropped: not in an adopted batch plan (`retain`), or least recently used beyond `maxCachedBatches`. */
  evictedBatches: number;
}

/** Zeroed counters. */
export function emptyStats(damping: number, probeInterval: number): FngdStats {
  return {
    factorizations: 0,
    cacheHits: 0,
    cacheMisses: 0,
    refreshes: 0,
    jitterRetries: 0,
    steps: 0,
    skippedSteps: 0,
    guard: { reusedSteps: 0, capped: 0, maxFreshNorm: 0, lastLengthRatio: null, maxLengthRatio: 0 },
    drift: { staleMarks: { cap: 0, length: 0, loss: 0 }, probes: 0, probeFailures: 0, probeInterval, lastProbe: null },
    auto: { refreshes: { warmup: 0, roi: 0, explore: 0, maxAge: 0 }, price: null, rate: null, observations: 0, last: null, cycle: null },
    damping: { current: damping, increases: 0, decreases: 0, lastRho: null },
    cachedBatches: 0,
    cachedFloats: 0,
    evictedBatches: 0,
  };
}

/** Deep copy (stats are plain data). */
export function cloneStats(s: FngdStats): FngdStats {
  return structuredClone(s);
}
