/**
 * Serving one coefficient request without changing anything: the refresh decision (the policy's, for a cached
 * batch), the computation on a miss, a refresh or a probe, and every effect the request will have — cache
 * entry, counters, the policy's state — *staged* in a {@link StagedRequest}. The optimizer applies it only when
 * the step that uses the coefficients succeeds (`FngdOptimizer.settle`), so a request whose step never succeeds
 * leaves no trace.
 * @module
 */
import type { LinalgDevice } from '@ifngd/linalg-gpu';
import { cacheKey, type BatchKey, type CacheEntry, type CoefficientCache } from './cache.js';
import type { CoefficientRequest } from './coefficients.js';
import { solveCurvature } from './curvature.js';
import { InvalidArgumentError } from './errors.js';
import { modelTerms } from './gram-math.js';
import type { ResolvedOptions } from './options.js';
import type { Decision, PolicyEffect, RefreshPolicyRule } from './policies/types.js';

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
  /** The refresh policy's effect (null: none). */
  readonly policy: PolicyEffect<unknown> | null;
  /**
   * The coefficients could not be computed (a non-finite Gram or solve under `onNonFinite: 'skip'`): α is zero,
   * and the step that uses them is a counted skip that commits nothing of the request.
   */
  readonly skip?: true;
}

/** What serving a request reads (never writes). */
export interface RequestContext {
  readonly device: LinalgDevice;
  readonly options: ResolvedOptions;
  readonly maxJitterRetries: number | undefined;
  readonly cache: CoefficientCache;
  /** λ for a computation. */
  readonly damping: number;
  readonly rule: RefreshPolicyRule;
  /** The policy's state now. */
  readonly policy: unknown;
  readonly generation: number;
}

/**
 * The staged request of a batch whose coefficients could not be computed (`onNonFinite: 'skip'`): zero α in one
 * block, the current damping, no effect when committed but the skip.
 */
export function skippedRequest(ctx: Pick<RequestContext, 'cache' | 'damping' | 'generation'>, key: BatchKey, n: number, epoch: number): StagedRequest {
  const basis = ctx.cache.get(key);
  const entry: CacheEntry = {
    key,
    n,
    layers: 1,
    alpha: new Float32Array(n),
    damping: ctx.damping,
    epoch,
    freshNorm: null,
    freshLoss: null,
    lastLoss: null,
    stale: true,
    reuses: 0,
  };
  return { generation: ctx.generation, basis, decision: basis ? 'refresh' : 'miss', entry, fresh: true, terms: null, jitterRetries: 0, policy: null, skip: true };
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
 * the request's and the solver's errors. A miss is computed; so is a stale entry (drift's and auto's tests,
 * `invalidate(key)`, a checkpoint of another policy), whatever the policy; a cached entry is served as the
 * policy decides.
 */
export async function serveRequest(ctx: RequestContext, request: CoefficientRequest): Promise<StagedRequest> {
  checkRequest(request, ctx.cache);
  const { batchKey, epoch, n } = request;
  const basis = ctx.cache.get(batchKey);
  const plan = ctx.rule.plan(ctx.policy, { entry: basis, epoch });
  const decision: Decision = !basis ? 'miss' : basis.stale ? 'refresh' : plan.decision;
  const staged = { generation: ctx.generation, basis, decision, jitterRetries: 0, terms: null };
  if (decision === 'hit' && basis) return { ...staged, entry: basis, fresh: false, policy: plan.reuse() };
  const damping = ctx.damping;
  const factors = await request.factors();
  const computed = plan.compute(decision);
  const sol = await solveCurvature(ctx.device, factors, {
    mode: ctx.options.mode,
    damping,
    n,
    ...(ctx.maxJitterRetries === undefined ? {} : { maxJitterRetries: ctx.maxJitterRetries }),
  });
  if (basis && basis.layers !== sol.layers) {
    throw new InvalidArgumentError(`coefficients: batch ${JSON.stringify(batchKey)} had ${basis.layers} layers, now ${sol.layers}`);
  }
  const policy = computed({ grams: sol.grams, n, alpha: sol.alpha, damping, basis });
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
    terms: ctx.options.adaptive ? modelTerms(sol.grams, n, sol.alpha) : null,
    policy,
  };
}
