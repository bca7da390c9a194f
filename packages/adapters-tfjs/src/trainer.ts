/**
 * `FngdTrainer`: the training loop FNGD needs (tfjs's `model.fit` only hands an optimizer the mean loss). A
 * façade over the model set-up (`trainer-setup.ts`), one step implementation on its device (`step-engine.ts`:
 * FNGD, KFAC or a tfjs optimizer), the progress across calls (`progress.ts`), `fit` (`trainer-fit.ts`,
 * `fit-loop.ts`), evaluation (`evaluate.ts`) and checkpoints (`trainer-checkpoint.ts`).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { LinalgDevice } from '@ifngd/linalg-gpu';
import type { BatchKey, BatchPlan, FngdOptimizer, FngdStats, HostTree, KfacOptimizer, KfacStats, PlanChange, TrainingOptimizer } from 'ifngd';
import { AdapterArgumentError, DisposedError } from './errors.js';
import { evaluateAsync, evaluateSync, predict, refold } from './evaluate.js';
import type { LossName } from './losses.js';
import type { FoldActivation, FunctionModel } from './model.js';
import { checkInputShape, type ModelIo } from './io.js';
import { checkBatchOptions, checkFitOptions, checkTrainerOptions } from './options.js';
import { LossWeighting } from './sample-weights.js';
import { AccuracyProbe } from './accuracy.js';
import { runFitDataset, type DatasetLike, type FitDatasetOptions } from './fit-dataset.js';
import { sampleIdsOf } from './sample-ids.js';
import { packTargets, packTargetsSync, type OutputLosses } from './output-losses.js';
import { TrainingProgress } from './progress.js';
import type { StepContext } from './step-context.js';
import { StepEngine } from './step-engine.js';
import { engineChoice } from './optimizer-choice.js';
import { checkTargets, OutputShapes, withDeferredTargetCheck, withLossTargets, withLossTargetsSync, type TargetValueCheck } from './targets.js';
import { checkCheckpoint, loadFromModel, saveToModel } from './trainer-checkpoint.js';
import { CallQueue } from 'ifngd/internal';
import { checkedFit, fitHost, withSplit } from './trainer-fit.js';
import { stepContext, trainerModel, type TrainerModel } from './trainer-setup.js';
import { callbackModel, type FitHistory } from './fit-callbacks.js';
import type { BatchResult, Evaluation, FitOptions, FngdTrainerOptions, TrainerData } from './trainer-types.js';
import type { TfTree } from './tree-ops.js';
import { registerWasmConvFilterGradient } from './wasm-conv-filter.js';

export type { BatchResult, EpochLogs, Evaluation, FitCallbacks, FitOptions, FngdTrainerOptions, TrainerData, TrainerFngdOptions } from './trainer-types.js';

/**
 * The FNGD training loop for a `tf.Sequential`/`tf.LayersModel` (see {@link fromLayersModel} for the
 * supported layers) or a {@link FunctionModel} over explicit variables. Create it with {@link FngdTrainer.create}.
 */
export class FngdTrainer {
  /** The model as a function over its variables. */
  readonly model: FunctionModel;
  /** The activation folded into the loss. */
  readonly folded: FoldActivation;
  readonly #layers: LayersModel | null;
  readonly #io: ModelIo | null;
  readonly #losses: OutputLosses | null;
  readonly #outputsFolded: readonly FoldActivation[];
  /** A single-input LayersModel's input shape (`[null, …]`) and name, checked before its forward runs. */
  readonly #input: { readonly shape: readonly (number | null)[]; readonly name: string } | null;
  readonly #c: StepContext;
  /** The context of evaluation and prediction: the loss never weighted (`sample-weights.ts`). */
  readonly #evalC: StepContext;
  readonly #weighting: LossWeighting;
  readonly #lossName: LossName | null;
  readonly #engine: StepEngine;
  readonly #shapes: OutputShapes;
  readonly #queue = new CallQueue((what, waited) => new DisposedError(waited ? `${what}: the trainer was disposed while this call was queued` : `${what}: the trainer was disposed`));
  readonly #progress = new TrainingProgress();
  readonly #stopFlag = { stopTraining: false };
  /** fit's training-accuracy probe (null unless softmax cross-entropy on one output). */
  readonly #accuracy: AccuracyProbe | null;
  /** `fit`s and `fitDataset`s running (callbacks may nest them): their steps measure their accuracy. */
  #measuring = 0;

  private constructor(m: TrainerModel, c: StepContext, evaluation: StepContext, weighting: LossWeighting, engine: StepEngine, probe: AccuracyProbe | null) {
    this.#accuracy = probe;
    this.model = m.fm;
    this.#layers = m.layers;
    this.#io = m.io;
    this.#losses = m.losses;
    this.#outputsFolded = m.outputsFolded;
    const only = m.layers && !m.io ? m.layers.inputs[0] : undefined;
    this.#input = only ? { shape: only.shape, name: m.layers?.inputNames[0] ?? 'input' } : null;
    this.folded = m.folded;
    this.#c = c;
    this.#evalC = evaluation;
    this.#weighting = weighting;
    this.#engine = engine;
    // several outputs: every output's targets are checked (and packed) at the boundary; the steps see one custom loss
    this.#lossName = typeof m.loss === 'string' ? m.loss : null;
    this.#shapes = new OutputShapes(m.fm);
  }

  /**
   * Creates a trainer. Validates the model first (unsupported layers throw `UnsupportedLayerError` before any
   * weight changes) and initialises the optimizer: FNGD (`options.fngd`, or `FNGD_DEFAULTS` when none of
   * `fngd`, `kfac`, `optimizer` is given), KFAC (`options.kfac`) or the tfjs `options.optimizer`. Giving more
   * than one, an unknown key (`{ loss, fngdd: {…} }`), an unknown loss name or a value of the wrong type throws
   * `InvalidOptionError` naming the key and the value (the nested `fngd`/`kfac` fields: `ifngd`'s errors).
   */
  static async create(model: LayersModel | FunctionModel, options: FngdTrainerOptions): Promise<FngdTrainer> {
    checkTrainerOptions(options);
    // tfjs-backend-wasm ships no convolution filter gradient: fill the gap so convolutions train there
    if (tf.getBackend() === 'wasm') registerWasmConvFilterGradient();
    const choice = engineChoice(options);
    const m = trainerModel(model, options, choice);
    // a FunctionModel's forward is checked for sample coupling when the optimizer uses per-sample gradients
    const base = stepContext(m, m.layers === null && 'resolved' in choice && choice.resolved.definition.perSampleGradients === true);
    // the steps' loss is weighted while a fit with sampleWeight/classWeight runs; evaluation's never is
    const weighting = new LossWeighting();
    // fit's `acc`: the training accuracy of each step's forward pass (softmax cross-entropy, one output)
    const probe = m.loss === 'softmax-cross-entropy' ? new AccuracyProbe() : null;
    const c: StepContext = { ...base, loss: weighting.wrap(probe ? probe.wrap(base.loss) : base.loss) };
    // KFAC's sampled Fisher draws targets for a named loss on one output; its factors' loss is weighted, not probed
    const sampling = typeof m.loss === 'string' ? { lossName: m.loss, loss: weighting.wrap(base.loss), weights: (y: Tensor) => weighting.weightsOf(y) } : null;
    return new FngdTrainer(m, c, base, weighting, await StepEngine.create(c, choice, options.device, sampling), probe);
  }

  /** The FNGD optimizer (null for KFAC and for a tfjs-optimizer baseline). */
  get optimizer(): FngdOptimizer<TfTree, Tensor> | null {
    return this.#engine.optimizer;
  }

  /** The tfjs baseline optimizer (null for FNGD). */
  get tfOptimizer(): tf.Optimizer | null {
    return this.#engine.tfOptimizer;
  }

  /**
   * The batch plan of the last `fit` (null before one): the partition of samples (by identity) into batches
   * and their cache keys. It carries over to the next `fit` — and through {@link FngdTrainer.save} — so that
   * when the data changes, batches whose samples are unchanged keep their keys and cached coefficients.
   */
  get batchPlan(): BatchPlan | null {
    return this.#progress.plan;
  }

  /** How the last `fit` changed the plan: batches kept (cache hits possible), dropped, added. */
  get lastPlanChange(): PlanChange | null {
    return this.#progress.change;
  }

  /** Epochs trained so far (across `fit` calls). */
  get epoch(): number {
    return this.#progress.epoch;
  }

  /** FNGD counters (null for other optimizers: see {@link FngdTrainer.trainingOptimizer}). */
  get stats(): FngdStats | null {
    return this.optimizer?.stats ?? null;
  }

  /**
   * The optimizer as `ifngd`'s contract drives it, whatever its kind (`kind`, `stats`, `serialize()`); null for a
   * tfjs optimizer. FNGD's and KFAC's own objects are {@link FngdTrainer.optimizer} and {@link FngdTrainer.kfacOptimizer}.
   */
  get trainingOptimizer(): TrainingOptimizer<any> | null {
    return this.#engine.training;
  }

  /** The KFAC optimizer (null unless training with KFAC). */
  get kfacOptimizer(): KfacOptimizer<HostTree> | null {
    return this.#engine.kfacOptimizer;
  }

  /** KFAC counters: steps, factor updates, inverse refreshes, KL clipping (null unless training with KFAC). */
  get kfacStats(): KfacStats | null {
    return this.kfacOptimizer?.stats ?? null;
  }

  /**
   * One training step on a batch. `batchKey` identifies the batch in the FNGD coefficient cache (KFAC ignores
   * it). Targets are checked (`TargetError`; see the README for the accepted forms): shapes and dtypes first;
   * their values with the step's own read for FNGD and KFAC (no read of their own), before a baseline step. A
   * step is a transaction: when it throws, the variables, the optimizer and the trainer are as before. Training
   * calls are queued: un-awaited calls run one after another, in call order.
   */
  trainBatch(x: TrainerData, y: TrainerData, options: { readonly batchKey: BatchKey; readonly epoch?: number }): Promise<BatchResult> {
    return this.#queue.run(async () => {
      checkBatchOptions(options);
      const epoch = options.epoch ?? this.epoch;
      return this.#packed('trainBatch', x, y, (px, py) => this.#trainOne('trainBatch', px, py, options.batchKey, epoch));
    }, 'trainBatch');
  }

  /** One step on a batch in the steps' form: targets checked (with the step's read for FNGD and KFAC), then stepped. */
  #trainOne(where: string, px: unknown, py: unknown, key: BatchKey, epoch: number): Promise<BatchResult> {
    if (this.#engine.kind === null) return withLossTargets(where, this.#shapes, this.#lossName, px, py, (yl) => this.#step(px as Tensor, yl, key, epoch));
    return withDeferredTargetCheck(where, this.#shapes, this.#lossName, px, py, (yl, check) => this.#step(px as Tensor, yl, key, epoch, check));
  }

  /**
   * Trains on a stream of batches — a `tf.data.Dataset` of `{ xs, ys }` (or `[xs, ys]`, optionally `{ xs, ys, ids }`)
   * elements, as tfjs's `model.fitDataset` — for `epochs` epochs of `batchesPerEpoch` batches (default: until the
   * iterator ends). A batch's key is its sample ids (given, or a content fingerprint), so a changed batch never gets
   * another's coefficients; the cache keeps each epoch's batches. Callbacks, `validationData`, `initialEpoch`, `verbose` and the
   * returned `tf.History` are `fit`'s. Each batch's tensors are disposed after its step, as in tfjs. Queued like
   * {@link FngdTrainer.fit}.
   */
  fitDataset(dataset: DatasetLike, options: FitDatasetOptions): Promise<FitHistory> {
    const progress = this.#progress;
    return this.#queue.run(
      () =>
        this.#measured(() => runFitDataset(
          {
            get epoch() {
              return progress.epoch;
            },
            model: callbackModel(this.#layers, this.#stopFlag),
            lossName: this.#lossName,
            open: (fn) => this.#queue.open(fn),
            step: (x, y, key, epoch) =>
              this.#packed('fitDataset', x, y, async (px, py) => ({ ...(await this.#trainOne('fitDataset', px, py, key, epoch)), n: (px as Tensor).shape[0] as number })),
            fingerprint: (x, y) => this.#packed('fitDataset', x, y, (px, py) => sampleIdsOf(this.#checkedTensor(px), this.#checkedTensor(py), 'content')),
            evaluate: (x, y) => this.evaluateAsync(x as TrainerData, y as TrainerData),
            checkValidation: (x, y) => this.#packed('fitDataset (validationData)', x, y, async (px, py) => void (await checkTargets('fitDataset (validationData)', this.#shapes, this.#lossName, px, py))),
            endEpoch: () => this.#progress.endEpoch(),
            retain: (keys) => this.#engine.retain(keys),
          },
          dataset,
          options,
        )),
      'fitDataset',
    );
  }

  /** `t` when it is a tensor; `AdapterArgumentError` otherwise. */
  #checkedTensor(t: unknown): Tensor {
    if (!(t instanceof tf.Tensor)) throw new AdapterArgumentError('fitDataset: a batch\'s xs and ys must be tensors (arrays or objects of them for several inputs or outputs)');
    return t;
  }

  /**
   * Runs `run` on the data as the steps take it: as given for a model with one input and one output; packed
   * (`io.ts`) for one with several — the inputs checked and packed, every output's targets checked (one read per
   * output whose values need one) and packed; the packed tensors are released after `run`.
   */
  async #packed<T>(where: string, x: unknown, y: unknown, run: (x: unknown, y: unknown) => Promise<T>): Promise<T> {
    const io = this.#io;
    if (!io) return run(this.#checkedInput(where, x), y);
    const px = io.packInputs(where, x);
    try {
      const py = await packTargets(where, io, this.#losses as OutputLosses, y, px.shape[0] as number);
      try {
        return await run(px, py);
      } finally {
        py.dispose();
      }
    } finally {
      px.dispose();
    }
  }

  /** {@link FngdTrainer.#packed} with synchronous reads. */
  #packedSync<T>(where: string, x: unknown, y: unknown, run: (x: unknown, y: unknown) => T): T {
    const io = this.#io;
    if (!io) return run(this.#checkedInput(where, x), y);
    const px = io.packInputs(where, x);
    try {
      const py = packTargetsSync(where, io, this.#losses as OutputLosses, y, px.shape[0] as number);
      try {
        return run(px, py);
      } finally {
        py.dispose();
      }
    } finally {
      px.dispose();
    }
  }

  /** One step on targets as the loss takes them: values checked, or checked by the step through `check`. */
  async #step(x: Tensor, y: Tensor, batchKey: BatchKey, epoch: number, check: TargetValueCheck | null = null): Promise<BatchResult> {
    if (this.#queue.closed) throw new DisposedError('the trainer was disposed during the call');
    const probe = this.#measuring > 0 ? this.#accuracy : null;
    if (!probe) return this.#engine.step(x, y, batchKey, epoch, check);
    const { result, accuracy } = await probe.measure(x.shape[0] as number, () => this.#engine.step(x, y, batchKey, epoch, check));
    return accuracy === null ? result : { ...result, accuracy };
  }

  /** Runs a `fit` or `fitDataset` with its steps measuring their accuracy. */
  async #measured<T>(run: () => Promise<T>): Promise<T> {
    this.#measuring++;
    try {
      return await run();
    } finally {
      this.#measuring--;
    }
  }

  /**
   * Trains for `epochs` epochs. Samples are grouped into batches by a {@link BatchPlan} keyed by sample identity
   * (`options.sampleIds`): the first plan is a permutation seeded by `seed`; later calls keep every batch whose
   * samples are all still present. Each epoch visits the batches in a seeded shuffled order. Options, data and
   * validation data are checked before anything runs; each step is a transaction, and the plan is adopted with
   * the first completed step. Queued behind (and ahead of) other training calls, like {@link FngdTrainer.trainBatch}.
   * Callbacks as tfjs takes them (hook objects, `tf.Callback`s such as `tf.callbacks.earlyStopping()`, arrays);
   * `model.stopTraining = true` ends the fit after the current batch. Returns a `tf.History` (tfjs's keys `loss`,
   * `acc` — softmax cross-entropy: each step's training accuracy before its update —, `val_loss`, `val_acc`, and the
   * trainer's), with the epochs' {@link EpochLogs} as `logs`.
   */
  fit(xs: TrainerData, ys: TrainerData, options: FitOptions): Promise<FitHistory> {
    return this.#queue.run(() => this.#measured(() => this.#fit(xs, ys, options)), 'fit');
  }

  #fit(xs: TrainerData, ys: TrainerData, options: FitOptions): Promise<FitHistory> {
    {
      const host = fitHost(
        this.#progress,
        // a tf.Callback's model: the LayersModel with its stopTraining in a flag of ours (which ends the fit)
        callbackModel(this.#layers, this.#stopFlag),
        this.#lossName,
        this.#weighting,
        (fn) => this.#queue.open(fn),
        (x, y, key, epoch) => this.#step(x, y, key, epoch),
        (x, y) => evaluateAsync(this.#evalC, this.#lossName, x, y),
        // an adopted plan bounds the coefficient cache to its batches
        (plan) => this.#engine.retain(plan.batches.map((b) => b.key)),
      );
      checkFitOptions(options);
      if (options.validationSplit !== undefined) {
        const { validationSplit: split, ...rest } = options;
        return this.#packed('fit', xs, ys, (px, py) =>
          withSplit(px as Tensor, py as Tensor, split, async (x, y, vx, vy) => {
            // sample weights for every sample train with the training part's
            const sw = rest.sampleWeight;
            const cut = sw instanceof tf.Tensor && sw.rank === 1 && sw.shape[0] === (px as Tensor).shape[0] ? tf.slice(sw, [0], [x.shape[0] as number]) : null;
            try {
              return await checkedFit(host, this.#shapes, this.#lossName, x, y, { ...rest, validationData: [vx, vy], ...(cut ? { sampleWeight: cut } : {}) });
            } finally {
              cut?.dispose();
            }
          }),
        );
      }
      const val = this.#io ? options.validationData : undefined;
      if (!val || !Array.isArray(val)) return this.#packed('fit', xs, ys, (px, py) => checkedFit(host, this.#shapes, this.#lossName, px as Tensor, py as Tensor, options));
      return this.#packed('fit (validationData)', val[0], val[1], (vx, vy) =>
        this.#packed('fit', xs, ys, (px, py) => checkedFit(host, this.#shapes, this.#lossName, px as Tensor, py as Tensor, { ...options, validationData: [vx as Tensor, vy as Tensor] })),
      );
    }
  }

  /**
   * Mean per-sample loss (and accuracy for softmax cross-entropy) in inference mode (synchronous read: not on
   * webgpu in Node). Targets are checked as for training (`TargetError`).
   */
  evaluate(xs: TrainerData, ys: TrainerData, options: { readonly batchSize?: number } = {}): Evaluation {
    this.#live('evaluate');
    return this.#packedSync('evaluate', xs, ys, (px, py) =>
      withLossTargetsSync('evaluate', this.#shapes, this.#lossName, px, py, (yl) => evaluateSync(this.#evalC, this.#lossName, px as Tensor, yl, options.batchSize)),
    );
  }

  /** {@link FngdTrainer.evaluate} with an awaited read — works on every backend (webgpu has no `dataSync` in Node). */
  async evaluateAsync(xs: TrainerData, ys: TrainerData, options: { readonly batchSize?: number } = {}): Promise<Evaluation> {
    this.#live('evaluateAsync');
    return this.#packed('evaluateAsync', xs, ys, (px, py) =>
      withLossTargets('evaluateAsync', this.#shapes, this.#lossName, px, py, (yl) => evaluateAsync(this.#evalC, this.#lossName, px as Tensor, yl, options.batchSize)),
    );
  }

  /** `x`, after checking it against a single-input LayersModel's input shape (`AdapterArgumentError`). */
  #checkedInput(where: string, x: unknown): unknown {
    if (!(x instanceof tf.Tensor)) throw new AdapterArgumentError(`${where}: x must be a tf.Tensor (the model has one input)`);
    if (this.#input) checkInputShape(where, x, this.#input.shape, this.#input.name);
    return x;
  }

  /** Throws {@link DisposedError} after `dispose()`. */
  #live(what: string): void {
    if (this.#queue.closed) throw new DisposedError(`${what}: the trainer was disposed`);
  }

  /** Throws unless no training call is running or queued (restoring under a running `fit` would mix states). */
  #idle(what: string): void {
    this.#live(what);
    if (this.#queue.busy) throw new AdapterArgumentError(`${what}: a training call is running or queued; await it first`);
  }

  /**
   * The model's output (a folded softmax/sigmoid applied again) for inputs given like {@link FngdTrainer.trainBatch}'s.
   * A model with several outputs: use {@link FngdTrainer.predictOutputs} (`AdapterArgumentError` here).
   */
  predict(x: TrainerData): Tensor {
    this.#live('predict');
    if (!this.#io) return predict(this.#evalC, this.folded, this.#checkedInput('predict', x) as Tensor);
    if (this.#io.outputs.length > 1) throw new AdapterArgumentError(`predict: the model has ${this.#io.outputs.length} outputs; use predictOutputs`);
    return this.predictOutputs(x)[0] as Tensor;
  }

  /** Every output of the model (folded activations applied again), in the model's output order. */
  predictOutputs(x: TrainerData): Tensor[] {
    this.#live('predictOutputs');
    const io = this.#io;
    if (!io) return [predict(this.#evalC, this.folded, this.#checkedInput('predictOutputs', x) as Tensor)];
    const px = io.packInputs('predictOutputs', x);
    try {
      const out = predict(this.#evalC, null, px);
      try {
        return tf.tidy(() => io.unpackOutputs(out).map((o, k) => refold(o, this.#outputsFolded[k] ?? null)));
      } finally {
        out.dispose();
      }
    } finally {
      px.dispose();
    }
  }

  /**
   * Moves training to another linear-algebra device — e.g. after a WebGPU device loss made a step throw
   * `DeviceLostError` (parameters, optimizer state, cache and counters are then as before that step): a fresh
   * WebGPU device or a CPU one (`createDevice({ backend: 'cpu' })`). The optimizer is rebuilt on `device` from
   * its own checkpoint, so only device-resident state is dropped (KFAC's device copies of its inverses, which
   * the next step uploads again); {@link FngdTrainer.optimizer} is a new object afterwards. The old device is
   * destroyed if the trainer created it; `device` stays the caller's. Only between calls: throws
   * `AdapterArgumentError` while a training call is running or queued, for a baseline trainer, and for a
   * destroyed or lost device (nothing changes then); `DisposedError` after `dispose()`.
   */
  useDevice(device: LinalgDevice): Promise<void> {
    try {
      this.#idle('useDevice');
      this.#engine.checkDevice(device);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#queue.run(() => this.#engine.useDevice(device), 'useDevice');
  }

  /** Checkpoint of the optimizer state (FNGD and KFAC: `ifngd`'s versioned formats; baselines: empty). */
  serializeState(): Uint8Array {
    this.#live('serializeState');
    return this.#engine.serialize();
  }

  /**
   * Restores {@link FngdTrainer.serializeState} output (same model and configuration), optionally with the
   * trainer epoch and the {@link FngdTrainer.batchPlan} saved beside it (validated: `AdapterCheckpointError`).
   * An FNGD checkpoint offered to a KFAC trainer, or a KFAC one to an FNGD trainer, is refused with
   * `AdapterCheckpointError`; nothing changes then. Throws while a training call is running or queued.
   */
  restoreState(bytes: Uint8Array, epoch?: number, plan?: BatchPlan | null): void {
    this.#idle('restoreState');
    const checked = checkCheckpoint(this.#engine.kind, { bytes, ...(plan === undefined ? {} : { plan }) });
    this.#engine.restore(bytes);
    this.#progress.restore(epoch, checked);
  }

  /**
   * `model.save` with the optimizer state (and the trainer epoch) in the model's user-defined metadata, so it
   * travels in model.json through any tfjs IO handler. LayersModel trainers only.
   */
  async save(handlerOrUrl: tf.io.IOHandler | string): Promise<tf.io.SaveResult> {
    this.#live('save');
    if (this.#layers) await this.#engine.prefetch(); // the synchronous serialisation below then works on webgpu
    return saveToModel(this.#layers, handlerOrUrl, this.epoch, this.#layers ? this.serializeState() : new Uint8Array(0), this.batchPlan);
  }

  /** Restores the optimizer state saved by {@link FngdTrainer.save} from the (loaded) model's metadata. */
  restore(): void {
    this.#idle('restore');
    const cp = loadFromModel(this.#layers, this.#engine.kind !== null);
    this.restoreState(cp.bytes, cp.epoch, cp.plan ?? null);
  }

  /**
   * Releases the optimizer state tensors and the device the trainer created (not the model). Queued training
   * calls reject with {@link DisposedError}; a running `fit` stops at its next step with that error; the release
   * happens once the running call has settled (at once when idle). Every later call throws `DisposedError`.
   */
  dispose(): void {
    this.#queue.close(() => {
      this.#engine.dispose();
      this.#c.filters.dispose();
    });
  }
}
