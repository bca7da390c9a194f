/**
 * `OnnxTrainer`: trains an inference ONNX model with FNGD — or KFAC (`options.kfac`) on the same factor
 * pass — on ONNX Runtime. Sessions (factors, gradients, forward) are created once and reused; parameters
 * live on the host as a `HostTree`. A façade: set-up (`trainer-setup.ts`), the optimizer on its device
 * (`engine.ts`, `capture.ts`), feeds and targets (`feeds.ts`, `targets.ts`), graph runs (`passes.ts`), `fit`
 * (`fit-run.ts`, `fit.ts`), export (`export-model.ts`).
 * @module
 */
import type { LinalgDevice } from '@ifngd/linalg-gpu';
import type { BatchPlan, FngdOptimizer, HostTree, KfacOptimizer, PlanChange, TrainingOptimizer } from 'ifngd';
import type { Tensor } from 'onnxruntime-common';
import { isKronecker, type ModelAnalysis, type ParameterInfo } from './analyze.js';
import { Engine } from './engine.js';
import { DisposedError, FeedError, InvalidOptionError } from './errors.js';
import { exportWithParams, type ExportOptions } from './export-model.js';
import { checkFeeds, type Feeds } from './feeds.js';
import type { Dataset, FitOptions, OnnxEvaluation, OnnxFitHistory } from './fit.js';
import { runFit, type FitHost } from './fit-run.js';
import { PlanState } from './plan-state.js';
import { checkStepOptions, type OnnxTrainerOptions, type StepOptions } from './options.js';
import type { Passes } from './passes.js';
import { CallQueue, mixSeed, sampleTargets, type OutputForm } from 'ifngd/internal';
import { checkTargets } from './targets.js';
import { setUpTrainer, type TrainerParts } from './trainer-setup.js';

const disposed = (): DisposedError => new DisposedError('the trainer was disposed');

/** Mixed with the count of committed steps into the seed of each step's Dropout masks. */
const DROPOUT_SEED = 0x0d0;

/**
 * Trains an ONNX model with FNGD or KFAC. Create with {@link OnnxTrainer.create}.
 *
 * Every step is a transaction: when it throws (bad feeds or targets, a non-finite loss or gradient under
 * `onNonFinite: 'throw'`, a failing session run, the optimizer throwing), parameters, optimizer state and
 * `epoch` are as before it. The asynchronous calls (`step`, `evaluate`, `predict`, `fit`) are queued and run
 * one at a time in call order; `dispose()` rejects the calls still waiting with `DisposedError`.
 */
/** The fraction of rows whose largest output is the largest target (one-hot or probabilities), `[n, C]` row-major. */
function top1(out: Float32Array | undefined, target: Float32Array, n: number): number {
  if (!out || n === 0) return NaN;
  const c = out.length / n;
  const arg = (a: Float32Array, i: number): number => {
    let best = 0;
    for (let k = 1; k < c; k++) if ((a[i * c + k] as number) > (a[i * c + best] as number)) best = k;
    return best;
  };
  let hits = 0;
  for (let i = 0; i < n; i++) if (arg(out, i) === arg(target, i)) hits++;
  return hits / n;
}

/**
 * The running statistics after a committed step: each moved towards its batch's statistics (PyTorch's rule, see
 * {@link OnnxTrainer.runningStatistics}); unchanged when the step ran no gradient pass.
 */
function movedStats(an: ModelAnalysis, stats: HostTree, batch: readonly { mean: Float32Array; variance: Float32Array }[], n: number): HostTree {
  if (batch.length === 0) return stats;
  const out: Record<string, Float32Array> = { ...stats } as Record<string, Float32Array>;
  an.runningStats.forEach((s, k) => {
    const m = s.momentum;
    const count = n * s.spatial;
    const unbias = count > 1 ? count / (count - 1) : 1;
    const b = batch[k]!;
    out[s.mean] = (stats[s.mean] as Float32Array).map((r, c) => m * r + (1 - m) * b.mean[c]!);
    out[s.variance] = (stats[s.variance] as Float32Array).map((r, c) => m * r + (1 - m) * b.variance[c]! * unbias);
  });
  return out;
}

export class OnnxTrainer {
  /** Trainable parameters (initializers in Gemm / MatMul(+Add) / Conv roles), in layer order. */
  readonly parameters: readonly ParameterInfo[];
  /** Names of the model inputs the feeds must hold. */
  readonly inputNames: readonly string[];
  /** Epoch used when a step does not say (advanced by {@link OnnxTrainer.fit}). */
  epoch = 0;
  readonly #p: TrainerParts;
  readonly #an: ModelAnalysis;
  readonly #engine: Engine;
  readonly #passes: Passes;
  /** What the output the loss reads holds: logits, or a final Softmax's (log-)probabilities (for sampled targets). */
  readonly #outputForm: OutputForm;
  readonly #queue = new CallQueue(() => disposed());
  #params: HostTree;
  #stats: HostTree;
  /** Committed steps: with the seed below, what each step's Dropout masks are drawn from. */
  #steps = 0;
  // an adopted plan bounds the coefficient cache to its batches
  readonly #plans = new PlanState((plan) => void this.#engine.training.retain?.(plan.batches.map((b) => b.key)));
  #disposal: Promise<void> | null = null;

  private constructor(p: TrainerParts) {
    this.#p = p;
    this.#an = p.an;
    this.#engine = p.engine;
    this.#passes = p.passes;
    const last = p.an.nodes.find((x) => x.output.includes(p.an.output.name))?.opType;
    this.#outputForm = last === 'Softmax' ? 'probabilities' : last === 'LogSoftmax' ? 'log-probabilities' : 'logits';
    this.#params = p.params;
    this.#stats = p.stats;
    this.parameters = p.an.params;
    this.inputNames = p.an.inputs.map((i) => i.name);
  }

  /**
   * Validates the options (unknown keys included), reads the model, checks every node (all unsupported ones
   * are reported at once), builds the training graphs and creates the gradient session. Throws
   * `InvalidOptionError` (naming the option and its value: an unknown key, a bad `loss`/`output`/`device`/
   * `sessionOptions`, an `ort` that is not an ONNX Runtime module, `kfac` beside FNGD options),
   * `MalformedModelError`, `UnsupportedOpError`, `UnsupportedModelError`, `RuntimeUnavailableError` (no `ort`
   * given and none installed), and `ifngd`'s `InvalidArgumentError` for bad optimizer values.
   */
  static async create(modelBytes: Uint8Array, options: OnnxTrainerOptions): Promise<OnnxTrainer> {
    return new OnnxTrainer(await setUpTrainer(modelBytes, options));
  }

  /**
   * The optimizer as `ifngd`'s contract drives it, whatever its kind: `kind`, `stats`, `serialize()` /
   * `restore()` (FNGD's and KFAC's own objects are {@link OnnxTrainer.optimizer} and {@link OnnxTrainer.kfacOptimizer}).
   */
  get trainingOptimizer(): TrainingOptimizer<HostTree> {
    return this.#engine.training;
  }

  /** The FNGD optimizer (stats, damping, checkpoints); null when training with another optimizer. */
  get optimizer(): FngdOptimizer | null {
    return this.#engine.optimizer;
  }

  /** The KFAC optimizer (stats, checkpoints); null when training with another optimizer. */
  get kfacOptimizer(): KfacOptimizer | null {
    return this.#engine.kfacOptimizer;
  }

  /** A copy of the current parameters (those of the last completed step). */
  params(): HostTree {
    const out: Record<string, Float32Array> = {};
    for (const [k, v] of Object.entries(this.#params)) out[k] = v.slice();
    return out;
  }

  /**
   * A copy of the running statistics of the model's training-mode BatchNormalization nodes (mean and variance, by
   * initializer name; empty without such nodes). Each committed step moves them towards its batch's statistics as
   * PyTorch does — `r ← m·r + (1 − m)·b`, with the node's `momentum` m and the batch variance unbiased (× k/(k − 1)
   * for k values per channel); inference (`predict`, `evaluate`, the exported model) uses them.
   */
  runningStatistics(): HostTree {
    const out: Record<string, Float32Array> = {};
    for (const [k, v] of Object.entries(this.#stats)) out[k] = v.slice();
    return out;
  }

  /**
   * One FNGD (or KFAC) step on a mini-batch, queued behind earlier calls; returns the batch's mean loss before
   * the update. Throws `FeedError` / `TargetError` / `InvalidOptionError` before anything runs, and
   * `NonFiniteError`, session and optimizer errors with nothing changed; `DisposedError` after `dispose()`.
   */
  step(feeds: Feeds, targets: Tensor, options: StepOptions): Promise<number> {
    return this.#queue.run(() => this.#step(feeds, targets, options));
  }

  async #step(feeds: Feeds, targets: Tensor, options: StepOptions | undefined): Promise<number> {
    if (this.#queue.closed) throw disposed();
    const so = checkStepOptions(options);
    const n = checkFeeds(this.#an, feeds);
    const single = this.#an.runningStats.find((r) => n * r.spatial < 2);
    if (single) {
      throw new FeedError(`BatchNormalization '${single.node}' in training mode needs more than one value per channel; a batch of ${n} gives ${n * single.spatial} (PyTorch refuses it too): train on batches of two or more`);
    }
    const target = checkTargets(this.#p.ort, this.#an, this.#p.o.loss, targets, n);
    const params = this.#params;
    const masks = this.#passes.dropoutMasks(n, mixSeed(DROPOUT_SEED, this.#steps));
    const base = this.#passes.baseFeeds(feeds, params, target, masks);
    const sampledBase = async (seed: number) => {
      const out = await this.#passes.trainOutput(feeds, params, masks);
      const y = sampleTargets(this.#p.o.loss, out.data as Float32Array, n, seed, this.#outputForm);
      return this.#passes.baseFeeds(feeds, params, new this.#p.ort.Tensor('float32', y, target.dims), masks);
    };
    const logitsAt = (p: HostTree) => this.#passes.trainLogits(feeds, p, masks);
    const cx = { passes: this.#passes, layers: this.#an.layers.length, kronecker: this.#an.layers.map(isKronecker), params, base, n, sampledBase, loss: this.#p.o.loss, target, logitsAt };
    const { outcome, batchStats } = await this.#engine.step(cx, so?.batchKey as string | number, so?.epoch ?? this.epoch);
    // the commit: the optimizer committed its own state in its step; a skipped step (`onNonFinite: 'skip'`, whose
    // forward may have overflowed) moves neither the running statistics nor the Dropout seed
    if (outcome.params === params) return outcome.loss;
    this.#params = outcome.params;
    this.#stats = movedStats(this.#an, this.#stats, batchStats, n);
    this.#steps++;
    return outcome.loss;
  }

  /**
   * Mean loss — and top-1 accuracy under softmax cross-entropy — on a batch at the current parameters (no update),
   * queued behind earlier calls.
   */
  evaluate(feeds: Feeds, targets: Tensor): Promise<OnnxEvaluation> {
    return this.#queue.run(() => this.#evaluate(feeds, targets));
  }

  async #evaluate(feeds: Feeds, targets: Tensor): Promise<OnnxEvaluation> {
    const n = checkFeeds(this.#an, feeds);
    const target = checkTargets(this.#p.ort, this.#an, this.#p.o.loss, targets, n);
    const loss = await this.#passes.loss(this.#passes.baseFeeds(feeds, this.#params, target), this.#stats);
    if (this.#p.o.loss !== 'softmax-cross-entropy') return { loss };
    const out = (await this.#passes.forward(feeds, this.#params, this.#stats))[this.#an.output.name];
    return { loss, accuracy: top1(out?.data as Float32Array, target.data as Float32Array, n) };
  }

  /** The forward pass at the current parameters, queued behind earlier calls: every model output. */
  predict(feeds: Feeds): Promise<Record<string, Tensor>> {
    return this.#queue.run(async () => {
      checkFeeds(this.#an, feeds);
      return this.#passes.forward(feeds, this.#params, this.#stats);
    });
  }

  /**
   * The batch plan of the last `fit` (null before one): the partition of samples (by `sampleIds`) into batches
   * of `batchSize` and their cache keys. The next `fit` keeps every batch whose samples are all still present.
   */
  get batchPlan(): BatchPlan | null {
    return this.#plans.plan;
  }

  /** How the last `fit` changed the plan: batches kept (cache hits possible), dropped, added. */
  get lastPlanChange(): PlanChange | null {
    return this.#plans.change;
  }

  /**
   * Takes a {@link OnnxTrainer.batchPlan} saved beside `optimizer.serialize()` (e.g. for a new trainer on
   * `exportModel()`), so the next `fit` keeps its batches and keys; null forgets the plan. Queued like the other
   * calls. A plan that is not valid throws `InvalidOptionError` (key `plan`) and changes nothing.
   */
  restorePlan(plan: BatchPlan | null): Promise<void> {
    let checked: BatchPlan | null;
    try {
      checked = PlanState.check(plan);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#queue.run(async () => {
      this.#plans.plan = checked;
      this.#plans.change = null;
    });
  }

  /**
   * Trains for `epochs` on `ifngd`'s batch contract, as the tfjs trainer: samples are grouped into batches by a
   * {@link BatchPlan} keyed by sample identity (`sampleIds`, default the row number; the first plan a seeded
   * permutation, later calls keep every batch whose samples are all still present) and each epoch visits the
   * batches in the order `permutation(B, mixSeed(seed, epoch))`. Returns tfjs's `History` shape: `history.loss`
   * (and `val_loss`, `val_acc` with `validationData`, evaluated after every epoch) and the epochs' logs.
   * Options, ids, inputs and targets are validated before the first step; each step is a transaction (a throw
   * keeps the earlier steps of the fit), and the plan is adopted with the first completed step. One queued
   * call: calls made while `onEpochEnd` runs (e.g. an evaluation it awaits) run at once, before the fit goes on.
   */
  fit(data: Dataset, options: FitOptions): Promise<OnnxFitHistory> {
    const { an, ort, o } = this.#p;
    const host: FitHost = {
      an,
      ort,
      loss: o.loss,
      plans: this.#plans,
      epoch: () => this.epoch,
      endEpoch: () => void this.epoch++,
      step: (f, t, so) => this.#step(f, t, so),
      open: (fn) => this.#queue.open(fn),
      evaluate: (d) => this.#evaluate(d.inputs, d.targets),
    };
    return this.#queue.run(() => runFit(host, data, options));
  }

  /**
   * Moves training to another linear-algebra device — e.g. after a WebGPU device loss made a step throw
   * `DeviceLostError` (parameters, optimizer state, cache and stats are then as before that step): a fresh
   * WebGPU device or a CPU one. The optimizer is rebuilt on `device` from its own checkpoint, keeping everything
   * but device-resident state (KFAC's device copies of its inverses); `optimizer`/`kfacOptimizer` are new
   * objects afterwards. Queued like the training calls, so it runs between them. Throws `InvalidOptionError`
   * (key `device`) for a value that is not a live device (destroyed, lost) with nothing changed, `DisposedError`
   * after `dispose()`. The old device is destroyed if the trainer created it; `device` stays the caller's.
   */
  useDevice(device: LinalgDevice): Promise<void> {
    try {
      Engine.checkDevice(device);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#queue.run(async () => this.#engine.useDevice(device, this.#params));
  }

  /**
   * The original model with the trained initializers and running statistics (every other field kept), as ONNX
   * bytes. `mode: 'inference'` (the default) writes training-mode BatchNormalization nodes as inference runs them (with
   * their running statistics), so the model predicts as {@link OnnxTrainer.predict}; `'training'` keeps them as they
   * came, for a trainer to go on from (models without training-mode nodes come out the same either way).
   * Throws `InvalidOptionError` for another mode.
   */
  exportModel(options: ExportOptions = {}): Uint8Array {
    if (this.#queue.closed) throw disposed();
    const mode = options.mode ?? 'inference';
    if (mode !== 'inference' && mode !== 'training') {
      throw new InvalidOptionError(`exportModel: mode must be 'inference' or 'training', got ${String(mode)}`, { key: 'mode', value: mode });
    }
    return exportWithParams(this.#p.source, { ...this.#params, ...this.#stats }, mode);
  }

  /**
   * Stops the trainer: calls still queued reject with `DisposedError` (so do later ones); the running call
   * finishes (a running `fit` stops before its next step), then the sessions and the device the trainer created
   * are released.
   */
  dispose(): Promise<void> {
    this.#disposal ??= this.#queue.close().then(async () => {
      await this.#passes.release();
      this.#engine.releaseDevice();
    });
    return this.#disposal;
  }
}
