/**
 * `OnnxTrainer.fit`'s loop, on `ifngd`'s batch contract (the tfjs trainer's): a {@link BatchPlan} from
 * `planBatches` keyed by sample identity (`sampleIds`), carried from one `fit` to the next so that batches whose
 * samples are all still present keep their keys and cached coefficients, and each epoch's order
 * `permutation(B, mixSeed(seed, epoch))`. The dataset and the ids are checked before the first step; the plan
 * is adopted with the first completed step; `onEpochEnd` runs with the queue open.
 * @module
 */
import { InvalidArgumentError, planBatches, type BatchKey, type BatchPlan, type PlanChange, type SampleId } from 'ifngd';
import type { Tensor } from 'onnxruntime-common';
import type { ModelAnalysis } from './analyze.js';
import { InvalidOptionError } from './errors.js';
import { checkFeeds, type Feeds } from './feeds.js';
import { checkFit, gatherRows, sampleIdsOf, type Dataset, type FitOptions } from './fit.js';
import type { LossKind } from './loss.js';
import type { StepOptions } from './options.js';
import type { PlanState } from './plan-state.js';
import { mixSeed, permutation } from './rng.js';
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
}

/** The plan for `ids` (invalid or duplicate ids: `InvalidOptionError`, key `fit.sampleIds`). */
function plan(ids: readonly SampleId[], batchSize: number, seed: number, previous: BatchPlan | null): { plan: BatchPlan; change: PlanChange } {
  try {
    return planBatches(ids, { batchSize, seed, previous });
  } catch (e) {
    if (!(e instanceof InvalidArgumentError)) throw e;
    throw new InvalidOptionError(`fit: sampleIds: ${e.message}`, { key: 'fit.sampleIds', value: ids });
  }
}

/** Runs `fit` (see `OnnxTrainer.fit`); returns the mean training loss of each epoch. */
export async function runFit(host: FitHost, d: Dataset, o: FitOptions): Promise<number[]> {
  const { data, options } = checkFit(d, o);
  const total = checkFeeds(host.an, data.inputs);
  checkTargets(host.ort, host.an, host.loss, data.targets, total);
  const seed = options.seed ?? 0;
  const ids = sampleIdsOf(options.sampleIds, total);
  const p = plan(ids, options.batchSize, seed, host.plans.plan);
  const row = new Map<SampleId, number>();
  ids.forEach((id, i) => row.set(id, i));
  const rows = p.plan.batches.map((b) => b.ids.map((id) => row.get(id) as number));
  let adopted = false;
  const adopt = (): void => {
    if (!adopted) host.plans.set(p.plan, p.change);
    adopted = true;
  };
  const B = rows.length;
  const history: number[] = [];
  for (let e = 0; e < options.epochs; e++) {
    const t0 = performance.now();
    const epoch = host.epoch();
    const order = options.shuffle === false ? Array.from({ length: B }, (_, i) => i) : permutation(B, mixSeed(seed, epoch));
    let sum = 0;
    for (const b of order) {
      const r = rows[b] as number[];
      const feeds: Record<string, Tensor> = {};
      for (const [k, t] of Object.entries(data.inputs)) feeds[k] = gatherRows(host.ort, t, r);
      const key: BatchKey = (p.plan.batches[b] as { key: string }).key;
      sum += (await host.step(feeds, gatherRows(host.ort, data.targets, r), { batchKey: key, epoch })) * r.length;
      adopt();
    }
    history.push(sum / total);
    const info = { loss: sum / total, seconds: (performance.now() - t0) / 1000 };
    await host.open(() => options.onEpochEnd?.(epoch, info));
    host.endEpoch();
  }
  adopt();
  return history;
}
