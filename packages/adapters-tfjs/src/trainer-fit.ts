/**
 * `FngdTrainer.fit` up to the loop: options and validation targets checked before anything runs, targets as
 * the loss takes them (one-hot class indices), and the trainer's {@link FitHost}.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import { AdapterArgumentError } from './errors.js';
import type { BatchKey, BatchPlan } from 'ifngd';
import { fitLoop, type FitHost } from './fit-loop.js';
import { checkFitOptions } from './options.js';
import type { TrainingProgress } from './progress.js';
import { checkTargets, withLossTargets, type OutputShapes } from './targets.js';
import type { BatchResult, Evaluation, FitOptions } from './trainer-types.js';
import type { FitHistory, StoppableModel } from './fit-callbacks.js';
import type { LossWeighting } from './sample-weights.js';
import type { LossName } from './losses.js';

/** The fit loop's view of a trainer: its progress, one step, and validation. */
export function fitHost(
  progress: TrainingProgress,
  model: StoppableModel,
  lossName: LossName | null,
  weighting: LossWeighting,
  open: <T>(fn: () => T | Promise<T>) => Promise<T>,
  step: (x: Tensor, y: Tensor, batchKey: BatchKey, epoch: number) => Promise<BatchResult>,
  evaluate: (x: Tensor, y: Tensor) => Promise<Evaluation>,
  adopted: (plan: BatchPlan) => void = () => {},
): FitHost {
  return {
    model,
    lossName,
    open,
    weighted: (shape, dtype, run) => weighting.during(shape, dtype, run),
    get plan() {
      return progress.plan;
    },
    get epoch() {
      return progress.epoch;
    },
    setPlan: (plan, change) => {
      progress.setPlan(plan, change);
      adopted(plan);
    },
    step,
    evaluate,
    endEpoch: () => progress.endEpoch(),
  };
}

/**
 * Runs `run` on the first `1 − split` of the samples for training and the last `split` for validation (as tfjs's
 * `validationSplit`: before any shuffling); `AdapterArgumentError` when either part would be empty.
 */
export async function withSplit<T>(xs: Tensor, ys: Tensor, split: number, run: (x: Tensor, y: Tensor, vx: Tensor, vy: Tensor) => Promise<T>): Promise<T> {
  if (!(xs instanceof tf.Tensor) || !(ys instanceof tf.Tensor)) throw new AdapterArgumentError('fit: xs and ys must be tf.Tensors');
  const n = xs.shape[0] as number;
  const at = Math.floor(n * (1 - split));
  if (at < 1 || at >= n || ys.shape[0] !== n) {
    throw new AdapterArgumentError(`fit: validationSplit ${split} of ${n} samples leaves ${at} to train on and ${n - at} to validate on; both need at least one`);
  }
  const parts = [tf.slice(xs, [0], [at]), tf.slice(ys, [0], [at]), tf.slice(xs, [at], [n - at]), tf.slice(ys, [at], [n - at])] as const;
  try {
    return await run(...parts);
  } finally {
    tf.dispose([...parts]);
  }
}

/** Checks the options and the (validation) targets, then runs the fit loop on targets as the loss takes them. */
export async function checkedFit(host: FitHost, shapes: OutputShapes, lossName: LossName | null, xs: Tensor, ys: Tensor, options: FitOptions): Promise<FitHistory> {
  checkFitOptions(options);
  const val = options.validationData as readonly [Tensor, Tensor] | undefined; // tensors here (the trainer packs several inputs)
  if (val) await checkTargets('fit (validationData)', shapes, lossName, val[0], val[1]); // before anything runs
  return withLossTargets('fit', shapes, lossName, xs, ys, async (yl) => {
    if (!val) return fitLoop(host, xs, ys, options, yl);
    return withLossTargets('fit (validationData)', shapes, lossName, val[0], val[1], (vl) => fitLoop(host, xs, ys, options, yl, vl));
  });
}
