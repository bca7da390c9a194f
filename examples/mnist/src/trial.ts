/**
 * One tuning trial: a fresh model, one optimizer configuration, `epochs` epochs on the fit digits, the
 * validation metric after every epoch. A trial that produces a non-finite loss or throws `NonFiniteError`
 * stops and is recorded as diverged (the worst score).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { FngdTrainer } from '@ifngd/adapters-tfjs';
import { FactorizationError, NonFiniteError } from 'ifngd';
import { buildModel, type ImageSpec, type Initializer, type ModelKind, type Task } from './models.js';
import { releaseOptions, trainerOptions } from './optimizers.js';
import type { OptName, TrialConfig } from './search.js';
import type { CurvePoint } from './tuned.js';
import type { TrainSet } from './train-set.js';

/** The tuning seed (reported runs use 1…K). */
export const TUNING_SEED = 0;

/** Seeds of run `seed`: the initial weights and the batch partition/order both follow it. */
export function seedPlan(seed: number): { weights: number; partition: number } {
  return { weights: 1 + 1000 * seed, partition: 7 + seed };
}

export interface TrialData {
  /** The fit digits (shifted anew every epoch for the image tasks' models). */
  readonly train: TrainSet;
  readonly xVal: tf.Tensor;
  readonly yVal: tf.Tensor;
}

export interface TrialSpec {
  readonly task: Task;
  readonly model: ModelKind;
  readonly optimizer: OptName;
  readonly initializer: Initializer;
  readonly config: TrialConfig;
  readonly epochs: number;
  readonly batchSize: number;
  readonly seed: number;
  /** The images' shape and classes (default MNIST's). */
  readonly image?: ImageSpec;
}

/** Runs one trial; `onEpoch` sees each point as it is measured. */
export async function runTrial(
  spec: TrialSpec,
  data: TrialData,
  onEpoch?: (p: CurvePoint) => void,
): Promise<{ curve: CurvePoint[]; diverged: string | null }> {
  const seeds = seedPlan(spec.seed);
  const model = buildModel(spec.task, spec.model, spec.initializer, seeds.weights, spec.image);
  const curve: CurvePoint[] = [];
  let diverged: string | null = null;
  let trainer: FngdTrainer | null = null;
  const options = trainerOptions(spec.task, spec.optimizer, spec.config);
  try {
    trainer = await FngdTrainer.create(model, options);
    for (let e = 0; e < spec.epochs && diverged === null; e++) {
      const inputs = data.train.epoch(spec.seed, e);
      let l;
      try {
        [l] = (
          await trainer.fit(inputs.x, data.train.y, {
            epochs: 1,
            batchSize: spec.batchSize,
            seed: seeds.partition,
            validationData: [data.xVal, data.yVal],
            ...data.train.identity,
          })
        ).logs;
      } finally {
        inputs.release();
      }
      if (!l) throw new Error('fit returned no epoch');
      const p: CurvePoint = {
        epoch: e + 1,
        seconds: l.seconds,
        trainLoss: l.trainLoss,
        valLoss: l.valLoss ?? NaN,
        ...(l.valAccuracy === undefined ? {} : { valAccuracy: l.valAccuracy }),
      };
      curve.push(p);
      onEpoch?.(p);
      if (!Number.isFinite(p.trainLoss) || !Number.isFinite(p.valLoss)) diverged = `non-finite loss at epoch ${e + 1}`;
    }
  } catch (err) {
    if (!(err instanceof NonFiniteError) && !(err instanceof FactorizationError)) throw err;
    diverged = `NonFiniteError at epoch ${curve.length + 1}: ${err.message}`;
  } finally {
    trainer?.dispose();
    releaseOptions(options);
    model.dispose();
  }
  return { curve, diverged };
}
