import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchSizeMismatchError, fngd, type RefreshPolicy } from '../src/index.js';
import { batches, deviceFactors, disposeFactors, forwardBackward, initParams, makeData, weightedGradient, type Mlp } from './support/mlp.js';
import { train } from './support/train.js';

let dev: LinalgDevice;
beforeAll(async () => {
  dev = await createDevice({ backend: 'cpu' });
});
afterAll(() => dev.destroy());

const model: Mlp = { din: 4, hidden: 6, dout: 3, loss: 'ce' };
const data = batches(model, makeData(model, 40, 2), 8); // 5 batches
const shuffled = (epoch: number): number[] => [0, 1, 2, 3, 4].map((i) => (2 * i + epoch) % 5);

async function run(refresh: RefreshPolicy, epochs: number) {
  const opt = fngd({ device: dev, learningRate: 0.1, damping: 0.1, refresh, momentum: 0.9 });
  let params = initParams(model, 1);
  opt.init(params);
  const perEpoch: number[] = [];
  for (let e = 1; e <= epochs; e++) {
    const before = opt.stats.factorizations;
    params = (await train(dev, model, opt, params, data, { epochs: 1, startEpoch: e, order: shuffled })).params;
    perEpoch.push(opt.stats.factorizations - before);
  }
  return { opt, perEpoch };
}

describe('coefficient cache', () => {
  it("'first-epoch': epoch 1 factorizes once per batch, later epochs never (factors not even requested)", async () => {
    const opt = fngd({ device: dev, learningRate: 0.1, damping: 0.1 });
    let params = initParams(model, 1);
    opt.init(params);
    const calls: number[] = [];
    for (let e = 1; e <= 3; e++) {
      const r = await train(dev, model, opt, params, data, { epochs: 1, startEpoch: e, order: shuffled });
      params = r.params;
      calls.push(r.factorCalls);
    }
    expect(calls).toEqual([5, 0, 0]);
    const s = opt.stats;
    expect(s.factorizations).toBe(5);
    expect(s.cacheMisses).toBe(5);
    expect(s.cacheHits).toBe(10);
    expect(s.refreshes).toBe(0);
    expect(s.cachedBatches).toBe(5);
    expect(s.cachedFloats).toBe(40); // n floats per batch (global)
  });

  it("'always' factorizes every step; { everyEpochs: 2 } every other epoch", async () => {
    expect((await run('always', 3)).perEpoch).toEqual([5, 5, 5]);
    expect((await run({ everyEpochs: 2 }, 4)).perEpoch).toEqual([5, 0, 5, 0]);
    const { opt } = await run('always', 2);
    expect(opt.stats.refreshes).toBe(5);
    expect(opt.stats.cacheHits).toBe(0);
  });

  it('layer-wise mode caches L·n floats per batch', async () => {
    const opt = fngd({ device: dev, learningRate: 0.1, damping: 0.1, mode: 'layerwise' });
    const params = initParams(model, 1);
    opt.init(params);
    await train(dev, model, opt, params, data, { epochs: 1 });
    expect(opt.stats.cachedFloats).toBe(2 * 40);
    expect(opt.cached(0)?.layers).toBe(2);
  });

  it('a key reused with a different n is a typed error and changes nothing', async () => {
    const opt = fngd({ device: dev, learningRate: 0.1, damping: 0.1 });
    const params = initParams(model, 1);
    opt.init(params);
    const pass = forwardBackward(model, params, data[0]!);
    const fs = deviceFactors(dev, pass);
    const a = await opt.coefficients({ batchKey: 'a', epoch: 1, n: 8, factors: () => fs });
    opt.step(weightedGradient(pass, a.alpha), params, { coefficients: a }); // counting and caching happen on commit
    const before = opt.stats;
    const alpha = opt.cached('a')!.alpha.slice();
    let called = false;
    await expect(
      opt.coefficients({ batchKey: 'a', epoch: 2, n: 7, factors: () => ((called = true), fs) }),
    ).rejects.toBeInstanceOf(BatchSizeMismatchError);
    expect(called).toBe(false);
    expect(opt.stats).toEqual(before);
    expect(opt.cached('a')!.alpha).toEqual(alpha);
    // numbers and strings are different keys
    const one = await opt.coefficients({ batchKey: 1, epoch: 1, n: 8, factors: () => fs });
    expect(one.source).toBe('miss');
    opt.step(weightedGradient(pass, one.alpha), params, { coefficients: one });
    expect(opt.stats.cacheMisses).toBe(2);
    disposeFactors(fs);
  });
});

describe('coefficient cache: bounded', () => {
  it('retain(keys) drops every batch not in the plan (counted; the checkpoint shrinks); kept batches stay hits', async () => {
    const opt = fngd({ device: dev, learningRate: 0.1, damping: 0.1 });
    let params = initParams(model, 1);
    opt.init(params);
    params = (await train(dev, model, opt, params, data, { epochs: 1, order: shuffled })).params;
    expect(opt.stats.cachedBatches).toBe(5);
    const full = opt.serialize().length;
    expect(opt.retain([0, 2, 4, 'not cached'])).toBe(2);
    expect(opt.stats).toMatchObject({ cachedBatches: 3, evictedBatches: 2 });
    expect(opt.cached(1)).toBeUndefined();
    expect(opt.cached(2)).toBeDefined();
    expect(opt.serialize().length).toBeLessThan(full);
    const r = await train(dev, model, opt, params, data.slice(0, 3), { epochs: 1, startEpoch: 2, order: () => [0, 2] });
    expect(r.factorCalls).toBe(0); // kept batches: cache hits
    expect(opt.retain([0, 2, 4])).toBe(0);
  });

  it('maxCachedBatches drops the least recently used batches beyond the cap', async () => {
    const opt = fngd({ device: dev, learningRate: 0.1, damping: 0.1, maxCachedBatches: 3 });
    let params = initParams(model, 1);
    opt.init(params);
    params = (await train(dev, model, opt, params, data, { epochs: 1, order: () => [0, 1, 2, 3, 4] })).params;
    expect(opt.stats).toMatchObject({ cachedBatches: 3, evictedBatches: 2 });
    expect([0, 1, 2, 3, 4].map((k) => opt.cached(k) !== undefined)).toEqual([false, false, true, true, true]);
    // a reuse makes a batch the most recently used: 2 survives the next miss, 3 goes
    const r = await train(dev, model, opt, params, data, { epochs: 1, startEpoch: 2, order: () => [2, 0] });
    expect(r.factorCalls).toBe(1);
    expect([0, 1, 2, 3, 4].map((k) => opt.cached(k) !== undefined)).toEqual([true, false, true, false, true]);
    expect(opt.stats.evictedBatches).toBe(3);
  });

  it('a checkpoint from before eviction counts restores with evictedBatches 0', async () => {
    const { decodeCheckpoint, encodeCheckpoint } = await import('../src/checkpoint.js');
    const opt = fngd({ device: dev, learningRate: 0.1, damping: 0.1 });
    const params = initParams(model, 1);
    opt.init(params);
    await train(dev, model, opt, params, data, { epochs: 1, order: shuffled });
    const p = decodeCheckpoint(opt.serialize()) as { stats: Record<string, unknown> };
    delete p.stats['evictedBatches'];
    const twin = fngd({ device: dev, learningRate: 0.1, damping: 0.1 });
    twin.init(params);
    twin.restore(encodeCheckpoint(p));
    expect(twin.stats.evictedBatches).toBe(0);
    expect(twin.stats.cachedBatches).toBe(5);
  });
});
