/**
 * `FngdTrainer`: the training loop FNGD needs (tfjs's `model.fit` only hands an optimizer the mean loss).
 *
 * Per mini-batch (the partition of samples into batches is fixed; only the batch order shuffles, seeded):
 * 1. `opt.coefficients({ batchKey, epoch, n, factors })` — on a miss/refresh/probe the `factors` callback runs
 *    the capture pass (one forward/backward of Σℓᵢ with identity hooks) and uploads A, Δ (conv: patches) to the
 *    linear-algebra device; cached batches skip it.
 * 2. The α-weighted gradient Jᵀα = Σαᵢ∇ℓᵢ: from the captured factors when there are any (no second pass);
 *    otherwise in global mode one `tf.variableGrads` of Σαᵢℓᵢ, in layer-wise mode a capture pass and per-layer
 *    αₗ-scaled Δ.
 * 3. `opt.step(...)` on tfjs tensors (momentum etc. stay on the backend), then `variable.assign`.
 * The same loop runs KFAC (`options.kfac`, `kfac-step.ts`) and a tfjs optimizer (`options.optimizer`) for
 * like-for-like comparisons.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import {
  checkPlan,
  checkpointKind,
  fngd,
  NonFiniteError,
  planBatches,
  type BatchKey,
  type BatchPlan,
  type Coefficients,
  type FngdOptimizer,
  type FngdOptions,
  type FngdStats,
  type HostTree,
  type KfacOptimizer,
  type KfacStats,
  type PlanChange,
  type SampleId,
} from 'ifngd';
import { fromBase64, toBase64 } from './base64.js';
import { captureAsync, PatchFilters, perSampleJacobian, uploadFactors, weightedLossGradsAsync, weightedRecordGrads, type Capture } from './capture.js';
import { linalgDeviceForTf } from './device.js';
import { AdapterArgumentError, AdapterCheckpointError } from './errors.js';
import { KfacStep, type TrainerKfacOptions } from './kfac-step.js';
import { resolveLoss, type LossName, type PerSampleLoss } from './losses.js';
import { fromLayersModel, identityTap, type FoldActivation, type FunctionModel } from './model.js';
import { mixSeed, permutation } from './rng.js';
import { sampleIdsOf } from './sample-ids.js';
import { allFiniteAsync, collectTensors, disposeReleased, makeTree, tfTreeOps, type ShapeMap, type TfTree, type TfTreeOps } from './tree-ops.js';

/** FNGD options as the trainer takes them (the device and tree ops are supplied by the trainer). */
export type TrainerFngdOptions = Omit<FngdOptions<TfTree>, 'device' | 'ops'>;

/**
 * Options of {@link FngdTrainer.create}. Give at most one of `fngd`, `kfac` and `optimizer`; with none, the
 * trainer trains with FNGD at `ifngd`'s measured defaults (`FNGD_DEFAULTS`), so `{ loss }` alone is enough.
 */
export interface FngdTrainerOptions {
  /** Per-sample loss. The cross-entropies take logits; a model's final softmax/sigmoid is folded into them. */
  readonly loss: LossName | PerSampleLoss;
  /**
   * Train with FNGD (`ifngd`'s `fngd` options without `device`/`ops`; every field optional, missing ones from
   * `FNGD_DEFAULTS`). Default when `optimizer` is not given.
   */
  readonly fngd?: TrainerFngdOptions;
  /**
   * Train with KFAC instead (`ifngd`'s `kfac` options without `device`/`ops`/`layers`; every field optional,
   * missing ones from `KFAC_DEFAULTS`). The model's Dense and Conv2D layers are its KFAC layers (a
   * `FunctionModel` must list them in `taps`); other variables get the plain mean-loss gradient.
   */
  readonly kfac?: TrainerKfacOptions;
  /** Train with a tfjs optimizer in the same loop instead of FNGD (baselines). */
  readonly optimizer?: tf.Optimizer;
  /** Linear-algebra device; default {@link linalgDeviceForTf} (shares tfjs's GPUDevice on webgpu). */
  readonly device?: LinalgDevice;
}

/** What one training step reports. */
export interface BatchResult {
  /** Mean loss of the batch before the step. */
  readonly loss: number;
  /** Coefficients were computed for this step (FNGD); the damped inverses were refreshed (KFAC). */
  readonly fresh: boolean;
}

/** Logs of one epoch. */
export interface EpochLogs {
  /** Trainer epoch (0-based, continues across `fit` calls). */
  readonly epoch: number;
  /** Wall-clock seconds of the training pass (validation excluded). */
  readonly seconds: number;
  /** Mean training loss over the epoch's batches (each before its step). */
  readonly trainLoss: number;
  readonly valLoss?: number;
  readonly valAccuracy?: number;
  /** Batches that computed coefficients (FNGD) or refreshed the inverses (KFAC). */
  readonly freshBatches: number;
}

/** Callbacks of {@link FngdTrainer.fit}; each may return a promise. */
export interface FitCallbacks {
  onEpochBegin?(epoch: number): void | Promise<void>;
  onBatchEnd?(batch: number, logs: BatchResult & { readonly batches: number }): void | Promise<void>;
  onEpochEnd?(epoch: number, logs: EpochLogs): void | Promise<void>;
}

/** Options of {@link FngdTrainer.fit}. */
export interface FitOptions {
  readonly epochs: number;
  /** Default 128. */
  readonly batchSize?: number;
  /** Seeds the fixed partition and the per-epoch batch order. Default 0. */
  readonly seed?: number;
  /** Shuffle the batch order each epoch. Default true. */
  readonly shuffle?: boolean;
  /**
   * Sample identity, which batch keys follow: `'content'` (default: a hash of each sample's x and y, so that
   * appended, removed or replaced samples are recognised without help), `'index'` (the row number: right for
   * append-only data), or one unique id per sample. See {@link FngdTrainer.batchPlan}.
   */
  readonly sampleIds?: 'content' | 'index' | readonly SampleId[];
  readonly validationData?: readonly [Tensor, Tensor];
  readonly callbacks?: FitCallbacks;
}

/** Result of {@link FngdTrainer.evaluate}. */
export interface Evaluation {
  /** Mean per-sample loss. */
  readonly loss: number;
  /** Top-1 accuracy (softmax cross-entropy only). */
  readonly accuracy?: number;
}

const META_KEY = 'ifngd';

function isLayersModel(m: unknown): m is LayersModel {
  return typeof m === 'object' && m !== null && typeof (m as { getClassName?: unknown }).getClassName === 'function' && Array.isArray((m as { layers?: unknown }).layers);
}

function disposeMap(m: Map<Variable, Tensor>, keep: ReadonlySet<Tensor> = new Set()): void {
  for (const t of m.values()) if (!keep.has(t) && !t.isDisposed) t.dispose();
}

/**
 * The FNGD training loop for a `tf.Sequential`/`tf.LayersModel` (see {@link fromLayersModel} for the
 * supported layers) or a {@link FunctionModel} over explicit variables. Create it with {@link FngdTrainer.create}.
 */
export class FngdTrainer {
  /** The FNGD optimizer (null for KFAC and for a tfjs-optimizer baseline). */
  readonly optimizer: FngdOptimizer<TfTree> | null;
  /** The tfjs baseline optimizer (null for FNGD). */
  readonly tfOptimizer: tf.Optimizer | null;
  /** The model as a function over its variables. */
  readonly model: FunctionModel;
  /** The activation folded into the loss. */
  readonly folded: FoldActivation;
  readonly #layers: LayersModel | null;
  readonly #loss: PerSampleLoss;
  readonly #lossName: LossName | null;
  readonly #vars: readonly Variable[];
  readonly #names: readonly string[];
  readonly #device: LinalgDevice | null;
  readonly #ownsDevice: boolean;
  readonly #filters = new PatchFilters();
  readonly #ops: TfTreeOps | null;
  readonly #kfac: KfacStep | null;
  #epoch = 0;
  #plan: BatchPlan | null = null;
  #planChange: PlanChange | null = null;

  private constructor(
    model: FunctionModel,
    layers: LayersModel | null,
    folded: FoldActivation,
    options: FngdTrainerOptions,
    device: LinalgDevice | null,
    ownsDevice: boolean,
  ) {
    this.model = model;
    this.#layers = layers;
    this.folded = folded;
    this.#loss = resolveLoss(options.loss);
    this.#lossName = typeof options.loss === 'string' ? options.loss : null;
    this.#vars = model.variables;
    const names = model.names ?? model.variables.map((_, i) => `p${i}`);
    if (names.length !== this.#vars.length || new Set(names).size !== names.length) {
      throw new AdapterArgumentError('names: one unique name per variable is required');
    }
    this.#names = names;
    this.#device = device;
    this.#ownsDevice = ownsDevice;
    this.tfOptimizer = options.optimizer ?? null;
    this.#kfac = null;
    if (options.kfac !== undefined && device) {
      const taps = model.taps;
      if (!taps) throw new AdapterArgumentError('FngdTrainer.create: KFAC needs the model\'s layers: a tf.LayersModel, or a FunctionModel with `taps`');
      this.#kfac = new KfacStep({ model, loss: this.#loss, variables: this.#vars, names, taps, device, filters: this.#filters }, options.kfac);
      this.#ops = null;
      this.optimizer = null;
    } else if (options.optimizer === undefined && device) {
      const shapes: Record<string, readonly number[]> = {};
      names.forEach((n, i) => (shapes[n] = (this.#vars[i] as Variable).shape));
      const ops = tfTreeOps(shapes as ShapeMap);
      this.#ops = ops;
      const opt = fngd<TfTree>({ ...(options.fngd ?? {}), device, ops });
      opt.init(this.#params());
      this.optimizer = opt;
    } else {
      this.#ops = null;
      this.optimizer = null;
    }
  }

  /**
   * Creates a trainer. Validates the model first (unsupported layers throw `UnsupportedLayerError` before any
   * weight changes) and initialises the optimizer: FNGD (`options.fngd`, or `FNGD_DEFAULTS` when none of
   * `fngd`, `kfac`, `optimizer` is given), KFAC (`options.kfac`) or the tfjs `options.optimizer`. Giving more
   * than one throws `AdapterArgumentError`.
   */
  static async create(model: LayersModel | FunctionModel, options: FngdTrainerOptions): Promise<FngdTrainer> {
    if (!options || typeof options !== 'object') throw new AdapterArgumentError('FngdTrainer.create: options `{ loss }` are required');
    const given = (['fngd', 'kfac', 'optimizer'] as const).filter((k) => options[k] !== undefined);
    if (given.length > 1) {
      throw new AdapterArgumentError(`FngdTrainer.create: give at most one of \`fngd\`, \`kfac\` and \`optimizer\` (got ${given.join(', ')})`);
    }
    resolveLoss(options.loss);
    const fold: FoldActivation =
      options.loss === 'softmax-cross-entropy' ? 'softmax' : options.loss === 'sigmoid-cross-entropy' ? 'sigmoid' : null;
    const layers = isLayersModel(model) ? model : null;
    const compiled = layers ? fromLayersModel(layers, fold) : null;
    const fm: FunctionModel = compiled ?? (model as FunctionModel);
    if (!layers && (!Array.isArray(fm.variables) || typeof fm.forward !== 'function')) {
      throw new AdapterArgumentError('FngdTrainer.create: expected a tf.LayersModel or a FunctionModel { variables, forward }');
    }
    let device: LinalgDevice | null = null;
    let owns = false;
    if (options.optimizer === undefined) {
      device = options.device ?? null;
      if (!device) {
        device = await linalgDeviceForTf();
        owns = true;
      }
    }
    let trainer: FngdTrainer;
    try {
      trainer = new FngdTrainer(fm, layers, compiled?.folded ?? null, options, device, owns);
    } catch (e) {
      if (owns) device?.destroy(); // e.g. an invalid FNGD option
      throw e;
    }
    // without synchronous reads (webgpu) `init` assumed the parameters finite: check now, asynchronously
    if (trainer.#ops && trainer.#ops.takeAssumed() > 0 && !(await allFiniteAsync(fm.variables))) {
      trainer.dispose();
      throw new NonFiniteError('init: parameters hold NaN or ±Infinity');
    }
    try {
      await trainer.#kfac?.init();
    } catch (e) {
      trainer.dispose();
      throw e;
    }
    return trainer;
  }

  /**
   * The batch plan of the last `fit` (null before one): the partition of samples (by identity) into batches
   * and their cache keys. It carries over to the next `fit` — and through {@link FngdTrainer.save} — so that
   * when the data changes, batches whose samples are unchanged keep their keys and cached coefficients.
   */
  get batchPlan(): BatchPlan | null {
    return this.#plan;
  }

  /** How the last `fit` changed the plan: batches kept (cache hits possible), dropped, added. */
  get lastPlanChange(): PlanChange | null {
    return this.#planChange;
  }

  /** Epochs trained so far (across `fit` calls). */
  get epoch(): number {
    return this.#epoch;
  }

  /** FNGD counters (null for KFAC and for a baseline). */
  get stats(): FngdStats | null {
    return this.optimizer?.stats ?? null;
  }

  /** The KFAC optimizer (null unless the trainer was created with `kfac`). */
  get kfacOptimizer(): KfacOptimizer<HostTree> | null {
    return this.#kfac?.optimizer ?? null;
  }

  /** KFAC counters: steps, factor updates, inverse refreshes, KL clipping (null unless training with KFAC). */
  get kfacStats(): KfacStats | null {
    return this.#kfac?.optimizer.stats ?? null;
  }

  #params(): TfTree {
    const t: Record<string, Tensor> = {};
    this.#names.forEach((n, i) => (t[n] = this.#vars[i] as Variable));
    return makeTree(t);
  }

  /** One training step on a batch. `batchKey` identifies the batch in the FNGD coefficient cache (KFAC ignores it). */
  async trainBatch(x: Tensor, y: Tensor, options: { readonly batchKey: BatchKey; readonly epoch?: number }): Promise<BatchResult> {
    const n = x.shape[0];
    if (n === undefined || y.shape[0] !== n) throw new AdapterArgumentError(`trainBatch: x and y must share the batch dimension, got ${x.shape} and ${y.shape}`);
    const epoch = options.epoch ?? this.#epoch;
    if (this.tfOptimizer) {
      const cost = this.tfOptimizer.minimize(() => tf.mean(this.#loss(this.model.forward(x, identityTap, true), y)) as tf.Scalar, true, [...this.#vars]);
      const loss = cost ? ((await cost.data())[0] as number) : NaN;
      cost?.dispose();
      return { loss, fresh: false };
    }
    if (this.#kfac) return this.#kfac.run(x, y, n);
    const opt = this.optimizer as FngdOptimizer<TfTree>;
    const box: { cap: Capture | null } = { cap: null };
    const made: Matrix[] = [];
    let grads: Map<Variable, Tensor> | null = null;
    try {
      const c = await opt.coefficients({
        batchKey: options.batchKey,
        epoch,
        n,
        factors: async () => {
          box.cap?.dispose();
          const cap = await captureAsync(this.model, this.#loss, x, y);
          box.cap = cap;
          return uploadFactors(this.#device as LinalgDevice, cap, this.#filters, () => perSampleJacobian(this.model, this.#loss, x, y, cap.uncovered), made);
        },
      });
      for (const m of made.splice(0)) m.dispose();
      let lossSum: number;
      if (!box.cap && opt.mode === 'global') {
        const r = await weightedLossGradsAsync(this.model, this.#loss, x, y, c.alpha, this.#vars);
        grads = r.grads;
        lossSum = r.lossSum;
      } else {
        const cap = box.cap ?? (await captureAsync(this.model, this.#loss, x, y));
        box.cap = cap;
        lossSum = cap.lossSum;
        grads = await this.#gradsFromCapture(cap, c, x, y);
      }
      await this.#apply(grads, c, lossSum / n);
      return { loss: lossSum / n, fresh: c.fresh };
    } finally {
      for (const m of made) m.dispose();
      box.cap?.dispose();
      if (grads) disposeMap(grads);
    }
  }

  async #gradsFromCapture(cap: Capture, c: Coefficients, x: Tensor, y: Tensor): Promise<Map<Variable, Tensor>> {
    const global = c.layers === 1;
    const out = new Map<Variable, Tensor>();
    try {
      cap.records.forEach((r, l) => {
        for (const [v, g] of weightedRecordGrads(r, global ? c.alpha : c.layer(l), this.#filters)) out.set(v, g);
      });
      if (cap.uncovered.length > 0) {
        const w = global ? c.alpha : c.layer(cap.records.length);
        for (const [v, g] of (await weightedLossGradsAsync(this.model, this.#loss, x, y, w, cap.uncovered)).grads) out.set(v, g);
      }
    } catch (e) {
      disposeMap(out);
      throw e;
    }
    return out;
  }

  async #apply(grads: Map<Variable, Tensor>, c: Coefficients, loss: number): Promise<void> {
    const opt = this.optimizer as FngdOptimizer<TfTree>;
    const ops = this.#ops as TfTreeOps;
    const weighted: Record<string, Tensor> = {};
    this.#names.forEach((name, i) => {
      const v = this.#vars[i] as Variable;
      const g = grads.get(v);
      if (!g) throw new AdapterArgumentError(`no gradient for variable '${name}'`);
      weighted[name] = g;
    });
    const weightedTree = makeTree(weighted);
    const params = this.#params();
    // the step's reads of its inputs (‖g‖², finiteness), in one awaited read: no synchronous read on webgpu
    await ops.prime({ norm2: [weightedTree], finite: [weightedTree, params] });
    ops.takeAssumed();
    const before = collectTensors(opt.state);
    let next: TfTree = params;
    tf.tidy(() => {
      next = opt.step(weightedTree, params, { coefficients: c, loss });
      return [...Object.values(next), ...collectTensors(opt.state)];
    });
    const after = collectTensors(opt.state);
    if (next !== params) {
      this.#names.forEach((name, i) => {
        const t = next[name] as Tensor;
        (this.#vars[i] as Variable).assign(t);
        if (!after.has(t)) t.dispose();
      });
    }
    disposeReleased(before, after);
    for (const [v, g] of [...grads.entries()]) if (after.has(g)) grads.delete(v); // kept by the optimizer state
    // checks of intermediate trees the step could not read synchronously (webgpu): verify the result instead
    if (ops.takeAssumed() > 0 && !(await allFiniteAsync(this.#vars))) {
      throw new NonFiniteError('step: the update made the parameters non-finite (detected after the assignment: this backend has no synchronous reads)');
    }
  }

  /**
   * Trains for `epochs` epochs. Samples are grouped into batches by a {@link BatchPlan} keyed by sample identity
   * (`options.sampleIds`): the first plan is a permutation seeded by `seed`; later calls keep every batch whose
   * samples are all still present. Each epoch visits the batches in a seeded shuffled order.
   */
  async fit(xs: Tensor, ys: Tensor, options: FitOptions): Promise<EpochLogs[]> {
    const N = xs.shape[0] as number;
    if (ys.shape[0] !== N) throw new AdapterArgumentError('fit: xs and ys must have the same number of samples');
    const { epochs } = options;
    const batchSize = options.batchSize ?? 128;
    const seed = options.seed ?? 0;
    if (!Number.isSafeInteger(epochs) || epochs < 0) throw new AdapterArgumentError('fit: epochs must be an integer ≥ 0');
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new AdapterArgumentError('fit: batchSize must be an integer ≥ 1');
    if (!Number.isSafeInteger(seed)) throw new AdapterArgumentError(`fit: seed must be an integer, got ${String(seed)}`);
    const ids = await sampleIdsOf(xs, ys, options.sampleIds ?? 'content');
    const { plan, change } = planBatches(ids, { batchSize, seed, previous: this.#plan });
    const row = new Map<SampleId, number>();
    ids.forEach((id, i) => row.set(id, i));
    this.#plan = plan;
    this.#planChange = change;
    const B = plan.batches.length;
    const idx = plan.batches.map((b) => tf.tensor1d(b.ids.map((id) => row.get(id) as number), 'int32'));
    const history: EpochLogs[] = [];
    try {
      for (let e = 0; e < epochs; e++) {
        const epoch = this.#epoch;
        await options.callbacks?.onEpochBegin?.(epoch);
        const order = options.shuffle === false ? Array.from({ length: B }, (_, i) => i) : permutation(B, mixSeed(seed, epoch));
        const t0 = performance.now();
        let lossSum = 0;
        let fresh = 0;
        for (let s = 0; s < B; s++) {
          const b = order[s] as number;
          const ix = idx[b] as Tensor;
          const xb = tf.gather(xs, ix);
          const yb = tf.gather(ys, ix);
          try {
            const r = await this.trainBatch(xb, yb, { batchKey: (plan.batches[b] as { key: string }).key, epoch });
            lossSum += r.loss * (xb.shape[0] as number);
            if (r.fresh) fresh++;
            await options.callbacks?.onBatchEnd?.(s, { ...r, batches: B });
          } finally {
            xb.dispose();
            yb.dispose();
          }
        }
        const seconds = (performance.now() - t0) / 1000;
        let logs: EpochLogs = { epoch, seconds, trainLoss: lossSum / N, freshBatches: fresh };
        if (options.validationData) {
          const v = await this.evaluateAsync(options.validationData[0], options.validationData[1]);
          logs = { ...logs, valLoss: v.loss, ...(v.accuracy === undefined ? {} : { valAccuracy: v.accuracy }) };
        }
        this.#epoch++;
        history.push(logs);
        await options.callbacks?.onEpochEnd?.(epoch, logs);
      }
    } finally {
      for (const t of idx) t.dispose();
    }
    return history;
  }

  /** Mean per-sample loss (and accuracy for softmax cross-entropy) in inference mode (synchronous read: not on webgpu in Node). */
  evaluate(xs: Tensor, ys: Tensor, options: { readonly batchSize?: number } = {}): Evaluation {
    const t = this.#evalSums(xs, ys, options.batchSize ?? 1000);
    try {
      return this.#evalResult(t.dataSync() as Float32Array, xs.shape[0] as number);
    } finally {
      t.dispose();
    }
  }

  /** {@link FngdTrainer.evaluate} with an awaited read — works on every backend (webgpu has no `dataSync` in Node). */
  async evaluateAsync(xs: Tensor, ys: Tensor, options: { readonly batchSize?: number } = {}): Promise<Evaluation> {
    const t = this.#evalSums(xs, ys, options.batchSize ?? 1000);
    try {
      return this.#evalResult((await t.data()) as Float32Array, xs.shape[0] as number);
    } finally {
      t.dispose();
    }
  }

  /** Per-batch `[Σℓ, #correct]` rows `[B, 2]` (summed on the host in float64). */
  #evalSums(xs: Tensor, ys: Tensor, bs: number): Tensor {
    const N = xs.shape[0] as number;
    const acc = this.#lossName === 'softmax-cross-entropy';
    const rows: Tensor[] = [];
    try {
      for (let s = 0; s < N; s += bs) {
        const m = Math.min(bs, N - s);
        rows.push(
          tf.tidy(() => {
            const x = tf.slice(xs, [s], [m]);
            const y = tf.slice(ys, [s], [m]);
            const out = this.model.forward(x, identityTap, false);
            const ls = tf.sum(this.#loss(out, y));
            const cs = acc ? tf.sum(tf.cast(tf.equal(tf.argMax(tf.reshape(out, [m, -1]), 1), tf.argMax(tf.reshape(y, [m, -1]), 1)), 'float32')) : tf.scalar(0);
            return tf.stack([ls, cs]);
          }),
        );
      }
      return rows.length === 0 ? tf.zeros([0, 2]) : tf.stack(rows);
    } finally {
      for (const r of rows) r.dispose();
    }
  }

  #evalResult(v: Float32Array, N: number): Evaluation {
    let loss = 0;
    let correct = 0;
    for (let i = 0; i + 1 < v.length; i += 2) {
      loss += v[i] as number;
      correct += v[i + 1] as number;
    }
    return { loss: loss / N, ...(this.#lossName === 'softmax-cross-entropy' ? { accuracy: correct / N } : {}) };
  }

  /** The model's outputs (a folded softmax/sigmoid applied again). */
  predict(x: Tensor): Tensor {
    return tf.tidy(() => {
      const out = this.model.forward(x, identityTap, false);
      if (this.folded === 'softmax') return tf.reshape(tf.softmax(tf.reshape(out, [out.shape[0] as number, -1])), out.shape);
      if (this.folded === 'sigmoid') return tf.sigmoid(out);
      return out;
    });
  }

  /** Checkpoint of the optimizer state (FNGD and KFAC: `ifngd`'s versioned formats; baselines: empty). */
  serializeState(): Uint8Array {
    if (this.#kfac) return this.#kfac.optimizer.serialize();
    return this.optimizer ? this.optimizer.serialize() : new Uint8Array(0);
  }

  /**
   * Restores {@link FngdTrainer.serializeState} output (same model and configuration), optionally with the
   * trainer epoch and the {@link FngdTrainer.batchPlan} saved beside it (validated: `AdapterCheckpointError`).
   * An FNGD checkpoint offered to a KFAC trainer, or a KFAC one to an FNGD trainer, is refused with
   * `AdapterCheckpointError`; nothing changes then.
   */
  restoreState(bytes: Uint8Array, epoch?: number, plan?: BatchPlan | null): void {
    const want = this.#kfac ? 'kfac' : this.optimizer ? 'fngd' : null;
    const kind = want && bytes instanceof Uint8Array ? checkpointKind(bytes) : null;
    if (want && kind && kind !== want) {
      throw new AdapterCheckpointError(`restoreState: this is ${kind === 'kfac' ? 'a KFAC' : 'an FNGD'} checkpoint; the trainer trains with ${want === 'kfac' ? 'KFAC' : 'FNGD'}`);
    }
    let checked: BatchPlan | null = null;
    if (plan !== undefined && plan !== null) {
      try {
        checked = checkPlan(plan);
      } catch (e) {
        throw new AdapterCheckpointError(`restoreState: ${(e as Error).message}`);
      }
    }
    const opt = this.optimizer;
    if (opt) {
      const before = collectTensors(opt.state);
      opt.restore(bytes);
      disposeReleased(before, collectTensors(opt.state));
    }
    this.#kfac?.optimizer.restore(bytes);
    if (epoch !== undefined) this.#epoch = epoch;
    if (plan !== undefined) {
      this.#plan = checked;
      this.#planChange = null;
    }
  }

  /**
   * `model.save` with the optimizer state (and the trainer epoch) in the model's user-defined metadata, so it
   * travels in model.json through any tfjs IO handler. LayersModel trainers only.
   */
  async save(handlerOrUrl: tf.io.IOHandler | string): Promise<tf.io.SaveResult> {
    const model = this.#layers;
    if (!model) throw new AdapterArgumentError('save: only trainers of a tf.LayersModel can save (use serializeState for FunctionModels)');
    const meta = (model.getUserDefinedMetadata() ?? {}) as Record<string, unknown>;
    // cache the state's values on the host first (an awaited read), so the synchronous serialisation works on webgpu
    if (this.optimizer) await Promise.all([...collectTensors(this.optimizer.state)].map((t) => t.data()));
    model.setUserDefinedMetadata({ ...meta, [META_KEY]: { version: 1, epoch: this.#epoch, state: toBase64(this.serializeState()), plan: this.#plan } });
    return model.save(handlerOrUrl);
  }

  /** Restores the optimizer state saved by {@link FngdTrainer.save} from the (loaded) model's metadata. */
  restore(): void {
    const model = this.#layers;
    if (!model) throw new AdapterArgumentError('restore: only trainers of a tf.LayersModel can restore from the model');
    const meta = (model.getUserDefinedMetadata() ?? {}) as Record<string, unknown>;
    const m = meta[META_KEY] as { version?: unknown; epoch?: unknown; state?: unknown; plan?: unknown } | undefined;
    if (!m || m.version !== 1 || typeof m.state !== 'string' || typeof m.epoch !== 'number') {
      throw new AdapterCheckpointError('restore: the model carries no ifngd optimizer state (save it with FngdTrainer.save)');
    }
    const bytes = fromBase64(m.state);
    if ((this.optimizer || this.#kfac) && bytes.length === 0) throw new AdapterCheckpointError('restore: the saved state is empty (saved by a baseline trainer?)');
    this.restoreState(bytes, m.epoch, (m.plan ?? null) as BatchPlan | null);
  }

  /** Releases the optimizer state tensors and the device the trainer created (not the model). */
  dispose(): void {
    if (this.optimizer) for (const t of collectTensors(this.optimizer.state)) if (!(t instanceof tf.Variable) && !t.isDisposed) t.dispose();
    this.#kfac?.dispose();
    this.#filters.dispose();
    if (this.#ownsDevice) this.#device?.destroy();
  }
}
