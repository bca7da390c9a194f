/**
 * The epochs of a trainer's `fit` (both adapters): the batch plan over the samples' ids (carried from the previous
 * `fit`, adopted with the first completed step — a `fit` whose first step throws leaves the trainer as it was),
 * each epoch's batch order `permutation(B, mixSeed(seed, epoch))` (or plan order without shuffling), and each
 * epoch's mean training loss weighted by batch size. What a step does with a batch's rows, and what happens at the
 * end of an epoch (validation, callbacks, counting it), is the trainer's.
 * @module
 */
import { planBatches, type BatchPlan, type PlanChange, type SampleId } from './batch-plan.js';
import type { BatchKey } from './cache.js';
import { InvalidArgumentError, InvalidOptionError } from './errors.js';
import { mixSeed, permutation } from './rng.js';

/** The trainer as the epochs see it. */
export interface PlannedFitHost<R extends { readonly loss: number }> {
  /** The plan of the previous `fit` (null before one). */
  readonly previous: BatchPlan | null;
  /** The trainer epoch now (read at the start of every epoch). */
  epoch(): number;
  /** Adopts this `fit`'s plan (once: with its first completed step, or at the end when no step runs). */
  adopt(plan: BatchPlan, change: PlanChange): void;
  /** One step on a batch: its rows (sample indices), key, epoch, and its position in the epoch's order. */
  step(rows: readonly number[], key: BatchKey, epoch: number, position: number, batches: number): Promise<R>;
  /** After a step completed and the plan is adopted (per-batch callbacks see the trainer with this fit's plan). */
  stepDone?(result: R, rows: readonly number[], epoch: number, position: number, batches: number): void | Promise<void>;
  /** Before an epoch's first step. */
  epochBegin?(epoch: number): void | Promise<void>;
  /** After an epoch's last step: its mean loss (weighted by batch size), its training seconds, every step's result in order. */
  epochEnd(epoch: number, summary: { readonly loss: number; readonly seconds: number; readonly results: readonly R[] }): void | Promise<void>;
  /**
   * Asked after every step and every epoch: true ends the run there (a callback's `stopTraining`) — an epoch
   * stopped after a step still ends (`epochEnd` over the steps it ran).
   */
  stop?(): boolean;
}

/** The schedule of a `fit`. */
export interface PlannedFitOptions {
  readonly epochs: number;
  readonly batchSize: number;
  readonly seed: number;
  /**
   * `true` (default): one partition, the batch order shuffled each epoch; `false`: plan order; `'samples'`: the
   * samples re-partitioned every epoch (a plan seeded by `mixSeed(seed, epoch)`, adopted with the epoch's first
   * step) — every batch is new, so FNGD computes every batch's coefficients afresh.
   */
  readonly shuffle?: boolean | 'samples';
}

/**
 * Plans the batches of samples `ids` and runs the epochs. Invalid or duplicate ids throw `InvalidOptionError`
 * (key `fit.sampleIds`) before any step.
 */
export async function runPlannedEpochs<R extends { readonly loss: number }>(
  host: PlannedFitHost<R>,
  ids: readonly SampleId[],
  options: PlannedFitOptions,
): Promise<void> {
  const { epochs, batchSize, seed } = options;
  const planFor = (planSeed: number, previous: BatchPlan | null): { plan: BatchPlan; change: PlanChange } => {
    try {
      return planBatches(ids, { batchSize, seed: planSeed, previous });
    } catch (e) {
      if (!(e instanceof InvalidArgumentError)) throw e;
      throw new InvalidOptionError(`fit: sampleIds: ${e.message}`, { key: 'fit.sampleIds', value: ids });
    }
  };
  const row = new Map<SampleId, number>();
  ids.forEach((id, i) => row.set(id, i));
  const repartition = options.shuffle === 'samples';
  let current = planFor(seed, host.previous); // checks the ids before any step
  let rows: number[][] = [];
  let adopted = false;
  const adopt = (): void => {
    if (!adopted) host.adopt(current.plan, current.change);
    adopted = true;
  };
  for (let e = 0; e < epochs; e++) {
    const epoch = host.epoch();
    if (repartition) {
      const previous = adopted ? current.plan : host.previous;
      current = planFor(mixSeed(seed, epoch), null);
      current = { plan: current.plan, change: { kept: 0, dropped: previous ? previous.batches.length : 0, added: current.plan.batches.length } };
      adopted = false;
    }
    const plan = current.plan;
    rows = plan.batches.map((b) => b.ids.map((id) => row.get(id) as number));
    const B = rows.length;
    await host.epochBegin?.(epoch);
    const order = options.shuffle === false || repartition ? Array.from({ length: B }, (_, i) => i) : permutation(B, mixSeed(seed, epoch));
    const t0 = performance.now();
    let sum = 0;
    let seen = 0;
    const results: R[] = [];
    for (let s = 0; s < B; s++) {
      const b = order[s] as number;
      const r = rows[b] as number[];
      const result = await host.step(r, (plan.batches[b] as { key: BatchKey }).key, epoch, s, B);
      adopt();
      await host.stepDone?.(result, r, epoch, s, B);
      sum += result.loss * r.length;
      seen += r.length;
      results.push(result);
      if (host.stop?.()) break;
    }
    await host.epochEnd(epoch, { loss: seen > 0 ? sum / seen : NaN, seconds: (performance.now() - t0) / 1000, results });
    if (host.stop?.()) break;
  }
  adopt();
}
