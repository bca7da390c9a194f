import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fngd, type FngdOptions } from '../src/index.js';
import { batches, initParams, makeData, type Mlp } from './support/mlp.js';
import { train, type StepRecord } from './support/train.js';

let dev: LinalgDevice;
beforeAll(async () => {
  dev = await createDevice({ backend: 'cpu' });
});
afterAll(() => dev.destroy());

// A small deterministic setting where fresh coefficients are stable and reusing them in epoch 2 blows up:
// softmax regression MLP 6-16-3, 128 synthetic samples in batches of 16, λ = 0.01, lr·λ = 0.5.
const model: Mlp = { din: 6, hidden: 16, dout: 3, loss: 'ce' };
const data = batches(model, makeData(model, 128, 1), 16);
const base = { learningRate: 50, damping: 0.01, momentum: 0 } as const;

async function run(options: Partial<FngdOptions>) {
  const opt = fngd({ device: dev, ...base, ...options });
  const params = initParams(model, 8);
  opt.init(params);
  const r = await train(dev, model, opt, params, data, { epochs: 3 });
  const meanLoss = (e: number): number => {
    const rs = r.records.filter((x: StepRecord) => x.epoch === e);
    return rs.reduce((s, x) => s + x.loss, 0) / rs.length;
  };
  return { opt, r, meanLoss };
}

describe('reuse guard', () => {
  it('without it, reused coefficients blow up in epoch 2 (the first epoch that reuses α)', async () => {
    const fresh = await run({ refresh: 'always', guard: false });
    const reused = await run({ refresh: 'first-epoch', guard: false });
    expect(fresh.r.diverged).toBe(false);
    expect(fresh.meanLoss(2)).toBeLessThan(1.5 * fresh.meanLoss(1));
    // reused update norms explode relative to fresh ones, and the loss with them
    expect(reused.opt.stats.guard.maxLengthRatio).toBeGreaterThan(20);
    expect(reused.meanLoss(2)).toBeGreaterThan(5 * reused.meanLoss(1));
    expect(reused.opt.stats.guard.capped).toBe(0);
  });

  it('with the default guard, the same run stays stable at no extra factorization', async () => {
    const guarded = await run({ refresh: 'first-epoch' });
    expect(guarded.r.diverged).toBe(false);
    expect(guarded.meanLoss(2)).toBeLessThan(1.5 * guarded.meanLoss(1));
    expect(guarded.meanLoss(3)).toBeLessThan(1.5 * guarded.meanLoss(1));
    const s = guarded.opt.stats;
    expect(s.guard.capped).toBeGreaterThan(0);
    expect(s.guard.reusedSteps).toBe(16);
    expect(s.factorizations).toBe(8);
    // every reused step is at most the largest fresh update (global-max reference, factor 1)
    const maxFresh = Math.max(...guarded.r.records.filter((x) => x.fresh).map((x) => x.updateNorm));
    for (const x of guarded.r.records.filter((y) => !y.fresh)) expect(x.updateNorm).toBeLessThanOrEqual(maxFresh * (1 + 1e-5));
  });
});
