/**
 * The public option and result types of `FngdTrainer`.
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { LinalgDevice } from '@ifngd/linalg-gpu';
import type { FngdOptions, KfacTrainingOptions, OptimizerSpec, SampleId } from 'ifngd';
import type { LossName, PerSampleLoss } from './losses.js';
import type { TfTree } from './tree-ops.js';

/** FNGD options as the trainer takes them (the device and tree ops are supplied by the trainer). */
export type TrainerFngdOptions = Omit<FngdOptions<TfTree>, 'device' | 'ops'>;

/**
 * KFAC options as the trainer takes them: `ifngd`'s `kfac` options without `device`, `ops`, `layers` and `diagonal`
 * (the trainer supplies them), with `nonKronecker` choosing what the parameters of no Kronecker layer get.
 */
export type TrainerKfacOptions = KfacTrainingOptions;

/**
 * Options of {@link FngdTrainer.create}. Give at most one of `fngd`, `kfac` and `optimizer`; with none, the
 * trainer trains with FNGD at `ifngd`'s measured defaults (`FNGD_DEFAULTS`), so `{ loss }` alone is enough.
 */
export interface FngdTrainerOptions {
  /**
   * Per-sample loss. The cross-entropies take logits; a model's final softmax/sigmoid is folded into them. A model
   * with several outputs takes one loss for all, or one per output: an array in the model's output order or an
   * object by output name (as tfjs's `compile`); sample i's loss is then `Σₒ wₒ·ℓₒᵢ`.
   */
  readonly loss: LossName | PerSampleLoss | readonly (LossName | PerSampleLoss)[] | Readonly<Record<string, LossName | PerSampleLoss>>;
  /** Several outputs: each output's weight wₒ (finite, ≥ 0; an array in output order or an object by name). Default 1. */
  readonly lossWeights?: readonly number[] | Readonly<Record<string, number>>;
  /**
   * Train with FNGD (`ifngd`'s `fngd` options without `device`/`ops`; every field optional, missing ones from
   * `FNGD_DEFAULTS`). Default when `optimizer` is not given.
   */
  readonly fngd?: TrainerFngdOptions;
  /**
   * Train with KFAC instead (`ifngd`'s `kfac` options without `device`/`ops`/`layers`; every field optional,
   * missing ones from `KFAC_DEFAULTS`). The model's Dense, convolution, recurrent and pointwise kernels are its
   * KFAC layers (a `FunctionModel` must list them in `taps`); other variables get the plain mean-loss gradient.
   */
  readonly kfac?: TrainerKfacOptions;
  /**
   * Layers (by name, or class name such as `'LSTM'`; a nested model's name covers its layers) whose weights train
   * with the plain mean-loss gradient through the optimizer's momentum and learning rate — outside FNGD's
   * per-sample Gram and KFAC's blocks (kfac-pytorch's `skip_layers`). For a layer without a block this also avoids
   * the generic one-pass-per-sample route. A `FunctionModel` lists such variables in `plain` instead.
   */
  readonly skipLayers?: readonly string[];
  /**
   * Train with another optimizer instead of FNGD: any optimizer registered with `ifngd` — `'adamw'`,
   * `{ kind: 'muon', learningRate: 0.02 }`, `{ kind: 'sgd', momentum: 0.9 }`, a kind of your own
   * (`registerOptimizer`) — driven through the same capture as FNGD and KFAC; or a tfjs optimizer
   * (`tf.train.adam(0.001)`), which runs tfjs's own update in the same loop (baselines).
   */
  readonly optimizer?: tf.Optimizer | OptimizerSpec;
  /** Linear-algebra device; default {@link linalgDeviceForTf} (shares tfjs's GPUDevice on webgpu). */
  readonly device?: LinalgDevice;
  /**
   * FNGD's per-sample gradients when the model's samples interact (BatchNormalization in training mode):
   * `'share'` (default) — each sample's share of the batch gradient, from the one capture pass; `'exact'` — each
   * ℓᵢ's total derivative through the batch statistics, by n backward passes of the whole batch on every fresh
   * batch (cached batches cost one pass as usual; layer-wise mode then has one block). On MNIST MLPs the two
   * directions agree to cosine 0.98–1.00 at damping 100, 0.81–0.98 at 10, and drift apart at small damping
   * (docs/research/batchnorm-per-sample.md).
   * Ignored for models whose samples do not interact.
   */
  readonly perSample?: 'share' | 'exact';
}

/**
 * A batch's inputs or targets: one tensor `[n, …]`; for a model with several inputs (outputs), an array of them
 * in the model's input (output) order, or an object by input (output) layer name.
 */
export type TrainerData = Tensor | readonly Tensor[] | Readonly<Record<string, Tensor>>;

/** What one training step reports. */
export interface BatchResult {
  /** Mean loss of the batch before the step. */
  readonly loss: number;
  /** Coefficients were computed for this step (FNGD); the damped inverses were refreshed (KFAC). */
  readonly fresh: boolean;
  /**
   * Top-1 accuracy of the step's training forward pass, before the update (softmax cross-entropy on one output;
   * in `fit` and `fitDataset` only, where it is logged as tfjs's `acc`).
   */
  readonly accuracy?: number;
}

/** Logs of one epoch. */
export interface EpochLogs {
  /** The epoch's number: the trainer's epoch (0-based, continues across `fit` calls), or counted from `initialEpoch`. */
  readonly epoch: number;
  /** Wall-clock seconds of the training pass (validation excluded). */
  readonly seconds: number;
  /** Mean training loss over the epoch's batches (each before its step). */
  readonly trainLoss: number;
  /** Mean training accuracy over the epoch's batches, by batch size (see {@link BatchResult.accuracy}). */
  readonly trainAccuracy?: number;
  readonly valLoss?: number;
  readonly valAccuracy?: number;
  /** Batches that computed coefficients (FNGD) or refreshed the inverses (KFAC). */
  readonly freshBatches: number;
}

/** The logs of a batch as the callbacks get them (tfjs's `acc` beside the trainer's `accuracy`). */
export type BatchLogs = BatchResult & { readonly batches: number; readonly size: number; readonly batch: number; readonly acc?: number };

/** The logs of an epoch as the callbacks get them: the trainer's, and tfjs's keys (`loss`, `acc`, `val_loss`, `val_acc`). */
export type CallbackEpochLogs = EpochLogs & { readonly loss: number; readonly acc?: number; readonly val_loss?: number; readonly val_acc?: number };

/**
 * Hooks of {@link FngdTrainer.fit} — tfjs's `CustomCallbackArgs` (tfjs-vis's `fitCallbacks` is one); each may
 * return a promise, which is awaited. `fit` also takes `tf.Callback` objects and arrays of both.
 */
export interface FitCallbacks {
  onTrainBegin?(logs?: Record<string, never>): void | Promise<void>;
  onTrainEnd?(logs?: CallbackEpochLogs | Record<string, never>): void | Promise<void>;
  onEpochBegin?(epoch: number, logs?: Record<string, never>): void | Promise<void>;
  onEpochEnd?(epoch: number, logs: CallbackEpochLogs): void | Promise<void>;
  onBatchBegin?(batch: number, logs: { readonly batch: number; readonly size: number }): void | Promise<void>;
  onBatchEnd?(batch: number, logs: BatchLogs): void | Promise<void>;
  /** After each batch, as tfjs calls it. */
  onYield?(epoch: number, batch: number, logs: BatchLogs): void | Promise<void>;
}

/** A `tf.Callback` (`tf.callbacks.earlyStopping()`, `new tf.CustomCallback(…)`), structurally. */
export interface TfCallback {
  setModel(model: unknown): void;
  setParams(params: unknown): void;
}

/** Options of {@link FngdTrainer.fit}. */
export interface FitOptions {
  /** Epochs to run; with `initialEpoch`, the epoch number to end before (tfjs's meaning). */
  readonly epochs: number;
  /**
   * As tfjs's `initialEpoch`, for resuming: the first epoch's number in callbacks, logs and the history; the fit
   * runs `epochs − initialEpoch` epochs (none when `epochs ≤ initialEpoch`). Without it epochs are numbered by the
   * trainer's own count ({@link FngdTrainer.epoch}, which a checkpoint restores). Either way the trainer's count,
   * which seeds the batch order, advances by the epochs run.
   */
  readonly initialEpoch?: number;
  /** Default 128. */
  readonly batchSize?: number;
  /** Seeds the fixed partition and the per-epoch batch order. Default 0. */
  readonly seed?: number;
  /**
   * `true` (default): a fixed partition of the samples into batches (keyed by identity, so their coefficients are
   * reused), visited in a shuffled order each epoch; `false`: plan order; `'samples'`: the samples re-partitioned
   * every epoch, as tfjs's `shuffle` — every batch is new, so FNGD computes every coefficient afresh (the cost of
   * `refresh: 'always'`) and the cache keeps the last epoch's batches.
   */
  readonly shuffle?: boolean | 'samples';
  /**
   * Sample identity, which batch keys follow: `'content'` (default: a hash of each sample's x and y, so that
   * appended, removed or replaced samples are recognised without help), `'index'` (the row number: right for
   * append-only data), or one unique id per sample. See {@link FngdTrainer.batchPlan}.
   */
  readonly sampleIds?: 'content' | 'index' | readonly SampleId[];
  readonly validationData?: readonly [TrainerData, TrainerData];
  /**
   * The fraction (0 < f < 1) of the samples held out for validation — the last ones, before any shuffling, as
   * tfjs's `fit` takes them. Not together with `validationData`.
   */
  readonly validationSplit?: number;
  /**
   * Per-sample weights `[n]` (finite, ≥ 0): sample i's training loss becomes `wᵢ·ℓᵢ` (validation stays unweighted,
   * as in tfjs). With `sampleIds: 'content'` the weights are part of a sample's identity.
   */
  readonly sampleWeight?: Tensor;
  /**
   * Weights by class (`{ 0: 1, 1: 5 }`; absent classes weigh 1), for softmax targets `[n, C]` (or class indices)
   * and binary sigmoid targets `[n, 1]`; multiplied with `sampleWeight` when both are given.
   */
  readonly classWeight?: Readonly<Record<number, number>>;
  /**
   * 0 (default): silent; 1: a progress bar per epoch in a Node terminal (one line per epoch in a browser or when
   * the output is not a terminal); 2: one line per epoch (seconds, loss, validation, fresh batches).
   */
  readonly verbose?: 0 | 1 | 2;
  readonly callbacks?: FitCallbacks | TfCallback | readonly (FitCallbacks | TfCallback)[];
}

/** Result of {@link FngdTrainer.evaluate}. */
export interface Evaluation {
  /** Mean per-sample loss. */
  readonly loss: number;
  /** Top-1 accuracy (softmax cross-entropy only). */
  readonly accuracy?: number;
}
