/**
 * `fit`: the batch plan (a fixed partition of samples by identity), the seeded per-epoch batch order, the
 * epochs, validation and callbacks.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import { planBatches, type BatchKey, type BatchPlan, type PlanChange, type SampleId } from 'ifngd';
import { AdapterArgumentError } from './errors.js';
import { mixSeed, permutation } from './rng.js';
import { sampleIdsOf } from './sample-ids.js';
import type { BatchResult, EpochLogs, Evaluation, FitOptions } from './trainer-types.js';

/** The trainer as the fit loop sees it. */
export interface FitHost {
  /** The plan of the previous `fit` (null before one). */
  readonly plan: BatchPlan | null;
  /** Trainer epoch. */
  readonly epoch: number;
  /** Adopts the plan of this `fit` (with its first completed step, or at the end when no step runs). */
  setPlan(plan: BatchPlan, change: PlanChange): void;
  /** One step on a batch. */
  step(x: Tensor, y: Tensor, batchKey: BatchKey, epoch: number): Promise<BatchResult>;
  /** Validation. */
  evaluate(x: Tensor, y: Tensor): Promise<Evaluation>;
  /** Counts a finished epoch. */
  endEpoch(): void;
}

/**
 * Runs `fit` (see `FngdTrainer.fit`) on checked data: `ys` as given (sample ids hash them), `targets` as the
 * loss takes them (one-hot for class indices), `validationTargets` likewise for `options.validationData`.
 * The plan is adopted with the first completed step: a `fit` whose first step throws leaves the trainer as it was.
 */
export async function fitLoop(host: FitHost, xs: Tensor, ys: Tensor, options: FitOptions, targets: Tensor = ys, validationTargets?: Tensor): Promise<EpochLogs[]> {
  const N = xs.shape[0] as number;
  if (ys.shape[0] !== N) throw new AdapterArgumentError('fit: xs and ys must have the same number of samples');
  const { epochs } = options;
  const batchSize = options.batchSize ?? 128;
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(epochs) || epochs < 0) throw new AdapterArgumentError('fit: epochs must be an integer ≥ 0');
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new AdapterArgumentError('fit: batchSize must be an integer ≥ 1');
  if (!Number.isSafeInteger(seed)) throw new AdapterArgumentError(`fit: seed must be an integer, got ${String(seed)}`);
  const ids = await sampleIdsOf(xs, ys, options.sampleIds ?? 'content');
  const { plan, change } = planBatches(ids, { batchSize, seed, previous: host.plan });
  const row = new Map<SampleId, number>();
  ids.forEach((id, i) => row.set(id, i));
  let adopted = false;
  const adopt = (): void => {
    if (!adopted) host.setPlan(plan, change);
    adopted = true;
  };
  const B = plan.batches.length;
  const idx = plan.batches.map((b) => tf.tensor1d(b.ids.map((id) => row.get(id) as number), 'int32'));
  const history: EpochLogs[] = [];
  try {
    for (let e = 0; e < epochs; e++) {
      const epoch = host.epoch;
      await options.callbacks?.onEpochBegin?.(epoch);
      const order = options.shuffle === false ? Array.from({ length: B }, (_, i) => i) : permutation(B, mixSeed(seed, epoch));
      const t0 = performance.now();
      let lossSum = 0;
      let fresh = 0;
      for (let s = 0; s < B; s++) {
        const b = order[s] as number;
        const ix = idx[b] as Tensor;
        const xb = tf.gather(xs, ix);
        const yb = tf.gather(targets, ix);
        try {
          const r = await host.step(xb, yb, (plan.batches[b] as { key: string }).key, epoch);
          adopt();
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
        const [vx, vy] = options.validationData as readonly [Tensor, Tensor]; // tensors here (the trainer packs several inputs)
        const v = await host.evaluate(vx, validationTargets ?? vy);
        logs = { ...logs, valLoss: v.loss, ...(v.accuracy === undefined ? {} : { valAccuracy: v.accuracy }) };
      }
      host.endEpoch();
      history.push(logs);
      await options.callbacks?.onEpochEnd?.(epoch, logs);
    }
    adopt();
  } finally {
    for (const t of idx) t.dispose();
  }
  return history;
}
