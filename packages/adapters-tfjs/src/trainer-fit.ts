/**
 * `FngdTrainer.fit` up to the loop: options and validation targets checked before anything runs, targets as
 * the loss takes them (one-hot class indices), and the trainer's {@link FitHost}.
 * @module
 */
import type { Tensor } from '@tensorflow/tfjs-core';
import type { BatchKey, BatchPlan } from 'ifngd';
import { fitLoop, type FitHost } from './fit-loop.js';
import { checkFitOptions } from './options.js';
import type { TrainingProgress } from './progress.js';
import { checkTargets, withLossTargets, type OutputShapes } from './targets.js';
import type { BatchResult, Evaluation, FitOptions } from './trainer-types.js';
import type { FitHistory, StoppableModel } from './fit-callbacks.js';
import type { LossName } from './losses.js';

/** The fit loop's view of a trainer: its progress, one step, and validation. */
export function fitHost(
  progress: TrainingProgress,
  model: StoppableModel,
  step: (x: Tensor, y: Tensor, batchKey: BatchKey, epoch: number) => Promise<BatchResult>,
  evaluate: (x: Tensor, y: Tensor) => Promise<Evaluation>,
  adopted: (plan: BatchPlan) => void = () => {},
): FitHost {
  return {
    model,
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
