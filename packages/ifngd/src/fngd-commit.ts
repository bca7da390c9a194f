/**
 * What a committed FNGD step changes beyond its transformation state: the request it used (cache entry,
 * counters, the refresh policy's state) and what the step itself tells — a fresh step's norm and loss (the
 * guard's reference, adaptive damping's prediction), a reused step's signals (the policy's tests, stale marks).
 * Each function mutates the cache and the counters it is given and returns the next core state; none throws.
 * @module
 */
import type { CoefficientCache } from './cache.js';
import type { Coefficients } from './coefficients.js';
import type { CoreState } from './core-state.js';
import { predictedReduction } from './damping.js';
import type { RefreshPolicyRule } from './policies/types.js';
import type { StagedRequest } from './request.js';
import type { FngdStats } from './stats.js';

/** Applies a request's staged effects: cache entry, counters, the policy's state. */
export function commitRequest(staged: StagedRequest, core: CoreState, cache: CoefficientCache, stats: FngdStats): CoreState {
  if (staged.skip) return core;
  if (!staged.fresh) stats.cacheHits++;
  else {
    stats.factorizations++;
    stats.jitterRetries += staged.jitterRetries;
    if (staged.decision === 'miss') stats.cacheMisses++;
    else if (staged.decision === 'refresh') stats.refreshes++;
    cache.set(staged.entry);
  }
  const effect = staged.policy;
  if (!effect) return core;
  const policy = effect.update(core.policy);
  effect.count?.(stats, policy);
  return { ...core, policy };
}

/**
 * Records an applied step on coefficients `c` (from `staged`) whose update had norm `norm` after the guard's
 * scale `scale`, at learning rate `lr`, on a batch whose loss before the step was `loss`.
 */
export function recordStep(
  s: { readonly core: CoreState; readonly cache: CoefficientCache; readonly stats: FngdStats; readonly rule: RefreshPolicyRule },
  c: Coefficients,
  staged: StagedRequest,
  step: { readonly norm: number; readonly scale: number; readonly lr: number; readonly loss: number | undefined },
): CoreState {
  const { core, cache, stats } = s;
  const { norm, loss } = step;
  stats.steps++;
  const entry = cache.get(c.batchKey);
  const next: CoreState = { ...core, step: core.step + 1 };
  if (entry && c.fresh) {
    cache.patch(c.batchKey, { freshNorm: norm, freshLoss: loss ?? null, lastLoss: loss ?? entry.lastLoss });
    next.maxFreshNorm = Math.max(core.maxFreshNorm, norm);
    next.pending = staged.terms && loss !== undefined ? { lossBefore: loss, predicted: predictedReduction(step.lr, c.damping, staged.terms) } : null;
  } else if (entry) {
    stats.guard.reusedSteps++;
    const capped = step.scale < 1;
    if (capped) stats.guard.capped++;
    const sig = s.rule.reused(core.policy, entry, { norm, capped, loss });
    stats.guard.lastLengthRatio = sig.lengthRatio;
    if (sig.lengthRatio !== null) stats.guard.maxLengthRatio = Math.max(stats.guard.maxLengthRatio, sig.lengthRatio);
    if (sig.stale) stats.drift.staleMarks[sig.stale]++;
    cache.patch(c.batchKey, { reuses: entry.reuses + 1, lastLoss: loss ?? entry.lastLoss, ...(sig.stale ? { stale: true } : {}) });
    next.pending = null;
  }
  next.policy = s.rule.stepped(next.policy, loss);
  return next;
}
