/**
 * The ready-made KFAC optimizer (Martens & Grosse 2015; KFC for convolutions, Grosse & Martens 2016) on the
 * same layer factors and linalg device as FNGD. Per KFAC layer l, with W̄ₗ its weight with the bias as the
 * extra input (`layout.ts`):
 * 1. every `factorEvery` steps: running averages (first-step initialisation, decay β) of `Aₗ = āᵀā/n` and
 *    `Gₗ = ΔᵀΔ/n` from the layer factors — Δ from the *summed* loss, so `Gₗ ⊗ Aₗ` approximates the empirical
 *    Fisher block of the *mean* loss (`statistics.ts`);
 * 2. every `inverseEvery` steps: the damped inverses `(Aₗ + π√λI)⁻¹`, `(Gₗ + (√λ/π)I)⁻¹` (π-rule,
 *    `pi-damping.ts`), batched by size on the device (`inverse.ts`);
 * 3. every step: `Vₗ = Gₗ⁻¹·∇W̄ₗ·Aₗ⁻¹` from the *mean*-loss gradient (`precondition.ts`); the `diagonal` leaves
 *    divided by their damped empirical-Fisher diagonal (`diagonal.ts`); other leaves keep their gradient; then the pure chain `applyIfFinite(chain(scaleByKfac (KL clip), clip?, momentum?,
 *    weightDecay?, scaleByLearningRate))` (`chain.ts`).
 *
 * All a trainer provides per step:
 * ```ts
 * params = await opt.step(meanLossGrads, params, { factors: () => layerFactors() }); // called only when due
 * ```
 * A step that throws is a transaction that never happened: running averages, inverses, transformation state
 * and counters are only replaced after everything succeeded. A skipped step (`onNonFinite: 'skip'`) changes
 * only the skip counters (its factors are not absorbed and the step count does not advance).
 * @module
 */
import type { LayerFactors } from '@ifngd/fisher';
import type { LinalgDevice } from '@ifngd/linalg-gpu';
import { adaptedDamping, adaptsOn, dot, freshAdaptive, modelChange, sampleProducts, solveQuadratic, type KfacAdaptiveState, type ResolvedAdaptive } from './adaptive.js';
import { InvalidArgumentError, NonFiniteError, NotInitializedError, ShapeError } from '../errors.js';
import { scheduledRate } from '../rate.js';
import type { GradientTransformation } from '../transform.js';
import { assertSameSpec, hostTreeOps, type HostTree, type LeafSpec, type TreeOps } from '../tree.js';
import { kfacScaleState, kfacTransformation, skippedChain, type KfacChainState } from './chain.js';
import { klClipScale } from './scale.js';
import { restoreKfac, serializeKfac, type KfacCore } from './checkpoint.js';
import { updateCurvature, type FactorSource } from './curvature.js';
import {
  absorbDiagonal,
  emptyDiagonalState,
  loadSecondMoments,
  preconditionDiagonal,
  refreshDiagonal,
  type KfacDiagonalState,
  type SecondMomentSource,
} from './diagonal.js';
import { disposeInverses, emptyLayerState, uploadInverses, type KfacLayerState } from './layer-state.js';
import { resolveKfacOptions, type KfacLayer, type KfacOptions, type ResolvedKfacOptions } from './options.js';
import { precondition, type DeviceInverses } from './precondition.js';
import { kfacStats, type KfacStats } from './stats.js';

/** Extras of {@link KfacOptimizer.step}. */
export interface KfacStepExtras<T = HostTree> {
  /**
   * This batch's layer factors, one per entry of `layers`, in order (dense: inputs `[n, din]` and Δ `[n, dout]`;
   * conv2d: patches `[n, T, k]` and Δ `[n, T, c]`; Δ = output-gradients of the *summed* loss, as fisher's
   * `LayerFactors`). A function is called only when the running averages are due ({@link KfacOptimizer.factorsDue});
   * required then, ignored otherwise. The optimizer does not dispose them.
   */
  readonly factors?: FactorSource;
  /**
   * The `diagonal` leaves' per-sample second moments `(1/n)·Σᵢ (∂ℓᵢ/∂θₖ)²` (one array per leaf), or a function
   * giving them; needed exactly when `factors` are (and the optimizer has diagonal leaves).
   */
  readonly secondMoments?: SecondMomentSource;
  /**
   * Gradients added to the preconditioned direction, by leaf — a regularizer's penalty gradient ∇R, not
   * preconditioned (kfac-pytorch's weight decay) — before clipping, momentum and the learning rate; not part of
   * the KL clip's `Σ⟨V, g⟩`.
   */
  readonly penaltyGrads?: Readonly<Record<string, Float32Array>>;
  /** Mean loss of the batch (passed to the transforms; the adaptive mode's ρ needs it). */
  readonly loss?: number;
  /**
   * The batch's mean loss at other parameters (the same samples and targets): the adaptive mode calls it with the
   * proposed parameters every `adaptive.interval` steps, for the Levenberg–Marquardt ratio ρ.
   */
  readonly lossAt?: (params: T) => Promise<number>;
  /**
   * The batch's Gauss–Newton matrix along host vectors (k×k, row-major; `StepCapture.gaussNewton`): the adaptive
   * mode's curvature with `quadraticModel: 'gauss-newton'`, required on every step and called at most once per step
   * (with a fixed learning rate and momentum, only on the steps that adapt λ).
   */
  readonly gaussNewton?: (vectors: readonly HostTree[]) => Promise<number[]>;
}

const freshCore = (): KfacCore => ({
  step: 0,
  skippedSteps: 0,
  factorUpdates: 0,
  inverseRefreshes: 0,
  lastRefreshStep: null,
});

/**
 * `dir + penalty` leaf by leaf (new arrays for the penalized leaves); checks names and sizes. A non-finite penalty
 * makes the update non-finite, which the step's one `onNonFinite` rule then decides.
 */
function withPenalty(
  dir: Record<string, Float32Array>,
  penalty: Readonly<Record<string, Float32Array>> | undefined,
  sizes: ReadonlyMap<string, number>,
): Record<string, Float32Array> {
  if (penalty === undefined) return dir;
  if (typeof penalty !== 'object' || penalty === null) throw new InvalidArgumentError('step: extras.penaltyGrads must be an object of arrays by leaf');
  for (const [name, p] of Object.entries(penalty)) {
    if (!sizes.has(name)) throw new InvalidArgumentError(`step: extras.penaltyGrads has leaf '${name}', which is not a parameter`);
    if (!(p instanceof Float32Array) || p.length !== sizes.get(name)) {
      throw new ShapeError(`step: extras.penaltyGrads['${name}'] must be a Float32Array of ${String(sizes.get(name))} values`);
    }
    const d = dir[name] as Float32Array;
    dir[name] = d.map((v, i) => v + (p[i] as number));
  }
  return dir;
}

/** The KFAC optimizer. Create it with {@link kfac}. */
export class KfacOptimizer<T = HostTree> {
  /** The pure transformation (`init` / `update`) applied to the preconditioned direction. */
  readonly transformation: GradientTransformation<KfacChainState, T>;
  readonly #device: LinalgDevice;
  readonly #o: ResolvedKfacOptions;
  readonly #ops: TreeOps<T>;
  #spec: readonly LeafSpec[] | null = null;
  #chain: KfacChainState | null = null;
  #core: KfacCore = freshCore();
  #states: readonly KfacLayerState[];
  #diag: KfacDiagonalState = emptyDiagonalState();
  #inverses: DeviceInverses[] | null = null;
  #adaptive: KfacAdaptiveState | null;
  #busy = false;

  /** @internal use {@link kfac} */
  constructor(options: KfacOptions<T>) {
    const o = resolveKfacOptions(options);
    this.#o = o;
    this.#device = options.device;
    const ops = options.ops ?? (hostTreeOps as unknown as TreeOps<T>);
    this.#ops = ops;
    this.transformation = kfacTransformation(o, ops);
    this.#states = o.layers.map(emptyLayerState);
    this.#adaptive = o.adaptive ? freshAdaptive(o.adaptive) : null;
  }

  /** The adaptive mode's state — λ, the last learning rate, momentum and ρ, the last update — or null when off. */
  get adaptiveState(): KfacAdaptiveState | null {
    return this.#adaptive;
  }

  /** The damping λ the next step uses (the adaptive mode's current one, else the option). */
  get damping(): number {
    return this.#adaptive?.damping ?? this.#o.damping;
  }

  /** The preconditioned layers (validated, `bias` null when absent). */
  get layers(): readonly Required<KfacLayer>[] {
    return this.#o.layers;
  }

  /**
   * Whether the next step updates the running averages, i.e. needs `factors` (a trainer may skip capturing them
   * otherwise).
   */
  get factorsDue(): boolean {
    return (
      this.#core.step % this.#o.factorEvery === 0 ||
      this.#states.some((s) => s.a === null) ||
      (this.#o.diagonal.length > 0 && this.#diag.d === null)
    );
  }

  /** Whether the next step refreshes the damped inverses. */
  get inverseDue(): boolean {
    return (
      this.#core.step % this.#o.inverseEvery === 0 ||
      this.#states.some((s) => s.aInv === null) ||
      (this.#o.diagonal.length > 0 && this.#diag.inv === null)
    );
  }

  /** A snapshot of the counters. */
  get stats(): KfacStats {
    const clip = this.#chain ? kfacScaleState(this.#chain) : null;
    const a = this.#adaptive;
    return kfacStats(
      this.#core,
      clip,
      this.#states.map((st) => st.pi),
      a && { damping: a.damping, learningRate: a.learningRate, momentum: a.momentum, rho: a.rho },
    );
  }

  /** The leaves of the diagonal block, in the order of {@link KfacOptimizer.diagonalState}'s arrays. */
  get diagonal(): readonly string[] {
    return this.#o.diagonal;
  }

  /** The diagonal block's running second moments and damped inverse (copies). */
  diagonalState(): KfacDiagonalState {
    return { d: this.#diag.d?.slice() ?? null, inv: this.#diag.inv?.slice() ?? null };
  }

  /** The transformation state (momentum buffers, schedule position, …); null before `init`. */
  get state(): KfacChainState | null {
    return this.#chain;
  }

  /** Layer `l`'s curvature state: running averages, inverses, π (copies). */
  layerState(l: number): KfacLayerState {
    const s = this.#states[l];
    if (!Number.isSafeInteger(l) || !s)
      throw new InvalidArgumentError(`layerState: layer ${String(l)} of ${this.#states.length}`);
    return {
      dims: s.dims && { ...s.dims },
      a: s.a?.slice() ?? null,
      g: s.g?.slice() ?? null,
      aInv: s.aInv?.slice() ?? null,
      gInv: s.gInv?.slice() ?? null,
      pi: s.pi,
    };
  }

  /**
   * Starts (or restarts) training `params`: fresh state, no factors, zeroed counters. Throws `ShapeError` (a layer
   * leaf missing), `NonFiniteError`; the previous state is kept then.
   */
  init(params: T): void {
    this.#idle('init');
    const spec = this.#ops.spec(params);
    const sizes = new Map(spec.map((l) => [l.name, l.size]));
    for (const layer of this.#o.layers) {
      for (const name of layer.bias === null ? [layer.weight] : [layer.weight, layer.bias]) {
        if (!sizes.has(name))
          throw new ShapeError(
            `init: layer leaf '${name}' is not in the parameters {${spec.map((l) => l.name).join(', ')}}`,
          );
      }
      if (layer.bias !== null && (sizes.get(layer.weight) as number) % (sizes.get(layer.bias) as number) !== 0) {
        throw new ShapeError(
          `init: weight '${layer.weight}' (${sizes.get(layer.weight)}) is not a multiple of bias '${
            layer.bias
          }' (${sizes.get(layer.bias)})`,
        );
      }
    }
    for (const name of this.#o.diagonal) {
      if (!sizes.has(name))
        throw new ShapeError(`init: diagonal leaf '${name}' is not in the parameters {${spec.map((l) => l.name).join(', ')}}`);
    }
    if (!this.#ops.allFinite(params)) throw new NonFiniteError('init: parameters hold NaN or ±Infinity');
    const chainState = this.transformation.init(params);
    this.#spec = spec;
    this.#chain = chainState;
    this.#core = freshCore();
    this.#states = this.#o.layers.map(emptyLayerState);
    this.#diag = emptyDiagonalState();
    this.#adaptive = this.#o.adaptive ? freshAdaptive(this.#o.adaptive) : null;
    this.#setInverses(null);
  }

  /**
   * One update from the mean-loss gradients: returns the new parameters (inputs are not modified). Updates
   * the running averages every `factorEvery` steps and the inverses every `inverseEvery` steps (both on the
   * first), preconditions every KFAC layer on the device, then applies the chain. Throws `NotInitializedError`,
   * `InvalidArgumentError` (missing or wrong-kind factors, a step still running, a schedule's negative rate),
   * `ShapeError`, `NonFiniteError` (parameters, factors; gradients, a schedule's NaN/±Infinity rate and updates
   * unless `onNonFinite: 'skip'`, which returns `params` and only counts the skip), or linalg's errors; a step
   * that throws changes nothing.
   */
  async step(grads: T, params: T, extras: KfacStepExtras<T> = {}): Promise<T> {
    this.#idle('step');
    const chainState = this.#chain;
    const spec = this.#spec;
    if (!chainState || !spec) throw new NotInitializedError('step: call init(params) (or restore) first');
    if (typeof extras !== 'object' || extras === null) throw new InvalidArgumentError('step: extras must be an object');
    const loss = extras.loss;
    const skip = this.#o.onNonFinite === 'skip';
    // a non-finite batch loss (the model's outputs): thrown under 'throw', a skipped step under 'skip'
    const badLoss = loss !== undefined && !Number.isFinite(loss);
    if (badLoss && !skip) throw new NonFiniteError(`step: loss is ${String(loss)}`);
    const ops = this.#ops;
    assertSameSpec(spec, ops.spec(params), 'step: params');
    assertSameSpec(spec, ops.spec(grads), 'step: gradients');
    if (!ops.allFinite(params)) throw new NonFiniteError('step: parameters hold NaN or ±Infinity');
    if (badLoss || !ops.allFinite(grads)) {
      if (!skip) throw new NonFiniteError('step: gradients hold NaN or ±Infinity');
      this.#skipped(chainState);
      return params;
    }
    // the learning rate, evaluated once here and passed down (the chain's last transform takes it from the extras)
    const learningRate = scheduledRate(this.#o.adaptive?.learningRate ?? this.#o.learningRate, this.#core.step, skip, 'kfac: step');
    this.#busy = true;
    let fresh: DeviceInverses[] | null = null;
    try {
      const due = { factors: this.factorsDue, inverses: this.inverseDue };
      const sizes = new Map(spec.map((l) => [l.name, l.size]));
      const leafSize = (name: string): number | undefined => sizes.get(name);
      const layers = this.#o.layers.length > 0;
      const damping = this.damping;
      // the factors, loaded once (the adaptive mode reads them again for the quadratic model)
      const source = extras.factors;
      const factors = due.factors && typeof source === 'function' ? await source() : source;
      let states: KfacLayerState[] | readonly KfacLayerState[];
      let diag: KfacDiagonalState;
      try {
        states = layers ? await updateCurvature(this.#device, { ...this.#o, damping }, this.#states, due, factors, leafSize) : this.#states;
        diag = await this.#updateDiagonal(due, extras.secondMoments, leafSize, damping);
      } catch (e) {
        // non-finite factors or second moments (NaN outputs or gradients): under 'skip' the step is skipped
        if (!(e instanceof NonFiniteError) || !skip) throw e;
        this.#skipped(chainState);
        return params;
      }
      if (layers && (due.inverses || !this.#inverses)) fresh = uploadInverses(this.#device, states);
      const host = ops.toHost(grads);
      const pre = layers
        ? await precondition(
            this.#device,
            host,
            this.#o.layers,
            states.map((s) => s.dims!),
            fresh ?? (this.#inverses as DeviceInverses[]),
          )
        : { leaves: {}, vg: 0 };
      const dpre = diag.inv ? preconditionDiagonal(host, this.#o.diagonal, diag.inv) : { leaves: {}, vg: 0 };
      if (this.#o.adaptive) {
        const settled = await this.#adaptiveStep(params, host, { ...host, ...pre.leaves, ...dpre.leaves }, extras, sizes, factors as readonly LayerFactors[] | undefined, states, damping, learningRate, pre.vg + dpre.vg);
        if (!settled) {
          disposeInverses(fresh);
          fresh = null;
          this.#skipped(chainState);
          return params;
        }
        this.#commit(due, states, diag, chainState);
        this.#adaptive = settled.state;
        if (fresh) this.#setInverses(fresh);
        fresh = null;
        return settled.next;
      }
      const direction = ops.fromHost(withPenalty({ ...host, ...pre.leaves, ...dpre.leaves }, extras.penaltyGrads, sizes));
      const r = this.transformation.update(direction, chainState, params, {
        kfac: { vg: pre.vg + dpre.vg },
        learningRate,
        ...(loss === undefined ? {} : { loss }),
      });
      const next = r.state.lastApplied ? ops.axpy(1, r.updates, params) : null;
      if (!next || !ops.allFinite(next)) {
        if (!skip) throw new NonFiniteError('step: the preconditioned update is not finite');
        disposeInverses(fresh);
        fresh = null;
        this.#skipped(chainState);
        return params;
      }
      // --- commit (nothing below throws) ---
      this.#commit(due, states, diag, r.state);
      if (fresh) this.#setInverses(fresh);
      fresh = null;
      return next;
    } finally {
      disposeInverses(fresh);
      this.#busy = false;
    }
  }

  /** Commits a step's counters, curvature and transformation state (nothing here throws). */
  #commit(due: { factors: boolean; inverses: boolean }, states: readonly KfacLayerState[], diag: KfacDiagonalState, chain: KfacChainState): void {
    const c = this.#core;
    this.#core = {
      ...c,
      step: c.step + 1,
      factorUpdates: c.factorUpdates + (due.factors ? 1 : 0),
      inverseRefreshes: c.inverseRefreshes + (due.inverses ? 1 : 0),
      lastRefreshStep: due.inverses ? c.step : c.lastRefreshStep,
    };
    this.#states = states;
    this.#diag = diag;
    this.#chain = chain;
  }

  /**
   * The adaptive mode's update (`adaptive.ts`): the coefficients of the preconditioned gradient and the last update —
   * the fixed learning rate and momentum where set, the quadratic model's minimum over the others — and, every
   * `interval` steps, λ by the Levenberg–Marquardt ratio, from the loss at the proposed parameters (with both
   * coefficients fixed, the model's curvature is taken only then, along the update). Returns the new parameters and
   * state, or null for a skipped step (`onNonFinite: 'skip'`); throws `NonFiniteError` under `'throw'`,
   * `InvalidArgumentError` when `extras.loss` or `extras.lossAt` is missing (or `extras.gaussNewton` under
   * `quadraticModel: 'gauss-newton'`).
   */
  async #adaptiveStep(
    params: T,
    grads: HostTree,
    preconditioned: Record<string, Float32Array>,
    extras: KfacStepExtras<T>,
    sizes: ReadonlyMap<string, number>,
    factors: readonly LayerFactors[] | undefined,
    states: readonly KfacLayerState[],
    damping: number,
    learningRate: number,
    vg: number,
  ): Promise<{ next: T; state: KfacAdaptiveState } | null> {
    const o = this.#o.adaptive as ResolvedAdaptive;
    const prev = this.#adaptive as KfacAdaptiveState;
    const skip = this.#o.onNonFinite === 'skip';
    const ops = this.#ops;
    // a regularizer's gradient joins both the gradient and the direction, unpreconditioned
    const g = withPenalty({ ...grads } as Record<string, Float32Array>, extras.penaltyGrads, sizes);
    // KL clipping of the step −lr·P (with a fixed learning rate), as fixed-damping KFAC's chain clips it
    const nu = klClipScale(o.klClip, learningRate, vg);
    const penalized = withPenalty(preconditioned, extras.penaltyGrads, sizes);
    const p = nu === 1 ? penalized : hostTreeOps.scale(penalized, nu);
    // refused on every step, not only on those that need the products (with both coefficients fixed, the adaptations)
    if (o.quadraticModel === 'gauss-newton') gaussNewtonSource(extras);
    const vectors: HostTree[] = prev.velocity ? [p, prev.velocity] : [p];
    const k = vectors.length;
    const fail = (what: string): null => {
      if (!skip) throw new NonFiniteError(`step: ${what}`);
      return null;
    };
    const curvature = async (vs: readonly HostTree[]): Promise<number[] | null> => {
      const c = o.quadraticModel === 'gauss-newton' ? await gaussNewtonOf(extras, vs) : await this.#factorCurvature(factors, states, vs);
      return c.every(Number.isFinite) ? c : null;
    };
    // fixed coefficients (a set learning rate or momentum), null where the quadratic model chooses
    const fixed = [o.learningRate === null ? null : -learningRate, ...(k === 2 ? [o.momentum] : [])];
    const adapts = adaptsOn(o, this.#core.step);
    // the model's change without damping at the chosen coefficients (ρ's denominator), or how to compute it
    let coefficients: readonly number[];
    let change: () => Promise<number | null>;
    if (fixed.every((f) => f !== null)) {
      // kfac-jax's stochastic recipe: nothing to solve; the model only measures the update, when λ adapts
      coefficients = fixed as number[];
      change = async () => {
        const cu = await curvature([update]);
        return cu && dot(grads, update) + 0.5 * (cu[0] as number);
      };
    } else {
      const c = await curvature(vectors);
      if (!c) return fail("the quadratic model's curvature is not finite");
      const d: number[] = [];
      for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) d.push(dot(vectors[i]!, vectors[j]!));
      const q = solveQuadratic(c, d, vectors.map((v) => dot(g, v)), damping, fixed);
      if (!q) return fail('the quadratic model has no finite minimum');
      coefficients = q.coefficients;
      // ρ compares data losses: its model change takes the data loss's gradient (no regularizer)
      change = async () => modelChange(q.coefficients, c, vectors.map((v) => dot(grads, v)));
    }
    const update: Record<string, Float32Array> = {};
    for (const [name, size] of sizes) {
      const u = new Float32Array(size);
      vectors.forEach((v, j) => {
        const x = v[name] as Float32Array;
        const cj = coefficients[j] as number;
        for (let i = 0; i < size; i++) u[i] = (u[i] as number) + cj * (x[i] as number);
      });
      update[name] = u;
    }
    const next = ops.axpy(1, ops.fromHost(update), params);
    if (!ops.allFinite(next)) return fail('the preconditioned update is not finite');
    let state: KfacAdaptiveState = {
      ...prev,
      velocity: update,
      learningRate: -(coefficients[0] as number),
      momentum: coefficients[1] ?? 0,
    };
    if (adapts) {
      if (extras.loss === undefined || !extras.lossAt) {
        throw new InvalidArgumentError('kfac: step: the adaptive mode adapts the damping on this step; extras.loss and extras.lossAt are required');
      }
      const modelled = await change();
      if (modelled === null) return fail("the quadratic model's curvature is not finite");
      const after = await extras.lossAt(next);
      const rho = (after - extras.loss) / modelled;
      state = { ...state, rho: Number.isFinite(rho) ? rho + 0 : null /* +0: no −0, so a checkpoint restores it exactly */, damping: adaptedDamping(o, damping, rho) };
    }
    return { next, state };
  }

  /** The quadratic model's curvature from the step's factors (`quadraticModel: 'factors'`): `(1/n)·Σᵢ sᵢ(uₐ)·sᵢ(uᵦ)`. */
  async #factorCurvature(factors: readonly LayerFactors[] | undefined, states: readonly KfacLayerState[], vectors: readonly HostTree[]): Promise<number[]> {
    const k = vectors.length;
    const f0 = factors?.[0];
    const n = f0 ? (f0.kind === 'conv2d' ? f0.patches.batch : f0.kind === 'dense' ? f0.inputs.rows : 0) : 0;
    const s = this.#o.layers.length > 0 && factors ? await sampleProducts(this.#device, factors, this.#o.layers, states.map((st) => st.dims!), vectors) : [];
    const c: number[] = [];
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) {
        let cij = 0;
        if (s.length > 0) for (let r = 0; r < n; r++) cij += (s[i]![r] as number) * (s[j]![r] as number);
        c.push(n > 0 ? cij / n : 0);
      }
    }
    return c;
  }

  /** Checkpoint of the transformation state, running averages, inverses and counters (versioned, CRC-32). */
  serialize(): Uint8Array {
    this.#idle('serialize');
    if (!this.#chain || !this.#spec) throw new NotInitializedError('serialize: call init(params) first');
    return serializeKfac({
      spec: this.#spec,
      layers: this.#o.layers,
      chain: this.#chain,
      core: this.#core,
      states: this.#states,
      diagonal: this.#o.diagonal,
      diagonalState: this.#diag,
      adaptive: this.#adaptive,
      ops: this.#ops,
    });
  }

  /**
   * Restores a checkpoint made by {@link KfacOptimizer.serialize} of the same model and layers (call
   * `init(params)` first). Throws `CheckpointError` (format, version, checksum, other model or configuration);
   * nothing changes then.
   */
  restore(bytes: Uint8Array): void {
    this.#idle('restore');
    if (!this.#chain || !this.#spec) throw new NotInitializedError('restore: call init(params) first');
    const r = restoreKfac(bytes, {
      spec: this.#spec,
      layers: this.#o.layers,
      diagonal: this.#o.diagonal,
      chain: this.#chain,
      adaptive: this.#o.adaptive !== null,
      ops: this.#ops,
    });
    this.#chain = r.chain as KfacChainState;
    this.#core = r.core;
    this.#states = r.states;
    this.#diag = r.diagonalState;
    this.#adaptive = r.adaptive;
    this.#setInverses(null);
  }

  /** Releases the device copies of the inverses (they are rebuilt from the state by the next step). */
  dispose(): void {
    this.#idle('dispose');
    this.#setInverses(null);
  }

  /** The diagonal block's state after this step's absorb and refresh (whichever are due); pure. */
  async #updateDiagonal(
    due: { factors: boolean; inverses: boolean },
    source: SecondMomentSource | undefined,
    leafSize: (name: string) => number | undefined,
    damping: number,
  ): Promise<KfacDiagonalState> {
    const leaves = this.#o.diagonal;
    let d = this.#diag;
    if (leaves.length === 0) return d;
    if (due.factors) d = absorbDiagonal(d, await loadSecondMoments(source, leaves, leafSize), this.#o.decay);
    if (due.inverses) d = refreshDiagonal(d, damping);
    return d;
  }

  #idle(what: string): void {
    if (this.#busy) throw new InvalidArgumentError(`${what}: a step is still running (await it first)`);
  }

  #setInverses(inv: DeviceInverses[] | null): void {
    disposeInverses(this.#inverses);
    this.#inverses = inv;
  }

  #skipped(chainState: KfacChainState): void {
    this.#core = { ...this.#core, skippedSteps: this.#core.skippedSteps + 1 };
    this.#chain = skippedChain(chainState);
  }
}

/**
 * The ready-made KFAC optimizer (see {@link KfacOptions}). `kfac({ device, layers })` alone uses
 * `KFAC_DEFAULTS`; explicit options override them and are validated (`InvalidArgumentError`).
 *
 * ```ts
 * const opt = kfac({ device, layers: [{ weight: 'W1', bias: 'b1', layout: 'out-in' }, …], learningRate: 0.1 });
 * opt.init(params);
 * params = await opt.step(meanLossGrads, params, { factors: () => [{ kind: 'dense', inputs, outputGrads }, …] });
 * ```
 */
export function kfac<T = HostTree>(options: KfacOptions<T>): KfacOptimizer<T> {
  return new KfacOptimizer(options);
}

/** The step's `extras.gaussNewton`; throws `InvalidArgumentError` without it (`quadraticModel: 'gauss-newton'`). */
function gaussNewtonSource<T>(extras: KfacStepExtras<T>): NonNullable<KfacStepExtras<T>['gaussNewton']> {
  if (!extras.gaussNewton) {
    throw new InvalidArgumentError("kfac: step: adaptive.quadraticModel 'gauss-newton' takes the batch's Gauss–Newton products; extras.gaussNewton is required");
  }
  return extras.gaussNewton;
}

/** The batch's Gauss–Newton matrix along `vectors` from the step's extras (`quadraticModel: 'gauss-newton'`). */
async function gaussNewtonOf<T>(extras: KfacStepExtras<T>, vectors: readonly HostTree[]): Promise<number[]> {
  const c = await gaussNewtonSource(extras)(vectors);
  const k = vectors.length;
  if (!Array.isArray(c) || c.length !== k * k) {
    throw new InvalidArgumentError(`kfac: step: extras.gaussNewton must return the ${k}×${k} matrix as ${k * k} numbers, got ${Array.isArray(c) ? c.length : typeof c}`);
  }
  return c;
}
