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
 * @module
 */
import type { LayerFactors } from '@ifngd/fisher';
import type { LinalgDevice } from '@ifngd/linalg-gpu';
import { autoDecision, emptyAutoState, observe, observeLoss, recordTiming, reuseEfficiency, type AutoReason } from './auto.js';
import { CoefficientCache, cacheKey, type BatchKey, type CacheEntry } from './cache.js';
import { solveCurvature, type FngdMode } from './curvature.js';
import { adaptDamping, predictedReduction } from './damping.js';
import { nextProbeInterval, probe, reuseSignals, shiftSignal } from './drift.js';
import { InvalidArgumentError, NonFiniteError, NotInitializedError } from './errors.js';
import { modelTerms } from './gram-math.js';
import { restoreCheckpoint, serializeCheckpoint, type CoreState } from './optimizer-checkpoint.js';
import { resolveOptions, type FngdOptions, type ResolvedOptions } from './options.js';
import { decide, type Decision } from './refresh.js';
import { cloneStats, emptyStats, type FngdStats } from './stats.js';
import { chain, type GradientTransformation } from './transform.js';
import { applyIfFinite, type ApplyIfFiniteState } from './transforms/apply-if-finite.js';
import { clipByGlobalNorm } from './transforms/clip.js';
import { scaleByFngd, type FngdScaleState } from './transforms/fngd-scale.js';
import { scaleByLearningRate, type LearningRateState } from './transforms/learning-rate.js';
import { momentum } from './transforms/momentum.js';
import { weightDecay } from './transforms/weight-decay.js';
import { assertSameSpec, hostTreeOps, type HostTree, type LeafSpec, type TreeOps } from './tree.js';

/** A request for one batch's coefficients. */
export interface CoefficientRequest {
  /** The batch's key (the partition of samples into batches is fixed; the order may shuffle). */
  readonly batchKey: BatchKey;
  /** Current epoch (integer ≥ 0). */
  readonly epoch: number;
  /** Samples in the batch (≥ 1). */
  readonly n: number;
  /**
   * Called only when coefficients must be computed; returns one `LayerFactors` per layer (in layer order).
   * The optimizer does not dispose them.
   */
  readonly factors: () => readonly LayerFactors[] | Promise<readonly LayerFactors[]>;
}

/** Coefficients for one step: α = (G + nλI)⁻¹1 (global) or one αₗ per layer. */
export interface Coefficients {
  readonly batchKey: BatchKey;
  readonly n: number;
  /** 1 (global) or L (layer-wise). */
  readonly layers: number;
  /** α, layer-major (`layers·n`); a copy. */
  readonly alpha: Float32Array;
  /** λ they were computed with (the direction is λ·Jᵀα). */
  readonly damping: number;
  /** Computed for this request (miss, refresh or probe) rather than reused. */
  readonly fresh: boolean;
  /** How the request was served. */
  readonly source: Decision;
  /** αₗ of layer `l` (a view of `alpha`). */
  layer(l: number): Float32Array;
}

/** Extras of {@link FngdOptimizer.step}. */
export interface FngdStepExtras {
  /** The coefficients the weighted gradient was computed with. */
  readonly coefficients: Coefficients;
  /** Mean loss of the batch at the current parameters (drift loss test, adaptive damping). */
  readonly loss?: number;
}

interface Ticket {
  readonly terms: { linear: number; curvature: number } | null;
}

/** State of the optimizer's transformation chain (`applyIfFinite` around the chained transforms' states). */
export type ChainState = ApplyIfFiniteState<unknown[]>;

/** The FNGD optimizer. Create it with {@link fngd}. */
export class FngdOptimizer<T = HostTree> {
  /** The pure transformation (`init` / `update`) the optimizer applies. */
  readonly transformation: GradientTransformation<ChainState, T>;
  readonly #device: LinalgDevice;
  readonly #o: ResolvedOptions;
  readonly #ops: TreeOps<T>;
  readonly #maxJitterRetries: number | undefined;
  readonly #tickets = new WeakMap<Coefficients, Ticket>();
  #cache = new CoefficientCache();
  #spec: readonly LeafSpec[] | null = null;
  #chain: ChainState | null = null;
  #core: CoreState;
  #stats: FngdStats;
  /** `auto` with a measured price: when and how the previous request was served (not checkpointed). */
  #lastRequest: { time: number; epoch: number; fresh: boolean } | null = null;

  /** @internal use {@link fngd} */
  constructor(options: FngdOptions<T>) {
    this.#o = resolveOptions(options);
    this.#device = options.device;
    this.#ops = options.ops ?? (hostTreeOps as unknown as TreeOps<T>);
    this.#maxJitterRetries = options.maxJitterRetries;
    const o = this.#o;
    const ops = this.#ops;
    const parts: GradientTransformation<any, T>[] = [scaleByFngd(ops)];
    if (o.clipNorm !== null) parts.push(clipByGlobalNorm(o.clipNorm, ops));
    if (o.momentum) parts.push(momentum(o.momentum, ops));
    if (o.weightDecay > 0) parts.push(weightDecay(o.weightDecay, ops));
    parts.push(scaleByLearningRate(o.learningRate, ops));
    this.transformation = applyIfFinite(chain<T, GradientTransformation<any, T>[]>(...parts), ops) as GradientTransformation<ChainState, T>;
    this.#core = this.#freshCore();
    this.#stats = emptyStats(o.damping, this.#core.probeInterval);
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
    const s = cloneStats(this.#stats);
    s.damping.current = this.#core.damping;
    s.drift.probeInterval = this.#core.probeInterval;
    s.guard.maxFreshNorm = this.#core.maxFreshNorm;
    s.cachedBatches = this.#cache.size;
    s.cachedFloats = this.#cache.floats;
    return s;
  }

  /** The transformation state (momentum buffers, schedule position, …); null before `init`. */
  get state(): ChainState | null {
    return this.#chain;
  }

  /** The cached entry of a batch (read-only view), if any. */
  cached(key: BatchKey): CacheEntry | undefined {
    return this.#cache.get(key);
  }

  /** Starts (or restarts) training `params`: fresh state, empty cache, zeroed counters. */
  init(params: T): void {
    const spec = this.#ops.spec(params);
    if (!this.#ops.allFinite(params)) throw new NonFiniteError('init: parameters hold NaN or ±Infinity');
    const chainState = this.transformation.init(params);
    this.#spec = spec;
    this.#chain = chainState;
    this.#cache = new CoefficientCache();
    this.#core = this.#freshCore();
    this.#stats = emptyStats(this.#o.damping, this.#core.probeInterval);
    this.#lastRequest = null;
  }

  /** Forgets the cached coefficients of one batch (or all), so the next request recomputes them. */
  invalidate(key?: BatchKey): void {
    if (key === undefined) this.#cache.clear();
    else this.#cache.patch(key, { stale: true });
  }

  /**
   * The coefficients for one batch: served from the cache, or computed from `request.factors()` on a miss,
   * a refresh or a drift probe. Throws `InvalidArgumentError` (bad key, epoch, n = 0),
   * `BatchSizeMismatchError`, `ShapeError` (layers with different n), `NonFiniteError`; nothing changes then.
   */
  async coefficients(request: CoefficientRequest): Promise<Coefficients> {
    const { batchKey, epoch, n } = request;
    cacheKey(batchKey);
    if (!Number.isSafeInteger(epoch) || epoch < 0) throw new InvalidArgumentError(`coefficients: epoch must be an integer ≥ 0, got ${String(epoch)}`);
    if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`coefficients: n must be an integer ≥ 1, got ${String(n)}`);
    if (typeof request.factors !== 'function') throw new InvalidArgumentError('coefficients: factors must be a function');
    this.#cache.checkN(batchKey, n);
    const entry = this.#cache.get(batchKey);
    const policy = this.#o.policy;
    const drift = policy.kind === 'drift' ? policy.drift : null;
    const auto = policy.kind === 'auto' ? policy.auto : null;
    const probeDue = drift !== null && this.#core.sinceProbe >= this.#core.probeInterval;
    // `auto`: the period since the previous request is one step's cost, cached or computed (same epoch only)
    const now = auto && auto.price === 'measured' ? auto.clock() : null;
    let autoState = this.#core.auto;
    const last = this.#lastRequest;
    if (autoState && now !== null && last && last.epoch === epoch) {
      autoState = recordTiming(autoState, last.fresh ? 'freshPeriods' : 'cachedPeriods', now - last.time);
    }
    let reason: AutoReason = null;
    let price: number | null = null;
    let cycle: number | null = null;
    if (auto && autoState && entry && !entry.stale) {
      const d = autoDecision(autoState, entry.reuses, auto);
      reason = d.reason;
      price = d.price;
      cycle = d.cycle;
    }
    const decision = decide(policy, entry, epoch, probeDue, reason !== null);
    if (decision === 'hit' && entry) {
      this.#stats.cacheHits++;
      if (drift) this.#core = { ...this.#core, sinceProbe: this.#core.sinceProbe + 1 };
      if (autoState) this.#commitAuto(autoState, price, cycle, now, epoch, false);
      return this.#ticket(entry, false, decision, null);
    }
    const damping = this.#core.damping;
    const factors = await request.factors();
    const sol = await solveCurvature(this.#device, factors, {
      mode: this.#o.mode,
      damping,
      n,
      ...(this.#maxJitterRetries === undefined ? {} : { maxJitterRetries: this.#maxJitterRetries }),
    });
    if (entry && entry.layers !== sol.layers) {
      throw new InvalidArgumentError(`coefficients: batch ${JSON.stringify(batchKey)} had ${entry.layers} layers, now ${sol.layers}`);
    }
    // --- commit (nothing below throws) ---
    const s = this.#stats;
    if (auto && autoState) {
      if (now !== null) autoState = recordTiming(autoState, 'work', auto.clock() - now);
      if (entry && entry.layers === sol.layers) {
        autoState = observe(autoState, entry.reuses + 1, reuseEfficiency(sol.grams, n, entry.alpha, sol.alpha, damping), auto);
      }
      if (reason === 'warmup') s.auto.refreshes.warmup++;
      else if (reason === 'roi') s.auto.refreshes.roi++;
      else if (reason === 'max-age') s.auto.refreshes.maxAge++;
      this.#commitAuto(autoState, price, cycle, now, epoch, true);
    }
    s.factorizations++;
    s.jitterRetries += sol.jitterRetries;
    if (decision === 'miss') s.cacheMisses++;
    else if (decision === 'refresh') s.refreshes++;
    else if (decision === 'probe' && entry && drift) {
      const r = probe(sol.grams, n, entry, { alpha: sol.alpha, damping }, drift);
      s.drift.probes++;
      if (r.failed) s.drift.probeFailures++;
      s.drift.lastProbe = { directionCosine: r.directionCosine, alphaCosine: r.alphaCosine, lengthRatio: r.lengthRatio };
      this.#core = { ...this.#core, sinceProbe: 0, probeInterval: nextProbeInterval(this.#core.probeInterval, r.failed, drift) };
    }
    const fresh: CacheEntry = {
      key: batchKey,
      n,
      layers: sol.layers,
      alpha: sol.alpha,
      damping,
      epoch,
      freshNorm: null,
      freshLoss: null,
      lastLoss: entry?.lastLoss ?? null,
      stale: false,
      reuses: 0,
    };
    this.#cache.set(fresh);
    const terms = this.#o.adaptive ? modelTerms(sol.grams, n, sol.alpha) : null;
    return this.#ticket(fresh, true, decision, terms);
  }

  /**
   * One update from the α-weighted gradient: returns the new parameters (inputs are not modified). Throws
   * `ShapeError`, `NonFiniteError` (non-finite parameters; gradients unless `onNonFinite: 'skip'`, which
   * returns `params` unchanged and counts the skip); nothing changes then.
   */
  step(weightedGrads: T, params: T, extras: FngdStepExtras): T {
    const chainState = this.#chain;
    const spec = this.#spec;
    if (!chainState || !spec) throw new NotInitializedError('step: call init(params) (or restore) first');
    const c = extras?.coefficients;
    const ticket = c ? this.#tickets.get(c) : undefined;
    if (!c || !ticket) throw new InvalidArgumentError('step: extras.coefficients must come from this optimizer');
    const loss = extras.loss;
    if (loss !== undefined && !Number.isFinite(loss)) throw new NonFiniteError(`step: loss is ${String(loss)}`);
    const ops = this.#ops;
    assertSameSpec(spec, ops.spec(params), 'step: params');
    assertSameSpec(spec, ops.spec(weightedGrads), 'step: gradients');
    if (!ops.allFinite(params)) throw new NonFiniteError('step: parameters hold NaN or ±Infinity');
    const skip = this.#o.onNonFinite === 'skip';
    if (!skip && !ops.allFinite(weightedGrads)) throw new NonFiniteError('step: gradients hold NaN or ±Infinity');

    const entry = this.#cache.get(c.batchKey);
    const core = this.#core;
    const maxNorm = c.fresh ? undefined : this.#cap(entry);
    const r = this.transformation.update(weightedGrads, chainState, params, {
      fngd: { damping: c.damping, ...(maxNorm === undefined ? {} : { maxNorm }) },
      ...(loss === undefined ? {} : { loss }),
    });
    let next = r.state.lastApplied ? ops.axpy(1, r.updates, params) : params;
    let applied = r.state.lastApplied;
    if (applied && !ops.allFinite(next)) {
      if (!skip) throw new NonFiniteError('step: the update made the parameters non-finite');
      applied = false;
      next = params;
    }
    // --- commit (nothing below throws) ---
    const s = this.#stats;
    if (!applied) {
      s.skippedSteps++;
      this.#chain = r.state.lastApplied ? { ...chainState, consecutive: chainState.consecutive + 1, skipped: chainState.skipped + 1, lastApplied: false } : r.state;
      return params;
    }
    this.#chain = r.state;
    s.steps++;
    const scale = r.state.inner[0] as FngdScaleState;
    const lr = this.#o.learningRate((chainState.inner[chainState.inner.length - 1] as LearningRateState).count);
    let nextCore: CoreState = { ...core, step: core.step + 1 };
    if (entry && c.fresh) {
      this.#cache.patch(c.batchKey, { freshNorm: scale.lastNorm, freshLoss: loss ?? null, lastLoss: loss ?? entry.lastLoss });
      nextCore.maxFreshNorm = Math.max(core.maxFreshNorm, scale.lastNorm);
      nextCore.pending = ticket.terms && loss !== undefined ? { lossBefore: loss, predicted: predictedReduction(lr, c.damping, ticket.terms) } : null;
    } else if (entry) {
      s.guard.reusedSteps++;
      const capped = scale.lastScale < 1;
      if (capped) s.guard.capped++;
      const p = this.#o.policy;
      const tests =
        p.kind === 'drift'
          ? p.drift
          : p.kind === 'auto'
            ? { lengthRatio: p.auto.lengthRatio, lossRatio: null, markOnCap: false, probeEvery: 1, minProbeEvery: 1, maxProbeEvery: 1, minCosine: 0 }
            : null;
      const reuse = reuseSignals(entry, { norm: scale.lastNorm, capped, loss }, tests);
      const shifted = p.kind === 'auto' && reuse.stale === null && shiftSignal(entry, loss, p.auto.lossRatio, core.auto?.meanLoss ?? null);
      const sig = shifted ? { ...reuse, stale: 'loss' as const } : reuse;
      s.guard.lastLengthRatio = sig.lengthRatio;
      if (sig.lengthRatio !== null) s.guard.maxLengthRatio = Math.max(s.guard.maxLengthRatio, sig.lengthRatio);
      if (sig.stale) s.drift.staleMarks[sig.stale]++;
      this.#cache.patch(c.batchKey, { reuses: entry.reuses + 1, lastLoss: loss ?? entry.lastLoss, ...(sig.stale ? { stale: true } : {}) });
      nextCore.pending = null;
    }
    if (nextCore.auto) nextCore.auto = observeLoss(nextCore.auto, loss);
    this.#core = nextCore;
    return next;
  }

  /**
   * Adaptive damping: the batch loss after the last step (same batch, new parameters). Adjusts λ by the
   * Levenberg–Marquardt rule when the last step used fresh coefficients; otherwise a no-op. Returns ρ or null.
   */
  observeLoss(lossAfter: number): number | null {
    const a = this.#o.adaptive;
    const p = this.#core.pending;
    if (!a || !p) return null;
    if (!Number.isFinite(lossAfter)) throw new NonFiniteError(`observeLoss: loss is ${String(lossAfter)}`);
    // a non-positive predicted reduction: the quadratic model itself rejects the step → trust F less (λ up)
    const { damping, rho } =
      p.predicted > 0
        ? adaptDamping(this.#core.damping, p.lossBefore, lossAfter, p.predicted, a)
        : { damping: Math.min(a.max, this.#core.damping * a.factor), rho: -Infinity };
    if (damping > this.#core.damping) this.#stats.damping.increases++;
    if (damping < this.#core.damping) this.#stats.damping.decreases++;
    this.#stats.damping.lastRho = rho;
    this.#core = { ...this.#core, damping, pending: null };
    return rho;
  }

  /** Checkpoint of the optimizer state and the coefficient cache (versioned, CRC-32). */
  serialize(): Uint8Array {
    if (!this.#chain || !this.#spec) throw new NotInitializedError('serialize: call init(params) first');
    return serializeCheckpoint({
      spec: this.#spec,
      mode: this.#o.mode,
      chain: this.#chain,
      core: this.#core,
      stats: this.#stats,
      cache: this.#cache.entries(),
      ops: this.#ops,
    });
  }

  /**
   * Restores a checkpoint made by {@link FngdOptimizer.serialize} of the same model (call `init(params)` first).
   * Throws `CheckpointError` (format, version, checksum, other model or configuration); nothing changes then.
   */
  restore(bytes: Uint8Array): void {
    if (!this.#chain || !this.#spec) throw new NotInitializedError('restore: call init(params) first');
    const r = restoreCheckpoint(bytes, { spec: this.#spec, mode: this.#o.mode, chain: this.#chain, ops: this.#ops });
    this.#chain = r.chain as ChainState;
    // the `auto` state follows this optimizer's policy: learned state kept, a fresh one from another policy
    const auto = this.#o.policy.kind === 'auto' ? (r.core.auto ?? emptyAutoState()) : null;
    this.#core = { ...r.core, auto };
    this.#stats = r.stats;
    this.#cache.replaceAll(r.cache);
    this.#lastRequest = null;
  }

  #freshCore(): CoreState {
    const p = this.#o.policy;
    return {
      step: 0,
      damping: this.#o.damping,
      maxFreshNorm: 0,
      probeInterval: p.kind === 'drift' ? p.drift.probeEvery : 0,
      sinceProbe: 0,
      pending: null,
      auto: p.kind === 'auto' ? emptyAutoState() : null,
    };
  }

  /** Stores the `auto` state, its counters, and the time and kind of this request. */
  #commitAuto(state: NonNullable<CoreState['auto']>, price: number | null, cycle: number | null, now: number | null, epoch: number, fresh: boolean): void {
    this.#core = { ...this.#core, auto: state };
    const a = this.#stats.auto;
    if (price !== null) a.price = price;
    a.rate = state.rate;
    a.observations = state.observations;
    a.last = state.last;
    if (cycle !== null) a.cycle = cycle; // the cycle of the last model decision
    this.#lastRequest = now === null ? null : { time: now, epoch, fresh };
  }

  #cap(entry: CacheEntry | undefined): number | undefined {
    const g = this.#o.guard;
    if (!g) return undefined;
    const ref = g.reference === 'batch' ? entry?.freshNorm ?? null : this.#core.maxFreshNorm;
    return ref !== null && ref > 0 ? g.factor * ref : undefined;
  }

  #ticket(entry: CacheEntry, fresh: boolean, source: Decision, terms: Ticket['terms']): Coefficients {
    const alpha = entry.alpha.slice();
    const n = entry.n;
    const c: Coefficients = Object.freeze({
      batchKey: entry.key,
      n,
      layers: entry.layers,
      alpha,
      damping: entry.damping,
      fresh,
      source,
      layer: (l: number) => {
        if (!Number.isSafeInteger(l) || l < 0 || l >= entry.layers) throw new InvalidArgumentError(`layer ${l} of ${entry.layers}`);
        return alpha.subarray(l * n, (l + 1) * n);
      },
    });
    this.#tickets.set(c, { terms });
    return c;
  }
}

/**
 * The ready-made FNGD optimizer (see {@link FngdOptions}). `fngd({ device })` alone trains with
 * `FNGD_DEFAULTS`; explicit options override them and are validated (`InvalidArgumentError`).
 */
export function fngd<T = HostTree>(options: FngdOptions<T>): FngdOptimizer<T> {
  return new FngdOptimizer(options);
}
