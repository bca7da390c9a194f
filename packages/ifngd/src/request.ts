/**
 * Serving one coefficient request without changing anything: the refresh decision, the computation on a miss,
 * a refresh or a probe, and every effect the request will have — cache entry, counters, drift probe interval,
 * `auto` state — *staged* in a {@link StagedRequest}. The optimizer applies it only when the step that uses the
 * coefficients succeeds (`FngdOptimizer.step`), so a request whose step never succeeds leaves no trace.
 * @module
 */
import type { LinalgDevice } from '@ifngd/linalg-gpu';
import { autoDecision, observe, recordTiming, reuseEfficiency, splitPrice, type AutoReason, type AutoState } from './auto.js';
import { cacheKey, type BatchKey, type CacheEntry, type CoefficientCache } from './cache.js';
import { solveCurvature } from './curvature.js';
import { probe, type ProbeResult } from './drift.js';
import { InvalidArgumentError } from './errors.js';
import { modelTerms } from './gram-math.js';
import type { CoreState } from './optimizer-checkpoint.js';
import type { ResolvedOptions } from './options.js';
import { decide, type Decision } from './refresh.js';
import type { CoefficientRequest } from './fngd.js';

/** When and how the previous request was served (`auto` with a measured price; not checkpointed). */
export interface RequestTiming {
  readonly time: number;
  readonly epoch: number;
  readonly fresh: boolean;
  /** A computed request's curvature time in ms — after its factors were captured (null: served from the cache). */
  readonly solve: number | null;
}

/** The `auto` policy's part of a staged request. */
export interface StagedAuto {
  /** The state change (timings, efficiency observation), applied to the state current at commit. */
  readonly update: (s: AutoState) => AutoState;
  /** Why a cached batch is refreshed (null: reused, or a miss). */
  readonly reason: AutoReason;
  /** Price and cycle of the decision (null: no model decision). */
  readonly price: number | null;
  readonly cycle: number | null;
  /** The timing of this request, for the next one's period (null without a measured price). */
  readonly timing: RequestTiming | null;
}

/** Everything one request will change, applied together with its step. */
export interface StagedRequest {
  /** The optimizer's generation (`init`/`restore` count) when the request started. */
  readonly generation: number;
  /** The batch's cache entry the decision was made on (identity; undefined on a miss). */
  readonly basis: CacheEntry | undefined;
  readonly decision: Decision;
  /** The entry the coefficients come from: `basis` when reused, the computed one otherwise. */
  readonly entry: CacheEntry;
  /** Computed for this request (miss, refresh or probe). */
  readonly fresh: boolean;
  /** Adaptive damping's model terms of a computed request. */
  readonly terms: { linear: number; curvature: number } | null;
  /** Cholesky retries of the computation. */
  readonly jitterRetries: number;
  /** The drift probe's measurement (probe requests only). */
  readonly probe: ProbeResult | null;
  /** The `auto` policy's effects (null for other policies). */
  readonly auto: StagedAuto | null;
  /**
   * The coefficients could not be computed (a non-finite Gram or solve under `onNonFinite: 'skip'`): α is zero,
   * and the step that uses them is a counted skip that commits nothing of the request.
   */
  readonly skip?: true;
}

/**
 * The staged request of a batch whose coefficients could not be computed (`onNonFinite: 'skip'`): zero α in one
 * block, the current damping, no effect when committed but the skip.
 */
export function skippedRequest(ctx: Pick<RequestContext, 'cache' | 'core' | 'generation'>, key: BatchKey, n: number, epoch: number): StagedRequest {
  const basis = ctx.cache.get(key);
  const entry: CacheEntry = {
    key,
    n,
    layers: 1,
    alpha: new Float32Array(n),
    damping: ctx.core.damping,
    epoch,
    freshNorm: null,
    freshLoss: null,
    lastLoss: null,
    stale: true,
    reuses: 0,
  };
  return { generation: ctx.generation, basis, decision: basis ? 'refresh' : 'miss', entry, fresh: true, terms: null, jitterRetries: 0, probe: null, auto: null, skip: true };
}

/** What serving a request reads (never writes). */
export interface RequestContext {
  readonly device: LinalgDevice;
  readonly options: ResolvedOptions;
  readonly maxJitterRetries: number | undefined;
  readonly cache: CoefficientCache;
  readonly core: CoreState;
  readonly lastRequest: RequestTiming | null;
  readonly generation: number;
}

/** Validates a request; throws `InvalidArgumentError`, `BatchSizeMismatchError`. */
export function checkRequest(request: CoefficientRequest, cache: CoefficientCache): void {
  if (typeof request !== 'object' || request === null) throw new InvalidArgumentError('coefficients: a request object is required');
  const { batchKey, epoch, n } = request;
  cacheKey(batchKey);
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new InvalidArgumentError(`coefficients: epoch must be an integer ≥ 0, got ${String(epoch)}`);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`coefficients: n must be an integer ≥ 1, got ${String(n)}`);
  if (typeof request.factors !== 'function') throw new InvalidArgumentError('coefficients: factors must be a function');
  cache.checkN(batchKey, n);
}

/**
 * Serves a request: decides, computes when needed, and returns the staged effects. Reads `ctx` only; throws
 * the request's and the solver's errors.
 */
export async function serveRequest(ctx: RequestContext, request: CoefficientRequest): Promise<StagedRequest> {
  checkRequest(request, ctx.cache);
  const { batchKey, epoch, n } = request;
  const core = ctx.core;
  const o = ctx.options;
  const basis = ctx.cache.get(batchKey);
  const policy = o.policy;
  const drift = policy.kind === 'drift' ? policy.drift : null;
  const auto = policy.kind === 'auto' ? policy.auto : null;
  const probeDue = drift !== null && core.sinceProbe >= core.probeInterval;
  // `auto`: the period since the previous request is one step's cost, cached or computed (same epoch only)
  const now = auto && auto.price === 'measured' ? auto.clock() : null;
  const last = ctx.lastRequest;
  const period = now !== null && last && last.epoch === epoch ? { kind: last.fresh ? ('freshPeriods' as const) : ('cachedPeriods' as const), ms: now - last.time } : null;
  // …and after a computed request, that step's split price (its curvature time against the rest of its period)
  const split = period && last?.solve != null ? splitPrice(last.solve, period.ms) : null;
  const timed = (s: AutoState): AutoState => {
    if (!period) return s;
    const x = recordTiming(s, period.kind, period.ms);
    return split === null ? x : recordTiming(x, 'splits', split);
  };
  let reason: AutoReason = null;
  let price: number | null = null;
  let cycle: number | null = null;
  if (auto && core.auto && basis && !basis.stale) {
    const d = autoDecision(timed(core.auto), basis.reuses, auto);
    reason = d.reason;
    price = d.price;
    cycle = d.cycle;
  }
  const decision = decide(policy, basis, epoch, probeDue, reason !== null);
  const staged = { generation: ctx.generation, basis, decision, jitterRetries: 0, probe: null, terms: null };
  if (decision === 'hit' && basis) {
    const autoPart = auto && core.auto ? { update: timed, reason, price, cycle, timing: now === null ? null : { time: now, epoch, fresh: false, solve: null } } : null;
    return { ...staged, entry: basis, fresh: false, auto: autoPart };
  }
  const damping = core.damping;
  const factors = await request.factors();
  const solveStart = now !== null && auto ? auto.clock() : null;
  const sol = await solveCurvature(ctx.device, factors, {
    mode: o.mode,
    damping,
    n,
    ...(ctx.maxJitterRetries === undefined ? {} : { maxJitterRetries: ctx.maxJitterRetries }),
  });
  if (basis && basis.layers !== sol.layers) {
    throw new InvalidArgumentError(`coefficients: batch ${JSON.stringify(batchKey)} had ${basis.layers} layers, now ${sol.layers}`);
  }
  let autoPart: StagedAuto | null = null;
  if (auto && core.auto) {
    const efficiency = basis ? reuseEfficiency(sol.grams, n, basis.alpha, sol.alpha, damping) : null;
    const solve = solveStart !== null ? auto.clock() - solveStart : null;
    const age = basis ? basis.reuses + 1 : 0;
    const update = (s: AutoState): AutoState => {
      const x = timed(s);
      return efficiency === null ? x : observe(x, age, efficiency, auto);
    };
    autoPart = { update, reason, price, cycle, timing: now === null ? null : { time: now, epoch, fresh: true, solve } };
  }
  const entry: CacheEntry = {
    key: batchKey,
    n,
    layers: sol.layers,
    alpha: sol.alpha,
    damping,
    epoch,
    freshNorm: null,
    freshLoss: null,
    lastLoss: basis?.lastLoss ?? null,
    stale: false,
    reuses: 0,
  };
  return {
    ...staged,
    entry,
    fresh: true,
    jitterRetries: sol.jitterRetries,
    probe: decision === 'probe' && basis && drift ? probe(sol.grams, n, basis, { alpha: sol.alpha, damping }, drift) : null,
    terms: o.adaptive ? modelTerms(sol.grams, n, sol.alpha) : null,
    auto: autoPart,
  };
}
