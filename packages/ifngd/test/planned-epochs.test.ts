/**
 * The trainers' `fit` epochs: the plan is adopted with the first completed step (never when the first step
 * throws), each epoch visits every batch once in the seeded order, the epoch loss is the batch-size-weighted mean,
 * bad ids are `InvalidOptionError` (`fit.sampleIds`) before any step.
 */
import { describe, expect, it } from 'vitest';
import { InvalidOptionError, permutation, type BatchPlan } from '../src/index.js';
import { mixSeed, runPlannedEpochs, type PlannedFitHost } from '../src/internal.js';

function host(fail = false) {
  const log: { adopted: BatchPlan | null; steps: [number[], string | number, number][]; ends: { epoch: number; loss: number }[] } = { adopted: null, steps: [], ends: [] };
  let epoch = 0;
  const h: PlannedFitHost<{ loss: number }> = {
    previous: null,
    epoch: () => epoch,
    adopt: (plan) => void (log.adopted = plan),
    async step(rows, key, e) {
      if (fail) throw new Error('step failed');
      log.steps.push([[...rows], key, e]);
      return { loss: rows.length };
    },
    epochEnd(e, s) {
      log.ends.push({ epoch: e, loss: s.loss });
      epoch++;
    },
  };
  return { h, log };
}

describe('runPlannedEpochs', () => {
  it('visits every batch once per epoch in permutation(B, mixSeed(seed, epoch)); weighted mean loss; adopts the plan', async () => {
    const { h, log } = host();
    const ids = Array.from({ length: 10 }, (_, i) => `s${i}`);
    await runPlannedEpochs(h, ids, { epochs: 2, batchSize: 4, seed: 3 });
    const plan = log.adopted!;
    expect(plan.batches.map((b) => b.ids.length)).toEqual([4, 4, 2]);
    for (const e of [0, 1]) {
      const order = permutation(3, mixSeed(3, e));
      expect(log.steps.slice(3 * e, 3 * e + 3).map(([, key]) => key)).toEqual(order.map((b) => plan.batches[b]!.key));
    }
    // losses are the batch sizes: weighted mean Σ n_b² / N
    expect(log.ends).toEqual([
      { epoch: 0, loss: (16 + 16 + 4) / 10 },
      { epoch: 1, loss: (16 + 16 + 4) / 10 },
    ]);
  });

  it('a first step that throws adopts nothing; bad ids are InvalidOptionError before any step', async () => {
    const { h, log } = host(true);
    await expect(runPlannedEpochs(h, [1, 2, 3], { epochs: 1, batchSize: 2, seed: 0 })).rejects.toThrow('step failed');
    expect(log.adopted).toBeNull();
    const ok = host();
    const e = await runPlannedEpochs(ok.h, [1, 1], { epochs: 1, batchSize: 2, seed: 0 }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(InvalidOptionError);
    expect((e as InvalidOptionError).key).toBe('fit.sampleIds');
    expect(ok.log.steps).toEqual([]);
  });

  it('zero epochs still adopt the plan (the next fit carries it)', async () => {
    const { h, log } = host();
    await runPlannedEpochs(h, [1, 2, 3], { epochs: 0, batchSize: 2, seed: 0 });
    expect(log.adopted?.batches).toHaveLength(2);
    expect(log.steps).toEqual([]);
  });
});

describe("runPlannedEpochs with shuffle: 'samples'", () => {
  it('re-partitions the samples every epoch (a plan per epoch, adopted with its first step); every sample once per epoch', async () => {
    const { h, log } = host();
    const adopted: BatchPlan[] = [];
    h.adopt = (plan) => void adopted.push(plan);
    const ids = Array.from({ length: 12 }, (_, i) => i);
    await runPlannedEpochs(h, ids, { epochs: 3, batchSize: 4, seed: 5, shuffle: 'samples' });
    expect(adopted).toHaveLength(3);
    for (let e = 0; e < 3; e++) {
      const keys = log.steps.slice(3 * e, 3 * e + 3).map(([, key]) => key);
      expect(keys).toEqual(adopted[e]!.batches.map((b) => b.key));
      expect(log.steps.slice(3 * e, 3 * e + 3).flatMap(([rows]) => rows).sort((a, b) => a - b)).toEqual(ids);
    }
    expect(adopted[1]!.batches[0]!.key).not.toBe(adopted[0]!.batches[0]!.key);
  });
});
