/**
 * Counters of a KFAC optimizer (`opt.stats`).
 * @module
 */

/** A snapshot of the KFAC optimizer's counters. */
export interface KfacStats {
  /** Parameter updates applied. */
  steps: number;
  /** Steps skipped because gradients or updates were not finite (`onNonFinite: 'skip'`); they change nothing else. */
  skippedSteps: number;
  /** Running-average updates (each: the factor statistics of one batch, every layer). */
  factorUpdates: number;
  /** Inverse refreshes (each: the damped inverses of every layer). */
  inverseRefreshes: number;
  /** Step index (0-based, applied steps) of the last inverse refresh; null before the first. */
  lastRefreshStep: number | null;
  /** KL clipping. */
  klClip: {
    /** Steps the clip shortened. */
    clipped: number;
    /** ν of the last step. */
    lastScale: number;
    /** `Σ⟨V, ∇W⟩` of the last step. */
    lastVg: number;
  };
  /** π of each layer at the last inverse refresh (null before it). */
  pi: (number | null)[];
  /** The adaptive mode: λ, and the last step's learning rate, momentum and ρ (null when the mode is off). */
  adaptive: { damping: number; learningRate: number | null; momentum: number | null; rho: number | null } | null;
}

/** Zeroed counters for `layers` layers. */
export function emptyKfacStats(layers: number): KfacStats {
  return {
    steps: 0,
    skippedSteps: 0,
    factorUpdates: 0,
    inverseRefreshes: 0,
    lastRefreshStep: null,
    klClip: { clipped: 0, lastScale: 1, lastVg: 0 },
    pi: new Array<number | null>(layers).fill(null),
    adaptive: null,
  };
}

/** The counters of an optimizer from its core counters, KL-clip sub-state and per-layer π. */
export function kfacStats(
  core: {
    step: number;
    skippedSteps: number;
    factorUpdates: number;
    inverseRefreshes: number;
    lastRefreshStep: number | null;
  },
  clip: { clipped: number; lastScale: number; lastVg: number } | null,
  pi: readonly (number | null)[],
  adaptive: KfacStats['adaptive'] = null,
): KfacStats {
  const { step, ...rest } = core;
  return {
    ...emptyKfacStats(pi.length),
    steps: step,
    ...rest,
    ...(clip ? { klClip: { clipped: clip.clipped, lastScale: clip.lastScale, lastVg: clip.lastVg } } : {}),
    pi: [...pi],
    adaptive,
  };
}
