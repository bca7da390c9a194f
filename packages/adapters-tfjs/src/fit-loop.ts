/**
 * `fit`: the batch plan (a fixed partition of samples by identity), the seeded per-epoch batch order, the
 * epochs, validation and callbacks.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { BatchKey, BatchPlan, PlanChange } from 'ifngd';
import { runPlannedEpochs } from 'ifngd/internal';
import { AdapterArgumentError } from './errors.js';
import type { LossName } from './losses.js';
import { sampleWeights, weightedTargets } from './sample-weights.js';
import { callbackList, epochLogs, FitCallbackSet, fitHistory, type FitHistory, type StoppableModel } from './fit-callbacks.js';
import { sampleIdsOf } from './sample-ids.js';
import { verboseCallback } from './verbose.js';
import type { BatchResult, EpochLogs, Evaluation, FitOptions } from './trainer-types.js';

/** The trainer as the fit loop sees it. */
export interface FitHost {
  /** The plan of the previous `fit` (null before one). */
  readonly plan: BatchPlan | null;
  /** Trainer epoch. */
  readonly epoch: number;
  /** Runs user code (a callback) with the trainer's call queue open. */
  open<T>(fn: () => T | Promise<T>): Promise<T>;
  /** What a `tf.Callback` gets as its model (the LayersModel, or a stand-in): its `stopTraining` ends the fit. */
  readonly model: StoppableModel;
  /** Adopts the plan of this `fit` (with its first completed step, or at the end when no step runs). */
  setPlan(plan: BatchPlan, change: PlanChange): void;
  /** One step on a batch. */
  step(x: Tensor, y: Tensor, batchKey: BatchKey, epoch: number): Promise<BatchResult>;
  /** Validation. */
  evaluate(x: Tensor, y: Tensor): Promise<Evaluation>;
  /** Counts a finished epoch. */
  endEpoch(): void;
  /** The loss's name (null: custom, or several outputs), for `classWeight`. */
  readonly lossName: LossName | null;
  /** Runs the steps of `run` with the loss weighted by the extra target column (`sample-weights.ts`). */
  weighted<T>(shape: readonly number[], dtype: string, run: () => Promise<T>): Promise<T>;
}

/** The log keys of a fit's epochs (tfjs's `params.metrics`): `acc` and `val_acc` for softmax cross-entropy. */
export function fitMetrics(lossName: LossName | null, validation: boolean): string[] {
  const acc = lossName === 'softmax-cross-entropy';
  return ['loss', ...(acc ? ['acc'] : []), ...(validation ? ['val_loss', ...(acc ? ['val_acc'] : [])] : [])];
}

/** An epoch's training accuracy: the batches' accuracies weighted by their sizes (none when a batch had none). */
export class EpochAccuracy {
  #sum = 0;
  #n = 0;
  #complete = true;

  reset(): void {
    [this.#sum, this.#n, this.#complete] = [0, 0, true];
  }

  add(accuracy: number | undefined, size: number): void {
    if (accuracy === undefined) this.#complete = false;
    else {
      this.#sum += accuracy * size;
      this.#n += size;
    }
  }

  /** `{ trainAccuracy }`, or nothing when some batch had no accuracy. */
  logs(): { trainAccuracy?: number } {
    return this.#complete && this.#n > 0 ? { trainAccuracy: this.#sum / this.#n } : {};
  }
}

/**
 * How a fit numbers its epochs for callbacks, logs and the history: from the trainer's epoch count, or — given
 * tfjs's `initialEpoch` — from `initialEpoch`, with `epochs` the number to end before (tfjs's meaning). `count`
 * is how many the fit runs; `end` the number after the last.
 */
export interface EpochNumbering {
  readonly count: number;
  readonly end: number;
  /** The number of the trainer's epoch `epoch` (the fit started at trainer epoch `start`). */
  label(epoch: number): number;
}

/** The numbering of a fit of `epochs` starting at trainer epoch `start`. */
export function epochNumbering(epochs: number, initialEpoch: number | undefined, start: number): EpochNumbering {
  if (initialEpoch === undefined) return { count: epochs, end: start + epochs, label: (e) => e };
  return { count: Math.max(0, epochs - initialEpoch), end: Math.max(epochs, initialEpoch), label: (e) => initialEpoch + (e - start) };
}

/**
 * Runs `fit` (see `FngdTrainer.fit`) on checked data: `ys` as given (sample ids hash them), `targets` as the
 * loss takes them (one-hot for class indices), `validationTargets` likewise for `options.validationData`. The
 * epochs — plan, order, adoption with the first completed step — are `ifngd`'s `runPlannedEpochs`, as the ONNX
 * trainer's; this loop gathers each batch's rows, validates, and drives the callbacks (`fit-callbacks.ts`).
 */
export async function fitLoop(host: FitHost, xs: Tensor, ys: Tensor, options: FitOptions, targets: Tensor = ys, validationTargets?: Tensor): Promise<FitHistory> {
  const N = xs.shape[0] as number;
  if (ys.shape[0] !== N) throw new AdapterArgumentError('fit: xs and ys must have the same number of samples');
  const { epochs } = options;
  const batchSize = options.batchSize ?? 128;
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(epochs) || epochs < 0) throw new AdapterArgumentError('fit: epochs must be an integer ≥ 0');
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new AdapterArgumentError('fit: batchSize must be an integer ≥ 1');
  if (!Number.isSafeInteger(seed)) throw new AdapterArgumentError(`fit: seed must be an integer, got ${String(seed)}`);
  const weights = await sampleWeights(options.sampleWeight, options.classWeight, targets, host.lossName, N);
  if (!weights) return planned(host, xs, ys, options, targets, validationTargets, N, batchSize, seed);
  // the weights travel as one more target column (and, with content ids, are part of each sample's identity)
  const yw = weightedTargets(targets, weights);
  weights.dispose();
  try {
    return await host.weighted(targets.shape.slice(1), targets.dtype, () => planned(host, xs, yw, options, yw, validationTargets, N, batchSize, seed));
  } finally {
    yw.dispose();
  }
}

/** The planned epochs of a fit on targets as the steps take them (`ys`: what sample ids hash). */
async function planned(
  host: FitHost,
  xs: Tensor,
  ys: Tensor,
  options: FitOptions,
  targets: Tensor,
  validationTargets: Tensor | undefined,
  N: number,
  batchSize: number,
  seed: number,
): Promise<FitHistory> {
  const ids = await sampleIdsOf(xs, ys, options.sampleIds ?? 'content');
  const steps = Math.ceil(N / batchSize);
  const n = epochNumbering(options.epochs, options.initialEpoch, host.epoch);
  const metrics = fitMetrics(host.lossName, options.validationData !== undefined);
  const params = { epochs: n.end, initialEpoch: n.label(host.epoch), samples: N, steps, batchSize, doValidation: options.validationData !== undefined, metrics };
  const callbacks = [...(options.verbose ? [verboseCallback(options.verbose, n.end)] : []), ...callbackList(options.callbacks)];
  const cbs = new FitCallbackSet(callbacks, host.model, params, host.open);
  const history: EpochLogs[] = [];
  const accuracy = new EpochAccuracy();
  await cbs.trainBegin();
  await runPlannedEpochs<BatchResult>(
    {
      previous: host.plan,
      epoch: () => host.epoch,
      adopt: (plan, change) => host.setPlan(plan, change),
      epochBegin: (epoch) => {
        accuracy.reset();
        return cbs.epochBegin(n.label(epoch));
      },
      stop: () => cbs.stopRequested,
      async step(rows, key, epoch, position) {
        await cbs.batchBegin(position, rows.length);
        const [xb, yb] = tf.tidy(() => {
          const ix = tf.tensor1d(rows as number[], 'int32');
          return [tf.gather(xs, ix), tf.gather(targets, ix)];
        });
        try {
          return await host.step(xb, yb, key, epoch);
        } finally {
          xb.dispose();
          yb.dispose();
        }
      },
      stepDone: (r, rows, epoch, position, batches) => {
        accuracy.add(r.accuracy, rows.length);
        return cbs.batchEnd(n.label(epoch), position, { ...r, batches, size: rows.length });
      },
      async epochEnd(epoch, { loss, seconds, results }) {
        let logs: EpochLogs = { epoch: n.label(epoch), seconds, trainLoss: loss, ...accuracy.logs(), freshBatches: results.filter((r) => r.fresh).length };
        if (options.validationData) {
          const [vx, vy] = options.validationData as readonly [Tensor, Tensor]; // tensors here (the trainer packs several inputs)
          const v = await host.evaluate(vx, validationTargets ?? vy);
          logs = { ...logs, valLoss: v.loss, ...(v.accuracy === undefined ? {} : { valAccuracy: v.accuracy }) };
        }
        host.endEpoch();
        history.push(logs);
        await cbs.epochEnd(logs.epoch, epochLogs(logs));
      },
    },
    ids,
    { epochs: n.count, batchSize, seed, ...(options.shuffle === undefined ? {} : { shuffle: options.shuffle }) },
  );
  const last = history.at(-1);
  await cbs.trainEnd(last ? epochLogs(last) : {});
  return fitHistory(history, params);
}
