/**
 * The FNGD optimizer's bookkeeping around its transaction: fresh core state and counters, the counters as `stats`
 * shows them, the reuse guard's cap, adaptive damping's observation of an after-step loss, and the checkpoint's
 * core record (encode and decode, converting between refresh policies). Functions of the optimizer's state that
 * return the next one (`observeLoss` also counts into the stats it is given); `FngdOptimizer` keeps the state and
 * the transaction.
 * @module
 */
import { CoefficientCache, type CacheEntry } from './cache.js';
import type { CoreState } from './core-state.js';
import { dampingAfterStep } from './damping.js';
import { NonFiniteError } from './errors.js';
import { restoreCheckpoint, serializeCheckpoint } from './optimizer-checkpoint.js';
import type { ResolvedOptions } from './options.js';
import { showPolicies } from './policies/registry.js';
import type { RefreshPolicyRule } from './policies/types.js';
import { cloneStats, emptyStats, type FngdStats } from './stats.js';
import type { LeafSpec, TreeOps } from './tree.js';

/** The core state of a fresh start. */
export function freshCore(o: ResolvedOptions, rule: RefreshPolicyRule): CoreState {
  return { step: 0, damping: o.damping, maxFreshNorm: 0, pending: null, policy: rule.initial() };
}

/** Zeroed counters, showing the policy's state. */
export function freshStats(o: ResolvedOptions, rule: RefreshPolicyRule, core: CoreState): FngdStats {
  const s = emptyStats(o.damping, 0);
  showPolicies(rule, core.policy, s);
  return s;
}

/** A snapshot of the counters with the current λ, policy state, guard reference and cache size. */
export function statsView(stats: FngdStats, core: CoreState, rule: RefreshPolicyRule, cache: CoefficientCache): FngdStats {
  const s = cloneStats(stats);
  s.damping.current = core.damping;
  showPolicies(rule, core.policy, s);
  s.guard.maxFreshNorm = core.maxFreshNorm;
  s.cachedBatches = cache.size;
  s.cachedFloats = cache.floats;
  return s;
}

/** The reuse guard's cap on an update made with reused coefficients (none: no guard, or no reference yet). */
export function guardCap(o: ResolvedOptions, core: CoreState, entry: CacheEntry | undefined): number | undefined {
  const g = o.guard;
  if (!g) return undefined;
  const ref = g.reference === 'batch' ? (entry?.freshNorm ?? null) : core.maxFreshNorm;
  return ref !== null && ref > 0 ? g.factor * ref : undefined;
}

/**
 * Adaptive damping after a fresh step: λ by the Levenberg–Marquardt rule from the step's predicted and actual
 * reduction (counted in `stats`). Returns the next core state and ρ (null when no step is pending or adaptive
 * damping is off). Throws `NonFiniteError` for a loss that is not a finite number; nothing changes then.
 */
export function observeLoss(o: ResolvedOptions, core: CoreState, stats: FngdStats, lossAfter: number): { core: CoreState; rho: number | null } {
  if (typeof lossAfter !== 'number' || !Number.isFinite(lossAfter)) throw new NonFiniteError(`observeLoss: loss is ${String(lossAfter)}`);
  const a = o.adaptive;
  const p = core.pending;
  if (!a || !p) return { core, rho: null };
  const { damping, rho } = dampingAfterStep(core.damping, p, lossAfter, a);
  if (damping > core.damping) stats.damping.increases++;
  if (damping < core.damping) stats.damping.decreases++;
  stats.damping.lastRho = rho;
  return { core: { ...core, damping, pending: null }, rho };
}

/** What a checkpoint holds of an optimizer, and what restoring one gives back. */
export interface FngdSnapshot<T> {
  readonly spec: readonly LeafSpec[];
  readonly chain: unknown;
  readonly core: CoreState;
  readonly stats: FngdStats;
  readonly cache: CoefficientCache;
  readonly ops: TreeOps<T, unknown>;
}

/** The checkpoint bytes of an optimizer's state. */
export function encodeFngd<T>(o: ResolvedOptions, rule: RefreshPolicyRule, s: FngdSnapshot<T>): Uint8Array {
  const { step, damping, maxFreshNorm, pending, policy } = s.core;
  return serializeCheckpoint({
    spec: s.spec,
    mode: o.mode,
    policy: rule.kind,
    chain: s.chain,
    core: { step, damping, maxFreshNorm, pending, fields: rule.encode(policy) },
    stats: s.stats,
    cache: s.cache.entries(),
    ops: s.ops,
  });
}

/**
 * The state a checkpoint restores for an optimizer whose current state is `now` (same model and configuration;
 * another refresh policy's state converts by the rule's `decode`). Throws `CheckpointError`; nothing is built then.
 */
export function decodeFngd<T>(bytes: Uint8Array, o: ResolvedOptions, rule: RefreshPolicyRule, now: Pick<FngdSnapshot<T>, 'spec' | 'chain' | 'ops'>): Omit<FngdSnapshot<T>, 'spec' | 'ops'> {
  const r = restoreCheckpoint(bytes, { spec: now.spec, mode: o.mode, chain: now.chain, ops: now.ops });
  const { step, damping, maxFreshNorm, pending, fields } = r.core;
  const cache = new CoefficientCache();
  cache.replaceAll(r.cache);
  return { chain: r.chain, core: { step, damping, maxFreshNorm, pending, policy: rule.decode(fields, r.policy) }, stats: r.stats, cache };
}
