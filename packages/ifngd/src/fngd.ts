/**
 * The ready-made FNGD optimizer: the coefficient cache and its refresh policy, the reuse guard, the drift
 * policy and adaptive damping around a pure transformation chain
 * `applyIfFinite(chain(scaleByFngd, clip?, momentum?, weightDecay?, scaleByLearningRate))`.
 *
 * Step flow (per mini-batch):
 * 1. `const c = await opt.coefficients({ batchKey, epoch, n, factors: () => layerFactors })` — factors are
 *    requested only on a miss, a refresh or a probe; cached batches never compute a Gram or a Cholesky.
 * 2. The adapter computes the weighted gradient `Jᵀα = Σᵢ αᵢ∇ℓᵢ` (global: ∇ of Σαᵢℓᵢ; layer-wise: each
 *    layer's output-gradients scaled by `c.layer(l)`).
 * 3. `params = opt.step(weighted, params, { coefficients: c, loss })` — direction `λ·Jᵀα`, guard, momentum,
 *    weight decay, learning rate. Optionally `opt.observeLoss(lossAfter)` for adaptive damping.
 *
 * **Every step is a transaction.** `coefficients()` changes nothing: the request's effects (the cache entry of a
 * computed request, counters, drift's probe countdown, `auto`'s timings and observations) are staged in the
 * returned coefficients (`request.ts`). `step()` applies them together with its own effects only when it
 * succeeds; coefficients whose step throws, or that never reach a step, leave no trace. Coefficients commit at
 * most once, and only while the batch's cache entry they were served from is unchanged and no `init`/`restore`
 * came in between (`StaleCoefficientsError` otherwise).
 * @module
 */
import type { LinalgDevice } from '@ifngd/linalg-gpu';
import { CoefficientCache, type BatchKey, type CacheEntry } from './cache.js';
import type { CoefficientRequest, Coefficients, FngdStepExtras } from './coefficients.js';
import type { CoreState } from './core-state.js';
import type { FngdMode } from './curvature.js';
import { InvalidArgumentError, NonFiniteError, NotInitializedError, StaleCoefficientsError } from './errors.js';
import { fngdChain } from './fngd-chain.js';
import { commitRequest, recordStep } from './fngd-commit.js';
import { judge, proposalScalars, type ChainState, type FngdProposal, type ProposalRecord } from './fngd-proposal.js';
import { decodeFngd, encodeFngd, freshCore, freshStats, guardCap, observeLoss, statsView } from './fngd-state.js';
import { checkTicket, coefficientsOf, type TicketRecord } from './fngd-tickets.js';
import { resolveOptions, type FngdOptions, type ResolvedOptions } from './options.js';
import { policyRule } from './policies/registry.js';
import type { RefreshPolicyRule } from './policies/types.js';
import { scheduledRate } from './rate.js';
import { serveRequest, skippedRequest, type StagedRequest } from './request.js';
import type { FngdStats } from './stats.js';
import type { GradientTransformation } from './transform.js';
import { applyIfFinite } from './transforms/apply-if-finite.js';
import { assertSameSpec, hostTreeOps, readNow, type HostTree, type LeafSpec, type TreeOps } from './tree.js';

export type { ChainState, FngdProposal } from './fngd-proposal.js';
export type { CoefficientRequest, Coefficients, FngdStepExtras } from './coefficients.js';

/** The FNGD optimizer. Create it with {@link fngd}. */
export class FngdOptimizer<T = HostTree, S = number> {
  /**
   * The pure transformation (`init` / `update`) the optimizer applies. Its `update` decides finiteness on the
   * host (`applyIfFinite`), so it needs host-readable tree ops; the optimizer's own steps use the chain inside
   * it and decide with one read per step (`propose`/`settle`).
   */
  readonly transformation: GradientTransformation<ChainState, T>;
  /** The chain inside `applyIfFinite`. */
  readonly #inner: GradientTransformation<unknown[], T>;
  readonly #device: LinalgDevice;
  readonly #o: ResolvedOptions;
  readonly #ops: TreeOps<T, S>;
  readonly #maxJitterRetries: number | undefined;
  /** The refresh policy (decide, stage, test reused steps; its state lives in the core state). */
  readonly #rule: RefreshPolicyRule;
  readonly #tickets = new WeakMap<Coefficients, TicketRecord>();
  readonly #proposals = new WeakMap<FngdProposal<T, S>, ProposalRecord<T>>();
  /** Incremented by `init` and `restore`: requests of an older generation cannot commit. */
  #generation = 0;
  #cache = new CoefficientCache();
  #spec: readonly LeafSpec[] | null = null;
  #chain: ChainState | null = null;
  #core: CoreState;
  #stats: FngdStats;

  /** @internal use {@link fngd} */
  constructor(options: FngdOptions<T, S>) {
    this.#o = resolveOptions(options);
    this.#device = options.device;
    this.#ops = options.ops ?? (hostTreeOps as unknown as TreeOps<T, S>);
    this.#maxJitterRetries = options.maxJitterRetries;
    const o = this.#o;
    this.#rule = policyRule(o.policy, { guardCapsAtFreshNorm: o.guard !== null && o.guard.reference === 'batch' && o.guard.factor <= 1 });
    this.#inner = fngdChain(o, this.#ops);
    this.transformation = applyIfFinite(this.#inner, this.#ops) as GradientTransformation<ChainState, T>;
    this.#core = freshCore(o, this.#rule);
    this.#stats = freshStats(o, this.#rule, this.#core);
  }

  /** `'global'` or `'layerwise'`. */
  get mode(): FngdMode {
    return this.#o.mode;
  }

  /** λ used for the next coefficient computation. */
  get damping(): number {
    return this.#core.damping;
  }

  /** A snapshot of the counters. */
  get stats(): FngdStats {
    return statsView(this.#stats, this.#core, this.#rule, this.#cache);
  }

  /** The transformation state (momentum buffers, schedule position, …); null before `init`. */
  get state(): ChainState | null {
    return this.#chain;
  }

  /** The cached entry of a batch (read-only view), if any. */
  cached(key: BatchKey): CacheEntry | undefined {
    return this.#cache.get(key);
  }

  /**
   * Starts (or restarts) training `params`: fresh state, empty cache, zeroed counters. Reads the parameters'
   * finiteness synchronously: tree ops whose reads are asynchronous use {@link FngdOptimizer.initAsync}
   * (`InvalidArgumentError` here). Throws `NonFiniteError` for NaN or ±Infinity parameters; nothing changes then.
   */
  init(params: T): void {
    const spec = this.#ops.spec(params);
    this.#start(params, spec, readNow(this.#ops, [this.#ops.allFinite(params)], 'init')[0] === 1);
  }

  /** {@link FngdOptimizer.init} with an awaited read (tree ops that live on a device). */
  async initAsync(params: T): Promise<void> {
    const spec = this.#ops.spec(params);
    const [finite] = await this.#ops.read([this.#ops.allFinite(params)]);
    this.#start(params, spec, finite === 1);
  }

  #start(params: T, spec: readonly LeafSpec[], finite: boolean): void {
    if (!finite) throw new NonFiniteError('init: parameters hold NaN or ±Infinity');
    const chainState = this.transformation.init(params);
    this.#spec = spec;
    this.#chain = chainState;
    this.#cache = new CoefficientCache();
    this.#core = freshCore(this.#o, this.#rule);
    this.#stats = freshStats(this.#o, this.#rule, this.#core);
    this.#generation++;
  }

  /**
   * Drops the cached coefficients of every batch whose key is not in `keys` — a trainer adopting a new batch
   * plan passes its keys, so batches that no longer exist stop taking memory and checkpoint space. Counted in
   * `stats.evictedBatches`; returns how many were dropped. A request already served for a dropped batch can no
   * longer step (its entry changed).
   */
  retain(keys: Iterable<BatchKey>): number {
    const dropped = this.#cache.retain(keys);
    this.#stats.evictedBatches += dropped;
    return dropped;
  }

  /** Forgets the cached coefficients of one batch (or all), so the next request recomputes them. */
  invalidate(key?: BatchKey): void {
    if (key === undefined) this.#cache.clear();
    else this.#cache.patch(key, { stale: true }, false);
  }

  /**
   * The coefficients for one batch: served from the cache, or computed from `request.factors()` on a miss,
   * a refresh or a drift probe. Changes nothing: the request's effects (cache entry, counters, probe interval,
   * `auto` state) are staged in the returned coefficients and applied by the {@link FngdOptimizer.step} that
   * uses them, only when it succeeds. Throws `InvalidArgumentError` (bad key, epoch, n = 0),
   * `BatchSizeMismatchError`, `ShapeError` (layers with different n), `NonFiniteError`.
   */
  async coefficients(request: CoefficientRequest): Promise<Coefficients> {
    const ctx = {
      device: this.#device,
      options: this.#o,
      maxJitterRetries: this.#maxJitterRetries,
      cache: this.#cache,
      damping: this.#core.damping,
      rule: this.#rule,
      policy: this.#core.policy,
      generation: this.#generation,
    };
    let staged: StagedRequest;
    try {
      staged = await serveRequest(ctx, request);
    } catch (e) {
      // a non-finite Gram or solve (the model's outputs or gradients are NaN): under 'skip' the step is skipped
      if (!(e instanceof NonFiniteError) || this.#o.onNonFinite !== 'skip') throw e;
      staged = skippedRequest(ctx, request.batchKey, request.n, request.epoch);
    }
    return this.#ticket(staged);
  }

  /**
   * One update from the α-weighted gradient: returns the new parameters (inputs are not modified). A step is a
   * transaction: it commits its coefficients' staged request together with its own effects, or throws and
   * changes nothing. Throws `NotInitializedError`, `InvalidArgumentError` (coefficients of another optimizer, a
   * schedule's negative rate, tree ops that read asynchronously: use {@link FngdOptimizer.stepAsync} or
   * `propose`/`settle`), `StaleCoefficientsError` (coefficients already used by a step, requested before
   * `init`/`restore`, or the batch's cache entry changed since), `BatchSizeMismatchError` (another request for the
   * batch with another n committed first), `ShapeError`, `NonFiniteError` (non-finite loss or parameters;
   * gradients, a schedule's NaN/±Infinity rate or an update that is not finite in float32 unless
   * `onNonFinite: 'skip'`, which returns `params` unchanged, commits the coefficients' request and counts the skip).
   * It is `settle(propose(…), read(scalars))` with a synchronous read.
   */
  step(weightedGrads: T, params: T, extras: FngdStepExtras): T {
    const loss = this.#checkStep(extras);
    const p = this.propose(weightedGrads, params, extras);
    let values: readonly number[];
    try {
      values = readNow(this.#ops, p.scalars, 'step');
    } catch (e) {
      this.#void(p);
      throw e;
    }
    return this.settle(p, values, loss === undefined ? {} : { loss });
  }

  /** {@link FngdOptimizer.step} with an awaited read: for tree ops that live on a device. */
  async stepAsync(weightedGrads: T, params: T, extras: FngdStepExtras): Promise<T> {
    const loss = this.#checkStep(extras);
    const p = this.propose(weightedGrads, params, extras);
    let values: readonly number[];
    try {
      values = await this.#ops.read(p.scalars);
    } catch (e) {
      this.#void(p);
      throw e;
    }
    return this.settle(p, values, loss === undefined ? {} : { loss });
  }

  /**
   * The first half of a step: computes the update and the proposed parameters where the trees live, reading
   * nothing, and changes nothing. The guard's factor `min(1, cap/‖d‖)`, clipping and the finiteness checks are
   * scalars of the tree's kind in the returned proposal; read its `scalars` once (an adapter reads them together
   * with the batch loss) and commit with {@link FngdOptimizer.settle}. `extras.loss`, if given, is checked here
   * too. Throws what {@link FngdOptimizer.step} throws before its reads (not initialised, foreign or stale
   * coefficients, shapes, a schedule's rate).
   */
  propose(weightedGrads: T, params: T, extras: FngdStepExtras): FngdProposal<T, S> {
    this.#checkStep(extras);
    const chainState = this.#chain as ChainState;
    const spec = this.#spec as readonly LeafSpec[];
    const c = extras.coefficients;
    const ticket = this.#tickets.get(c) as TicketRecord;
    const ops = this.#ops;
    assertSameSpec(spec, ops.spec(params), 'step: params');
    assertSameSpec(spec, ops.spec(weightedGrads), 'step: gradients');
    const skip = this.#o.onNonFinite === 'skip';
    // the learning rate, evaluated once here and passed down (the chain's last transform takes it from the extras)
    const lr = scheduledRate(this.#o.learningRate, this.#core.step, skip, 'step');
    const staged = ticket.staged;
    const maxNorm = staged.fresh ? undefined : guardCap(this.#o, this.#core, staged.entry);
    const finiteParams = ops.allFinite(params);
    const r = this.#inner.update(weightedGrads, chainState.inner, params, {
      fngd: { damping: c.damping, ...(maxNorm === undefined ? {} : { maxNorm }) },
      learningRate: lr,
    });
    const next = ops.axpy(1, r.updates, params);
    const { slots, scalars } = proposalScalars<S>(finiteParams, ops.allFinite(next), r.state, this.#o.clipNorm !== null);
    const state: ChainState = { ...chainState, inner: r.state };
    const proposal: FngdProposal<T, S> = Object.freeze({ params: next, scalars, state });
    this.#proposals.set(proposal, { coefficients: c, ticket, basis: chainState, params, next, slots, inner: r.state, lr, settled: false });
    return proposal;
  }

  /**
   * The second half of a step: decides with the values of `proposal.scalars` (read once, in order) and commits —
   * the coefficients' staged request, counters, cache signals, transformation state — or throws and changes
   * nothing. Returns the parameters to keep: `proposal.params`, or the step's input `params` when it was skipped
   * (`onNonFinite: 'skip'`). A proposal settles at most once and only while nothing else committed since it was
   * proposed (`StaleCoefficientsError`). Throws as {@link FngdOptimizer.step}; `InvalidArgumentError` for a
   * proposal of another optimizer or values that do not match its scalars.
   */
  settle(proposal: FngdProposal<T, S>, values: readonly number[], extras: { readonly loss?: number } = {}): T {
    const rec = proposal ? this.#proposals.get(proposal) : undefined;
    if (!rec) throw new InvalidArgumentError('settle: the proposal must come from this optimizer\'s propose');
    if (!Array.isArray(values) || values.length !== proposal.scalars.length || values.some((v) => typeof v !== 'number')) {
      throw new InvalidArgumentError(`settle: expected the ${proposal.scalars.length} values of the proposal's scalars, got ${Array.isArray(values) ? `${values.length} values` : String(values)}`);
    }
    if (rec.settled) throw new StaleCoefficientsError('settle: this proposal was already settled');
    if (typeof extras !== 'object' || extras === null) throw new InvalidArgumentError('settle: extras must be an object');
    const loss = extras.loss;
    const skip = this.#o.onNonFinite === 'skip';
    // a non-finite batch loss (the model's outputs): thrown under 'throw', a skipped step under 'skip'
    const badLoss = loss !== undefined && !Number.isFinite(loss);
    if (badLoss && !skip) throw new NonFiniteError(`step: loss is ${String(loss)}`);
    checkTicket(rec.ticket, this.#generation, this.#cache);
    if (this.#chain !== rec.basis) throw new StaleCoefficientsError('settle: the optimizer committed another step since this one was proposed; propose it again');
    const staged = rec.ticket.staged;
    const v = judge(rec as ProposalRecord<unknown>, values, { skip, badLoss, skipped: staged.skip === true });
    // --- commit (nothing below throws) ---
    rec.settled = true;
    rec.ticket.committed = true;
    const chainState = rec.basis;
    this.#core = commitRequest(staged, this.#core, this.#cache, this.#stats);
    if (!v.applied) {
      this.#stats.skippedSteps++;
      this.#chain = { ...chainState, consecutive: chainState.consecutive + 1, skipped: chainState.skipped + 1, lastApplied: false };
    } else {
      this.#chain = { inner: v.inner, consecutive: 0, skipped: chainState.skipped, lastApplied: true };
      const state = { core: this.#core, cache: this.#cache, stats: this.#stats, rule: this.#rule };
      this.#core = recordStep(state, rec.coefficients, staged, { norm: v.scale.lastNorm, scale: v.scale.lastScale, lr: rec.lr, loss });
    }
    this.#evict();
    return v.applied ? rec.next : rec.params;
  }

  /** Drops the least recently used batches beyond `maxCachedBatches` (after a step: its batch is the most recent). */
  #evict(): void {
    if (this.#o.maxCachedBatches !== null) this.#stats.evictedBatches += this.#cache.evictOldest(this.#o.maxCachedBatches);
  }

  /** The checks every step starts with (before any tree op); returns the loss. */
  #checkStep(extras: FngdStepExtras): number | undefined {
    if (!this.#chain || !this.#spec) throw new NotInitializedError('step: call init(params) (or restore) first');
    if (typeof extras !== 'object' || extras === null) throw new InvalidArgumentError('step: extras must be an object');
    const c = extras.coefficients;
    const ticket = c ? this.#tickets.get(c) : undefined;
    if (!c || !ticket) throw new InvalidArgumentError('step: extras.coefficients must come from this optimizer');
    checkTicket(ticket, this.#generation, this.#cache);
    const loss = extras.loss;
    if (loss !== undefined && !Number.isFinite(loss) && this.#o.onNonFinite !== 'skip') throw new NonFiniteError(`step: loss is ${String(loss)}`);
    return loss;
  }

  /** Marks a proposal that will never settle (its read failed). */
  #void(p: FngdProposal<T, S>): void {
    const rec = this.#proposals.get(p);
    if (rec) rec.settled = true;
  }

  /**
   * Adaptive damping: the batch loss after the last step (same batch, new parameters). Adjusts λ by the
   * Levenberg–Marquardt rule when the last step used fresh coefficients; otherwise a no-op. Returns ρ or null.
   * Throws `NonFiniteError` for a loss that is not a finite number (whether or not λ would change); nothing
   * changes then.
   */
  observeLoss(lossAfter: number): number | null {
    const r = observeLoss(this.#o, this.#core, this.#stats, lossAfter);
    this.#core = r.core;
    return r.rho;
  }

  /** Checkpoint of the optimizer state and the coefficient cache (versioned, CRC-32). */
  serialize(): Uint8Array {
    if (!this.#chain || !this.#spec) throw new NotInitializedError('serialize: call init(params) first');
    return encodeFngd(this.#o, this.#rule, { spec: this.#spec, chain: this.#chain, core: this.#core, stats: this.#stats, cache: this.#cache, ops: this.#ops });
  }

  /**
   * Restores a checkpoint made by {@link FngdOptimizer.serialize} of the same model (call `init(params)` first).
   * A checkpoint of another refresh policy converts: the cached coefficients, counters and transformation state
   * are kept (a cache entry is a policy-independent fact, and a stale mark is honoured by every policy); the
   * policy's own state (drift's probe countdown, its interval clamped to this optimizer's bounds; `auto`'s learned
   * model) is kept from the same policy and starts fresh from another (each policy's `decode`). Coefficients requested before the restore can no
   * longer be used by `step`. Throws `CheckpointError` (format, version, checksum, other model or
   * configuration, a policy state that contradicts its policy); nothing changes then.
   */
  restore(bytes: Uint8Array): void {
    if (!this.#chain || !this.#spec) throw new NotInitializedError('restore: call init(params) first');
    const r = decodeFngd(bytes, this.#o, this.#rule, { spec: this.#spec, chain: this.#chain, ops: this.#ops });
    this.#chain = r.chain as ChainState;
    this.#core = r.core;
    this.#stats = r.stats;
    this.#cache = r.cache;
    this.#generation++;
  }

  #ticket(staged: StagedRequest): Coefficients {
    const c = coefficientsOf(staged);
    this.#tickets.set(c, { staged, committed: false });
    return c;
  }
}

/**
 * The ready-made FNGD optimizer (see {@link FngdOptions}). `fngd({ device })` alone trains with
 * `FNGD_DEFAULTS`; explicit options override them and are validated (`InvalidArgumentError`).
 */
export function fngd<T = HostTree, S = number>(options: FngdOptions<T, S>): FngdOptimizer<T, S> {
  return new FngdOptimizer(options);
}
