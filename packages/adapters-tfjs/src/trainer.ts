/**
 * `FngdTrainer`: the training loop FNGD needs (tfjs's `model.fit` only hands an optimizer the mean loss). A
 * façade over one step implementation — FNGD (`fngd-step.ts`), KFAC (`kfac-step.ts`) or a tfjs optimizer
 * (`baseline-step.ts`) — plus the fit loop (`fit-loop.ts`), evaluation (`evaluate.ts`) and checkpoints
 * (`trainer-checkpoint.ts`).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { LinalgDevice } from '@ifngd/linalg-gpu';
import { type BatchKey, type BatchPlan, type FngdOptimizer, type FngdStats, type HostTree, type KfacOptimizer, type KfacStats, type PlanChange } from 'ifngd';
import { baselineStep } from './baseline-step.js';
import { linalgDeviceForTf } from './device.js';
import { AdapterArgumentError, DisposedError } from './errors.js';
import { evaluateAsync, evaluateSync, predict } from './evaluate.js';
import { fitLoop, type FitHost } from './fit-loop.js';
import { checkFitOptions, checkTrainerOptions } from './options.js';
import { FngdStep } from './fngd-step.js';
import { KfacStep } from './kfac-step.js';
import { resolveLoss, type LossName } from './losses.js';
import { fromLayersModel, type FoldActivation, type FunctionModel } from './model.js';
import { PatchFilters } from './patches.js';
import type { StepContext } from './step-context.js';
import { StepQueue } from './step-queue.js';
import { checkTargets, OutputShapes, withLossTargets, withLossTargetsSync } from './targets.js';
import { checkCheckpoint, loadFromModel, saveToModel } from './trainer-checkpoint.js';
import type { BatchResult, EpochLogs, Evaluation, FitOptions, FngdTrainerOptions } from './trainer-types.js';
import { collectTensors, type TfTree } from './tree-ops.js';

export type { BatchResult, EpochLogs, Evaluation, FitCallbacks, FitOptions, FngdTrainerOptions, TrainerFngdOptions } from './trainer-types.js';

function isLayersModel(m: unknown): m is LayersModel {
  return typeof m === 'object' && m !== null && typeof (m as { getClassName?: unknown }).getClassName === 'function' && Array.isArray((m as { layers?: unknown }).layers);
}

/**
 * The FNGD training loop for a `tf.Sequential`/`tf.LayersModel` (see {@link fromLayersModel} for the
 * supported layers) or a {@link FunctionModel} over explicit variables. Create it with {@link FngdTrainer.create}.
 */
export class FngdTrainer {
  /** The FNGD optimizer (null for KFAC and for a tfjs-optimizer baseline). */
  readonly optimizer: FngdOptimizer<TfTree, Tensor> | null;
  /** The tfjs baseline optimizer (null for FNGD). */
  readonly tfOptimizer: tf.Optimizer | null;
  /** The model as a function over its variables. */
  readonly model: FunctionModel;
  /** The activation folded into the loss. */
  readonly folded: FoldActivation;
  readonly #layers: LayersModel | null;
  readonly #c: StepContext;
  readonly #lossName: LossName | null;
  readonly #device: LinalgDevice | null;
  readonly #ownsDevice: boolean;
  readonly #fngd: FngdStep | null = null;
  readonly #kfac: KfacStep | null = null;
  readonly #shapes: OutputShapes;
  readonly #queue = new StepQueue();
  #epoch = 0;
  #plan: BatchPlan | null = null;
  #planChange: PlanChange | null = null;

  private constructor(model: FunctionModel, layers: LayersModel | null, folded: FoldActivation, options: FngdTrainerOptions, device: LinalgDevice | null, ownsDevice: boolean) {
    this.model = model;
    this.#layers = layers;
    this.folded = folded;
    this.#lossName = typeof options.loss === 'string' ? options.loss : null;
    const names = model.names ?? model.variables.map((_, i) => `p${i}`);
    if (names.length !== model.variables.length || new Set(names).size !== names.length) {
      throw new AdapterArgumentError('names: one unique name per variable is required');
    }
    this.#c = { model, loss: resolveLoss(options.loss), variables: model.variables, names, filters: new PatchFilters() };
    this.#shapes = new OutputShapes(model);
    this.#device = device;
    this.#ownsDevice = ownsDevice;
    this.tfOptimizer = options.optimizer ?? null;
    if (options.kfac !== undefined && device) {
      const taps = model.taps;
      if (!taps) throw new AdapterArgumentError('FngdTrainer.create: KFAC needs the model\'s layers: a tf.LayersModel, or a FunctionModel with `taps`');
      this.#kfac = new KfacStep({ ...this.#c, taps, device }, options.kfac);
    } else if (options.optimizer === undefined && device) {
      this.#fngd = new FngdStep(this.#c, device, options.fngd);
    }
    this.optimizer = this.#fngd?.optimizer ?? null;
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
    const fold: FoldActivation = options.loss === 'softmax-cross-entropy' ? 'softmax' : options.loss === 'sigmoid-cross-entropy' ? 'sigmoid' : null;
    const layers = isLayersModel(model) ? model : null;
    const compiled = layers ? fromLayersModel(layers, fold) : null;
    const fm: FunctionModel = compiled ?? (model as FunctionModel);
    if (!layers && (!Array.isArray(fm.variables) || typeof fm.forward !== 'function')) {
      throw new AdapterArgumentError('FngdTrainer.create: expected a tf.LayersModel or a FunctionModel { variables, forward }');
    }
    const owns = options.optimizer === undefined && !options.device;
    const device = options.optimizer !== undefined ? null : (options.device ?? (await linalgDeviceForTf()));
    let trainer: FngdTrainer;
    try {
      trainer = new FngdTrainer(fm, layers, compiled?.folded ?? null, options, device, owns);
    } catch (e) {
      if (owns) device?.destroy(); // e.g. an invalid FNGD option
      throw e;
    }
    try {
      await trainer.#fngd?.init();
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

  /**
   * One training step on a batch. `batchKey` identifies the batch in the FNGD coefficient cache (KFAC ignores
   * it). Targets are checked first (`TargetError`; see the README for the accepted forms). A step is a
   * transaction: when it throws, the variables, the optimizer and the trainer are as before. Training calls
   * are queued: un-awaited calls run one after another, in call order.
   */
  trainBatch(x: Tensor, y: Tensor, options: { readonly batchKey: BatchKey; readonly epoch?: number }): Promise<BatchResult> {
    return this.#queue.run('trainBatch', async () => {
      if (typeof options !== 'object' || options === null) throw new AdapterArgumentError('trainBatch: options `{ batchKey }` are required');
      return withLossTargets('trainBatch', this.#shapes, this.#lossName, x, y, (yl) => this.#step(x, yl, options.batchKey, options.epoch ?? this.#epoch));
    });
  }

  /** One step on checked targets (as the loss takes them). */
  #step(x: Tensor, y: Tensor, batchKey: BatchKey, epoch: number): Promise<BatchResult> {
    if (this.#queue.closed) throw new DisposedError('the trainer was disposed during the call');
    const n = x.shape[0] as number;
    if (this.tfOptimizer) return baselineStep(this.tfOptimizer, this.#c, x, y);
    if (this.#kfac) return this.#kfac.run(x, y, n);
    return (this.#fngd as FngdStep).run(x, y, batchKey, epoch, n);
  }

  /**
   * Trains for `epochs` epochs. Samples are grouped into batches by a {@link BatchPlan} keyed by sample identity
   * (`options.sampleIds`): the first plan is a permutation seeded by `seed`; later calls keep every batch whose
   * samples are all still present. Each epoch visits the batches in a seeded shuffled order. Options, data and
   * validation data are checked before anything runs; each step is a transaction, and the plan is adopted with
   * the first completed step. Queued behind (and ahead of) other training calls, like {@link FngdTrainer.trainBatch}.
   */
  fit(xs: Tensor, ys: Tensor, options: FitOptions): Promise<EpochLogs[]> {
    return this.#queue.run('fit', async () => {
      checkFitOptions(options);
      const val = options.validationData;
      if (val) await checkTargets('fit (validationData)', this.#shapes, this.#lossName, val[0], val[1]); // before anything runs
      return withLossTargets('fit', this.#shapes, this.#lossName, xs, ys, async (yl) => {
        if (!val) return fitLoop(this.#fitHost(), xs, ys, options, yl);
        return withLossTargets('fit (validationData)', this.#shapes, this.#lossName, val[0], val[1], (vl) => fitLoop(this.#fitHost(), xs, ys, options, yl, vl));
      });
    });
  }

  #fitHost(): FitHost {
    const self = this;
    return {
      get plan() {
        return self.#plan;
      },
      get epoch() {
        return self.#epoch;
      },
      setPlan: (plan, change) => {
        this.#plan = plan;
        this.#planChange = change;
      },
      step: (x, y, batchKey, epoch) => this.#step(x, y, batchKey, epoch),
      evaluate: (x, y) => evaluateAsync(this.#c, this.#lossName, x, y),
      endEpoch: () => void this.#epoch++,
    };
  }

  /**
   * Mean per-sample loss (and accuracy for softmax cross-entropy) in inference mode (synchronous read: not on
   * webgpu in Node). Targets are checked as for training (`TargetError`).
   */
  evaluate(xs: Tensor, ys: Tensor, options: { readonly batchSize?: number } = {}): Evaluation {
    this.#live('evaluate');
    return withLossTargetsSync('evaluate', this.#shapes, this.#lossName, xs, ys, (yl) => evaluateSync(this.#c, this.#lossName, xs, yl, options.batchSize));
  }

  /** {@link FngdTrainer.evaluate} with an awaited read — works on every backend (webgpu has no `dataSync` in Node). */
  async evaluateAsync(xs: Tensor, ys: Tensor, options: { readonly batchSize?: number } = {}): Promise<Evaluation> {
    this.#live('evaluateAsync');
    return withLossTargets('evaluateAsync', this.#shapes, this.#lossName, xs, ys, (yl) => evaluateAsync(this.#c, this.#lossName, xs, yl, options.batchSize));
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

  /** The model's outputs (a folded softmax/sigmoid applied again). */
  predict(x: Tensor): Tensor {
    this.#live('predict');
    return predict(this.#c, this.folded, x);
  }

  /** Checkpoint of the optimizer state (FNGD and KFAC: `ifngd`'s versioned formats; baselines: empty). */
  serializeState(): Uint8Array {
    this.#live('serializeState');
    if (this.#kfac) return this.#kfac.optimizer.serialize();
    return this.optimizer ? this.optimizer.serialize() : new Uint8Array(0);
  }

  /**
   * Restores {@link FngdTrainer.serializeState} output (same model and configuration), optionally with the
   * trainer epoch and the {@link FngdTrainer.batchPlan} saved beside it (validated: `AdapterCheckpointError`).
   * An FNGD checkpoint offered to a KFAC trainer, or a KFAC one to an FNGD trainer, is refused with
   * `AdapterCheckpointError`; nothing changes then. Throws while a training call is running or queued.
   */
  restoreState(bytes: Uint8Array, epoch?: number, plan?: BatchPlan | null): void {
    this.#idle('restoreState');
    const checked = checkCheckpoint(this.#kfac ? 'kfac' : this.#fngd ? 'fngd' : null, { bytes, ...(plan === undefined ? {} : { plan }) });
    this.#fngd?.restore(bytes);
    this.#kfac?.optimizer.restore(bytes);
    if (epoch !== undefined) this.#epoch = epoch;
    if (checked !== undefined) {
      this.#plan = checked;
      this.#planChange = null;
    }
  }

  /**
   * `model.save` with the optimizer state (and the trainer epoch) in the model's user-defined metadata, so it
   * travels in model.json through any tfjs IO handler. LayersModel trainers only.
   */
  async save(handlerOrUrl: tf.io.IOHandler | string): Promise<tf.io.SaveResult> {
    this.#live('save');
    // cache the state's values on the host first (an awaited read), so the synchronous serialisation works on webgpu
    if (this.#layers && this.optimizer) await Promise.all([...collectTensors(this.optimizer.state)].map((t) => t.data()));
    return saveToModel(this.#layers, handlerOrUrl, this.#epoch, this.#layers ? this.serializeState() : new Uint8Array(0), this.#plan);
  }

  /** Restores the optimizer state saved by {@link FngdTrainer.save} from the (loaded) model's metadata. */
  restore(): void {
    this.#idle('restore');
    const cp = loadFromModel(this.#layers, this.optimizer !== null || this.#kfac !== null);
    this.restoreState(cp.bytes, cp.epoch, cp.plan ?? null);
  }

  /**
   * Releases the optimizer state tensors and the device the trainer created (not the model). Queued training
   * calls reject with {@link DisposedError}; a running `fit` stops at its next step with that error; the release
   * happens once the running call has settled (at once when idle). Every later call throws `DisposedError`.
   */
  dispose(): void {
    this.#queue.close(() => {
      this.#fngd?.dispose();
      this.#kfac?.dispose();
      this.#c.filters.dispose();
      if (this.#ownsDevice) this.#device?.destroy();
    });
  }
}
