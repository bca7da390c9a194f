/**
 * `OnnxTrainer.fit`'s loop, on `ifngd`'s batch contract (the tfjs trainer's): a {@link BatchPlan} from
 * `planBatches` keyed by sample identity (`sampleIds`), carried from one `fit` to the next so that batches whose
 * samples are all still present keep their keys and cached coefficients, and each epoch's order
 * `permutation(B, mixSeed(seed, epoch))` — `ifngd`'s `runPlannedEpochs`, the tfjs trainer's epochs too. The
 * dataset and the ids are checked before the first step; the plan is adopted with the first completed step;
 * `onEpochEnd` runs with the queue open.
 * @module
 */
import { runPlannedEpochs } from 'ifngd/internal';
import type { Tensor } from 'onnxruntime-common';
import type { ModelAnalysis } from './analyze.js';
import { checkFeeds, type Feeds } from './feeds.js';
import { checkFit, gatherRows, onnxHistory, sampleIdsOf, type Dataset, type FitOptions, type OnnxEpochLogs, type OnnxEvaluation, type OnnxFitHistory } from './fit.js';
import type { LossKind } from './loss.js';
import type { StepOptions } from './options.js';
import type { PlanState } from './plan-state.js';
import type { OrtRuntime } from './runtime-check.js';
import { checkTargets } from './targets.js';

/** The trainer as its fit loop sees it. */
export interface FitHost {
  readonly an: ModelAnalysis;
  readonly ort: OrtRuntime;
  readonly loss: LossKind;
  /** The plan carried from the previous `fit`; this one's is adopted into it. */
  readonly plans: PlanState;
  /** Trainer epoch. */
  epoch(): number;
  /** One step (a transaction) → the batch's mean loss. */
  step(feeds: Feeds, targets: Tensor, options: StepOptions): Promise<number>;
  /** Runs user code with the trainer's call queue open. */
  open(fn: () => void | Promise<void>): Promise<void>;
  /** Counts a finished epoch. */
  endEpoch(): void;
  /** Evaluates a dataset at the current parameters (not queued: the fit holds the queue). */
  evaluate(data: Dataset): Promise<OnnxEvaluation>;
}

/** Runs `fit` (see `OnnxTrainer.fit`); returns the epochs' history. */
export async function runFit(host: FitHost, d: Dataset, o: FitOptions): Promise<OnnxFitHistory> {
  const { data, options } = checkFit(d, o);
  const total = checkFeeds(host.an, data.inputs);
  checkTargets(host.ort, host.an, host.loss, data.targets, total);
  const seed = options.seed ?? 0;
  const ids = sampleIdsOf(options.sampleIds, total);
  const val = options.validationData;
  if (val) checkTargets(host.ort, host.an, host.loss, val.targets, checkFeeds(host.an, val.inputs)); // before any step
  const logs: OnnxEpochLogs[] = [];
  const epochs: number[] = [];
  await runPlannedEpochs<{ loss: number }>(
    {
      previous: host.plans.plan,
      epoch: () => host.epoch(),
      adopt: (plan, change) => host.plans.set(plan, change),
      async step(rows, batchKey, epoch) {
        const feeds: Record<string, Tensor> = {};
        for (const [k, t] of Object.entries(data.inputs)) feeds[k] = gatherRows(host.ort, t, rows);
        return { loss: await host.step(feeds, gatherRows(host.ort, data.targets, rows), { batchKey, epoch }) };
      },
      async epochEnd(epoch, { loss, seconds }) {
        let info: OnnxEpochLogs = { loss, seconds };
        if (val) {
          const v = await host.evaluate(val);
          info = { ...info, valLoss: v.loss, ...(v.accuracy === undefined ? {} : { valAccuracy: v.accuracy }) };
        }
        logs.push(info);
        epochs.push(epoch);
        await host.open(() => options.onEpochEnd?.(epoch, info));
        host.endEpoch();
      },
    },
    ids,
    { epochs: options.epochs, batchSize: options.batchSize, seed, ...(options.shuffle === undefined ? {} : { shuffle: options.shuffle }) },
  );
  return onnxHistory(epochs, logs);
}
