/**
 * The tfjs trainer's side of `ifngd`'s optimizer contract: one batch as the passes an optimizer may ask for.
 * - `factors('gram')`: the capture pass (one forward/backward of Σℓᵢ with identity hooks) and each site group's
 *   factors on the linear-algebra device (variables at no site: per-sample Jacobian blocks; `perSample: 'exact'`
 *   on a model whose samples interact: the whole-batch Jacobian); `factors('kronecker')`: the capture's Kronecker
 *   groups in the order of the trainer's KFAC layers.
 * - `secondMoments`: the diagonal block's per-sample second moments from the same capture.
 * - `gradients`: `Σᵢ wᵢ∇ℓᵢ` — from the capture when there is one (no second pass; blockwise weights by site
 *   group), else one `tf.variableGrads` of the weighted loss; plain variables with their own weight; the
 *   regularizers' gradients added or apart.
 * - `read`: the optimizer's scalars with Σℓᵢ and `trainBatch`'s target check in one awaited read, the targets
 *   verified before anything commits (`TargetError`).
 * - `lossAt` and `gaussNewton` (`gauss-newton.ts`): training-mode forward passes at other parameters, changing
 *   nothing (KFAC's adaptive mode).
 * Trees are tfjs tensors (`'backend'`: nothing read but the scalars) or host arrays (`'host'`: gradients,
 * parameters, penalties, the check and the loss read together once).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import type { LayerFactors } from '@ifngd/fisher';
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import type { BatchKey, CapturedGradients, FactorOptions, FactorSet, GradientRequest, HostTree, StepCapture, StepReading } from 'ifngd';
import { sampleTargets } from 'ifngd/internal';
import type { LossName, PerSampleLoss } from './losses.js';
import { identityTap } from './model.js';
import { captureAsync, type Capture } from './capture.js';
import { AdapterArgumentError, UnsupportedModelError } from './errors.js';
import { batchGaussNewton } from './gauss-newton.js';
import { readHost } from './read-host.js';
import { secondMoments } from './kfac-moments.js';
import { weightedTargets } from './sample-weights.js';
import type { TapWeights } from './model.js';
import { addPenaltyGrads, penaltyGrads } from './penalties.js';
import type { SiteGroup } from './sites/types.js';
import type { StepContext } from './step-context.js';
import type { TargetValueCheck } from './targets.js';
import { collectTensors, makeTree, type TfTree, type TfTreeOps } from './tree-ops.js';
import { uploadFactors } from './upload.js';
import { perSampleJacobian, perSampleJacobianAsync, weightedGroupGrads, weightedLossGradsAsync, weightedLossGradTensors, wholeBatchJacobian } from './weighted-grads.js';

/** What a capture needs of the trainer. */
export interface StepCaptureContext extends StepContext {
  readonly device: LinalgDevice;
  /** The Kronecker layers' weights, in the optimizer's layer order. */
  readonly taps: readonly TapWeights[];
  /** `perSample: 'exact'`. */
  readonly exact: boolean;
  /** Where the optimizer's trees live: tfjs tensors, or host arrays. */
  readonly trees: 'backend' | 'host';
  /** The tree ops of backend trees. */
  readonly ops: TfTreeOps;
  /**
   * For factors on sampled targets: the named loss to sample for, and the steps' loss without the accuracy
   * probe (sample weights kept); null where the loss is custom or per output.
   */
  readonly sampling: {
    readonly lossName: LossName;
    readonly loss: PerSampleLoss;
    /** The per-sample weights the step's targets carry during a weighted fit (a new tensor), else null. */
    readonly weights: (y: Tensor) => Tensor | null;
  } | null;
}

/** One batch for one step; {@link TfStepCapture.release} frees what the step made. */
export class TfStepCapture implements StepCapture<TfTree | HostTree> {
  readonly batchKey: BatchKey;
  readonly epoch: number;
  readonly n: number;
  readonly #c: StepCaptureContext;
  readonly #x: Tensor;
  readonly #y: Tensor;
  readonly #check: TargetValueCheck | null;
  readonly #made: Matrix[] = [];
  readonly #contained = new Set<Tensor>();
  #cap: Capture | null = null;
  /** The capture on sampled targets (the true Fisher's factors): never the gradient's. */
  #sampledCap: Capture | null = null;
  #grads: Map<Variable, Tensor> = new Map();
  #penalties: Map<Variable, Tensor> = new Map();
  #lossSum: number | Tensor | null = null;
  #hostLoss = NaN;
  #params: TfTree | HostTree | null = null;

  constructor(c: StepCaptureContext, x: Tensor, y: Tensor, batchKey: BatchKey, epoch: number, check: TargetValueCheck | null) {
    this.#c = c;
    this.#x = x;
    this.#y = y;
    this.batchKey = batchKey;
    this.epoch = epoch;
    this.n = x.shape[0] as number;
    this.#check = check;
  }

  /** The parameter tree the gradients were taken at (the step's input; null before `gradients`). */
  get params(): TfTree | HostTree | null {
    return this.#params;
  }

  async #capture(): Promise<Capture> {
    this.#cap?.dispose();
    this.#cap = null;
    this.#cap = await captureAsync(this.#c.model, this.#c.loss, this.#x, this.#y);
    return this.#cap;
  }

  async factors(set: FactorSet, options?: FactorOptions): Promise<LayerFactors[]> {
    const { model, loss, filters, device } = this.#c;
    const [x, y] = [this.#x, this.#y];
    if (options?.targets === 'sampled') {
      if (set !== 'kronecker') throw new AdapterArgumentError("factors: sampled targets are for KFAC's Kronecker factors");
      const cap = await this.#sampledCapture(options.seed ?? 0);
      return uploadFactors(device, cap, filters, () => new Float32Array(0), this.#made, this.#kroneckerGroups(cap));
    }
    if (set === 'kronecker') {
      const cap = await this.#capture();
      return uploadFactors(device, cap, filters, () => new Float32Array(0), this.#made, this.#kroneckerGroups(cap));
    }
    if (this.#c.exact && model.couplesSamples === true) {
      const plain = new Set(model.plain ?? []);
      const vars = this.#c.variables.filter((v) => !plain.has(v));
      const j = device.matrix(await wholeBatchJacobian(model, loss, x, y, vars), [this.n, vars.reduce((s, v) => s + v.size, 0)]);
      this.#made.push(j);
      return [{ kind: 'jacobian', jacobian: j }];
    }
    const cap = await this.#capture();
    if (model.couplesSamples === true && cap.uncovered.length > 0) {
      throw new UnsupportedModelError(
        `FNGD: the model couples samples, and ${cap.uncovered.length} variable(s) (${cap.uncovered.map((v) => v.name).slice(0, 3).join(', ')}) are at no tap site; ` +
          'their one-sample fallback passes would see other batch statistics — tap them (tap.dense, tap.conv2d, tap.site) or train with kfac',
      );
    }
    return uploadFactors(device, cap, filters, () => perSampleJacobian(model, loss, x, y, cap.uncovered), this.#made);
  }

  /** A capture pass of the loss on targets drawn from the model's predictive distribution at this batch. */
  async #sampledCapture(seed: number): Promise<Capture> {
    const s = this.#c.sampling;
    if (!s) throw new AdapterArgumentError('factors: sampled targets need a named loss on one output');
    const out = tf.tidy(() => this.#c.model.forward(this.#x, identityTap, true));
    let z: Float32Array;
    try {
      z = (await out.data()) as Float32Array;
    } finally {
      out.dispose();
    }
    const drawn = tf.tensor(sampleTargets(s.lossName, z, this.n, seed), out.shape, 'float32');
    // during a weighted fit the loss reads each sample's weight after its targets. The weighted loss's Fisher is
    // Σᵢ wᵢ·Fᵢ, and a factor is an outer product of the sampled gradients: the draws carry √wᵢ (kfac-jax's scaling)
    const w = s.weights(this.#y);
    const root = w ? tf.sqrt(w) : null;
    const ySampled = root ? weightedTargets(drawn, root) : drawn;
    if (w) tf.dispose([drawn, w, root as Tensor]);
    try {
      this.#sampledCap?.dispose();
      this.#sampledCap = null;
      this.#sampledCap = await captureAsync(this.#c.model, s.loss, this.#x, ySampled);
      return this.#sampledCap;
    } finally {
      ySampled.dispose();
    }
  }

  /** The capture's Kronecker groups in the order of the trainer's layers; throws unless they are exactly those. */
  #kroneckerGroups(cap: Capture): SiteGroup[] {
    const { taps } = this.#c;
    const kron = cap.groups.filter((g) => g.rule.kronecker);
    const ordered = taps.map((t) => kron.find((g) => g.params['kernel'] === t.kernel && (g.params['bias'] ?? null) === (t.bias ?? null)));
    if (kron.length !== taps.length || ordered.some((g) => g === undefined)) {
      throw new AdapterArgumentError(`kfac: the forward pass tapped ${kron.length} dense/conv layers, not the ${taps.length} the trainer was created with`);
    }
    return ordered as SiteGroup[];
  }

  /** The diagonal block's second moments of every variable outside the Kronecker groups (KFAC's diagonal leaves). */
  async secondMoments(): Promise<Record<string, Float32Array>> {
    // the moments of the factors' capture: on sampled targets when the factors were
    const cap = this.#sampledCap ?? this.#cap;
    if (!cap) throw new AdapterArgumentError('secondMoments: ask for the factors first (the moments come from the same capture)');
    const { model, loss, filters, variables, names } = this.#c;
    // variables at no site: one backward pass per sample — of the whole batch when the forward couples samples
    // (each ℓᵢ's total derivative), else of the sample alone
    const jacobian = model.couplesSamples === true ? wholeBatchJacobian : perSampleJacobianAsync;
    const diag = cap.groups.filter((g) => !g.rule.kronecker);
    const m = await secondMoments(cap, diag, { filters, n: cap.n }, (vars) => jacobian(model, loss, this.#x, this.#y, vars));
    try {
      const vars = [...m.keys()];
      const host = await readHost(vars.map((v) => m.get(v) as Tensor));
      const byVar = new Map(variables.map((v, i) => [v, names[i] as string]));
      return Object.fromEntries(vars.map((v, i) => [byVar.get(v) ?? v.name, host[i] as Float32Array]));
    } finally {
      for (const t of m.values()) t.dispose();
    }
  }

  async gradients(request: GradientRequest): Promise<CapturedGradients<TfTree | HostTree>> {
    const { model, loss, variables, names, filters } = this.#c;
    const [x, y] = [this.#x, this.#y];
    const plain = model.plain ?? [];
    const w = request.weights;
    const weights = (block: number): Float32Array => (typeof w === 'function' ? w(block) : w);
    // plain variables join the main pass when their weight is everyone's
    const same = Math.fround(request.plainWeight); // the weights are float32
    const separatePlain = plain.length > 0 && !(typeof w !== 'function' && w.every((v) => v === same));
    const grads = this.#grads;
    const exactRoute = this.#c.exact && model.couplesSamples === true;
    if (!this.#cap && typeof w !== 'function' && (model.couplesSamples !== true || exactRoute)) {
      // no capture to reuse, one weight per sample, samples that do not interact: Σwᵢℓᵢ's gradient; Σℓᵢ stays on
      // the backend and is read with the step's scalars
      const vars = separatePlain ? variables.filter((v) => !plain.includes(v)) : variables;
      const r = weightedLossGradTensors(model, loss, x, y, w, vars);
      for (const [v, g] of r.grads) grads.set(v, g);
      this.#lossSum = r.lossSum;
    } else {
      const cap = this.#cap ?? (await this.#capture());
      this.#lossSum = cap.lossSum;
      cap.groups.forEach((g, b) => {
        for (const [v, t] of weightedGroupGrads(g, weights(b), filters)) grads.set(v, t);
      });
      const rest = [...cap.uncovered, ...(separatePlain ? [] : plain)];
      if (rest.length > 0) {
        for (const [v, g] of (await weightedLossGradsAsync(model, loss, x, y, weights(cap.groups.length), rest)).grads) this.#set(v, g);
      }
    }
    if (separatePlain) {
      for (const [v, g] of (await weightedLossGradsAsync(model, loss, x, y, new Float32Array(this.n).fill(request.plainWeight), plain)).grads) this.#set(v, g);
    }
    if (request.penalties === 'apart' && this.#c.trees === 'backend') {
      throw new AdapterArgumentError("gradients: penalties: 'apart' needs host trees (an optimizer of trees: 'host'); add them with a factor instead");
    }
    if (request.penalties === 'apart') this.#penalties = penaltyGrads(model.penalties);
    else addPenaltyGrads(grads, model.penalties, request.penalties);
    const ordered = variables.map((v, i) => {
      const g = grads.get(v);
      if (!g) throw new AdapterArgumentError(`no gradient for variable '${names[i]}'`);
      return g;
    });
    if (this.#c.trees === 'backend') {
      this.#params = makeTree(Object.fromEntries(names.map((n, i) => [n, variables[i] as Variable])));
      return { grads: makeTree(Object.fromEntries(names.map((n, i) => [n, ordered[i] as Tensor]))), params: this.#params };
    }
    // host trees: gradients, parameters, penalties, the target check and Σℓᵢ in one read; bad targets throw now
    const penalized = [...this.#penalties.keys()];
    const probe = this.#check ? this.#check.take() : [];
    const lossT = typeof this.#lossSum === 'number' || this.#lossSum === null ? [] : [this.#lossSum];
    let host: Float32Array[];
    try {
      host = await readHost([...ordered, ...variables, ...penalized.map((v) => this.#penalties.get(v) as Tensor), ...probe, ...lossT]);
    } finally {
      tf.dispose(probe);
    }
    const at = 2 * variables.length + penalized.length;
    this.#check?.verify(host.slice(at, at + probe.length).map((v) => v[0] as number));
    const lossSum = typeof this.#lossSum === 'number' ? this.#lossSum : (host[at + probe.length]?.[0] as number);
    this.#hostLoss = lossSum / this.n;
    const tree = (values: readonly Float32Array[]): HostTree => Object.fromEntries(names.map((n, i) => [n, values[i] as Float32Array]));
    this.#params = tree(host.slice(variables.length, 2 * variables.length));
    const byVar = new Map(variables.map((v, i) => [v, names[i] as string]));
    const penalties = Object.fromEntries(penalized.map((v, k) => [byVar.get(v) as string, host[2 * variables.length + k] as Float32Array]));
    return { grads: tree(host.slice(0, variables.length)), params: this.#params, ...(request.penalties === 'apart' ? { penalties } : {}) };
  }

  /**
   * The batch's mean loss at `params` (a training-mode forward pass, as the step's): the variables hold `params`
   * for the pass and their own values again after it, whatever happens; the model's pending training state (moving
   * statistics) is the step's own afterwards. A model that keeps training state without `isolatedState` is refused.
   */
  async lossAt(params: TfTree | HostTree): Promise<number> {
    const { model, loss, variables, names } = this.#c;
    if (model.commitState && !model.isolatedState) {
      throw new AdapterArgumentError('lossAt: the model keeps training state (commitState) without isolatedState, so its loss at other parameters cannot be taken without changing that state');
    }
    const saved = variables.map((v) => tf.clone(v));
    let sum: Tensor | null = null;
    try {
      variables.forEach((v, i) => {
        const p = (params as Record<string, Tensor | Float32Array>)[names[i] as string];
        if (p instanceof Float32Array) {
          const t = tf.tensor(p, v.shape, 'float32');
          v.assign(t);
          t.dispose();
        } else v.assign(p as Tensor);
      });
      const run = (): Tensor => tf.tidy(() => tf.sum(loss(model.forward(this.#x, identityTap, true), this.#y)));
      sum = model.isolatedState ? model.isolatedState(run) : run();
      return ((await sum.data())[0] as number) / this.n;
    } finally {
      sum?.dispose();
      variables.forEach((v, i) => v.assign(saved[i] as Tensor));
      tf.dispose(saved);
    }
  }

  /**
   * The batch's Gauss–Newton matrix along `vectors` (`gauss-newton.ts`): central differences of the training
   * forward, the named loss's exact Hessian, the batch's sample weights; the variables and pending state untouched.
   */
  async gaussNewton(vectors: readonly (TfTree | HostTree)[]): Promise<number[]> {
    return batchGaussNewton(this.#c, this.#x, this.#y, this.n, vectors);
  }

  /** Sets `v`'s gradient, releasing one it replaces. */
  #set(v: Variable, g: Tensor): void {
    const old = this.#grads.get(v);
    if (old && old !== g) old.dispose();
    this.#grads.set(v, g);
  }

  contain<R>(fn: () => R): R {
    if (this.#c.trees === 'host') return fn();
    let out: R | undefined;
    tf.tidy(() => {
      out = fn();
      const kept = collectTensors(out);
      for (const t of kept) this.#contained.add(t);
      return [...kept];
    });
    return out as R;
  }

  async read(scalars: readonly unknown[]): Promise<StepReading> {
    if (this.#c.trees === 'host') return { values: scalars as number[], loss: this.#hostLoss };
    const probe = this.#check ? this.#check.take() : [];
    const lossT = typeof this.#lossSum === 'number' || this.#lossSum === null ? null : this.#lossSum;
    this.#lossSum = lossT ? null : this.#lossSum; // a tensor is consumed by the read
    const all = await this.#c.ops.read([...probe, ...(lossT ? [lossT] : []), ...(scalars as Tensor[])]);
    this.#check?.verify(all.slice(0, probe.length)); // bad targets: TargetError before anything settles
    const values = all.slice(probe.length);
    const lossSum = lossT ? (values[0] as number) : (this.#lossSum as number);
    return { values: lossT ? values.slice(1) : values, loss: lossSum / this.n };
  }

  /** Releases everything the step made that `keep` (the optimizer's state after the step) does not hold. */
  release(keep: ReadonlySet<Tensor>): void {
    for (const m of this.#made) m.dispose();
    this.#cap?.dispose();
    this.#sampledCap?.dispose();
    if (this.#lossSum !== null && typeof this.#lossSum !== 'number') this.#lossSum.dispose();
    for (const t of [...this.#grads.values(), ...this.#penalties.values(), ...this.#contained]) {
      if (!keep.has(t) && !(t instanceof tf.Variable) && !t.isDisposed) t.dispose();
    }
  }
}
