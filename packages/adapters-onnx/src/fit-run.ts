/**
 * `OnnxTrainer.fit`'s loop: the dataset checked before the first step, then per epoch the batches in a seeded
 * order, each one step of the trainer, and `onEpochEnd` with the queue open.
 * @module
 */
import { mulberry32 } from 'ifngd/internal';
import type { Tensor } from 'onnxruntime-common';
import type { ModelAnalysis } from './analyze.js';
import { checkFeeds, type Feeds } from './feeds.js';
import { batchOrder, checkFit, sliceRows, type Dataset, type FitOptions } from './fit.js';
import type { LossKind } from './loss.js';
import type { StepOptions } from './options.js';
import type { OrtRuntime } from './runtime-check.js';
import { checkTargets } from './targets.js';

/** The trainer as its fit loop sees it. */
export interface FitHost {
  readonly an: ModelAnalysis;
  readonly ort: OrtRuntime;
  readonly loss: LossKind;
  /** Trainer epoch. */
  readonly epoch: number;
  /** One step (a transaction) → the batch's mean loss. */
  step(feeds: Feeds, targets: Tensor, options: StepOptions): Promise<number>;
  /** Runs user code with the trainer's call queue open. */
  open(fn: () => void | Promise<void>): Promise<void>;
  /** Counts a finished epoch. */
  endEpoch(): void;
}

/** Runs `fit` (see `OnnxTrainer.fit`); returns the mean training loss of each epoch. */
export async function runFit(host: FitHost, d: Dataset, o: FitOptions): Promise<number[]> {
  const { data, options } = checkFit(d, o);
  const total = checkFeeds(host.an, data.inputs);
  checkTargets(host.ort, host.an, host.loss, data.targets, total);
  const batches = Math.ceil(total / options.batchSize);
  const rand = mulberry32(options.seed ?? 1);
  const history: number[] = [];
  for (let e = 0; e < options.epochs; e++) {
    const t0 = performance.now();
    let sum = 0;
    for (const bIdx of batchOrder(batches, rand, options.shuffle ?? true)) {
      const lo = bIdx * options.batchSize;
      const hi = Math.min(total, lo + options.batchSize);
      const feeds: Record<string, Tensor> = {};
      for (const [k, t] of Object.entries(data.inputs)) feeds[k] = sliceRows(host.ort, t, lo, hi);
      sum += (await host.step(feeds, sliceRows(host.ort, data.targets, lo, hi), { batchKey: bIdx, epoch: host.epoch })) * (hi - lo);
    }
    history.push(sum / total);
    const info = { loss: sum / total, seconds: (performance.now() - t0) / 1000 };
    await host.open(() => options.onEpochEnd?.(host.epoch, info));
    host.endEpoch();
  }
  return history;
}
