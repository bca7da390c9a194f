/**
 * Coefficients are tickets that commit at most once, only in the generation (`init`/`restore`) they were
 * requested in, and only while their batch's cache entry is unchanged. Every refusal is typed and changes nothing.
 */
import type { LayerFactors } from '@ifngd/fisher';
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchSizeMismatchError, fngd, StaleCoefficientsError, type FngdOptimizer, type HostTree } from '../src/index.js';
import { batches, deviceFactors, disposeFactors, forwardBackward, initParams, makeData, weightedGradient, type Mlp } from './support/mlp.js';

let dev: LinalgDevice;
beforeAll(async () => {
  dev = await createDevice({ backend: 'cpu' });
});
afterAll(() => dev.destroy());

const model: Mlp = { din: 4, hidden: 6, dout: 3, loss: 'ce' };
const data = batches(model, makeData(model, 16, 7), 8);

function setup(): { opt: FngdOptimizer; params: HostTree } {
  const opt = fngd({ device: dev, learningRate: 0.1, damping: 0.1, momentum: 0.9 });
  const params = initParams(model, 2);
  opt.init(params);
  return { opt, params };
}

/** Factors of batch 0 at `params` (released by the caller through `done`). */
function factorsAt(params: HostTree, n = 8) {
  const b = n === 8 ? data[0]! : { n, x: data[0]!.x.slice(0, n * model.din), y: data[0]!.y.slice(0, n * model.dout) };
  const pass = forwardBackward(model, params, b);
  const made: LayerFactors[][] = [];
  return { pass, factors: () => (made.push(deviceFactors(dev, pass)), made.at(-1)!), done: () => made.forEach(disposeFactors) };
}

const snapshot = (opt: FngdOptimizer) => ({ bytes: Buffer.from(opt.serialize()), stats: opt.stats, cached: opt.cached(0) });

describe('coefficients commit at most once', () => {
  it('a second step with the same coefficients → StaleCoefficientsError, nothing changed', async () => {
    const { opt, params } = setup();
    const f = factorsAt(params);
    const c = await opt.coefficients({ batchKey: 0, epoch: 1, n: 8, factors: f.factors });
    f.done();
    const g = weightedGradient(f.pass, c.alpha);
    const next = opt.step(g, params, { coefficients: c });
    const before = snapshot(opt);
    expect(() => opt.step(g, next, { coefficients: c })).toThrow(StaleCoefficientsError);
    expect(snapshot(opt)).toEqual(before);
  });

  it('a step that throws does not use them up: the corrected step commits', async () => {
    const { opt, params } = setup();
    const f = factorsAt(params);
    const c = await opt.coefficients({ batchKey: 0, epoch: 1, n: 8, factors: f.factors });
    f.done();
    const g = weightedGradient(f.pass, c.alpha);
    expect(() => opt.step({ ...g, b1: g.b1!.map(() => NaN) }, params, { coefficients: c })).toThrow();
    opt.step(g, params, { coefficients: c });
    expect(opt.stats).toMatchObject({ steps: 1, factorizations: 1, cacheMisses: 1 });
  });

  it("onNonFinite 'skip': a skipped step commits its request (counted as today) and uses the coefficients up", async () => {
    const opt = fngd({ device: dev, learningRate: 0.1, damping: 0.1, onNonFinite: 'skip' });
    const params = initParams(model, 2);
    opt.init(params);
    const f = factorsAt(params);
    const c = await opt.coefficients({ batchKey: 0, epoch: 1, n: 8, factors: f.factors });
    f.done();
    const g = weightedGradient(f.pass, c.alpha);
    expect(opt.step({ ...g, b1: g.b1!.map(() => NaN) }, params, { coefficients: c })).toBe(params);
    expect(opt.stats).toMatchObject({ steps: 0, skippedSteps: 1, factorizations: 1, cacheMisses: 1, cachedBatches: 1 });
    expect(() => opt.step(g, params, { coefficients: c })).toThrow(StaleCoefficientsError);
  });
});

describe('reentrancy', () => {
  it.each(['init', 'restore'] as const)('%s while a request is pending: the request leaves no entry and its step is refused', async (what) => {
    const { opt, params } = setup();
    const checkpoint = opt.serialize();
    const f = factorsAt(params);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const pending = opt.coefficients({ batchKey: 0, epoch: 1, n: 8, factors: async () => (await gate, f.factors()) });
    if (what === 'init') opt.init(params);
    else opt.restore(checkpoint);
    const before = snapshot(opt);
    release();
    const c = await pending;
    f.done();
    expect(opt.cached(0)).toBeUndefined();
    expect(() => opt.step(weightedGradient(f.pass, c.alpha), params, { coefficients: c })).toThrow(StaleCoefficientsError);
    expect(snapshot(opt)).toEqual(before);
  });

  it('two pending requests for one batch with different n: the first step commits, the second is refused', async () => {
    const { opt, params } = setup();
    const f8 = factorsAt(params, 8);
    const f4 = factorsAt(params, 4);
    const [c8, c4] = await Promise.all([
      opt.coefficients({ batchKey: 0, epoch: 1, n: 8, factors: f8.factors }),
      opt.coefficients({ batchKey: 0, epoch: 1, n: 4, factors: f4.factors }),
    ]);
    f8.done();
    f4.done();
    const next = opt.step(weightedGradient(f8.pass, c8.alpha), params, { coefficients: c8 });
    const before = snapshot(opt);
    expect(() => opt.step(weightedGradient(f4.pass, c4.alpha), next, { coefficients: c4 })).toThrow(BatchSizeMismatchError);
    expect(snapshot(opt)).toEqual(before);
    expect(opt.cached(0)!.n).toBe(8);
  });

  it('two pending requests for one batch with the same n: the second, served from an entry that changed, is refused', async () => {
    const { opt, params } = setup();
    const f = factorsAt(params);
    const first = await opt.coefficients({ batchKey: 0, epoch: 1, n: 8, factors: f.factors });
    opt.step(weightedGradient(f.pass, first.alpha), params, { coefficients: first });
    const [a, b] = [
      await opt.coefficients({ batchKey: 0, epoch: 2, n: 8, factors: f.factors }),
      await opt.coefficients({ batchKey: 0, epoch: 2, n: 8, factors: f.factors }),
    ];
    f.done();
    expect([a.source, b.source]).toEqual(['hit', 'hit']);
    const next = opt.step(weightedGradient(f.pass, a.alpha), params, { coefficients: a });
    const before = snapshot(opt);
    expect(() => opt.step(weightedGradient(f.pass, b.alpha), next, { coefficients: b })).toThrow(StaleCoefficientsError);
    expect(snapshot(opt)).toEqual(before);
    expect(opt.stats.cacheHits).toBe(1);
  });

  it('requests for different batches may be pending together; each commits once', async () => {
    const { opt, params } = setup();
    const p0 = forwardBackward(model, params, data[0]!);
    const p1 = forwardBackward(model, params, data[1]!);
    const made: LayerFactors[][] = [];
    const [c0, c1] = await Promise.all([
      opt.coefficients({ batchKey: 0, epoch: 1, n: 8, factors: () => (made.push(deviceFactors(dev, p0)), made.at(-1)!) }),
      opt.coefficients({ batchKey: 1, epoch: 1, n: 8, factors: () => (made.push(deviceFactors(dev, p1)), made.at(-1)!) }),
    ]);
    made.forEach(disposeFactors);
    const next = opt.step(weightedGradient(p0, c0.alpha), params, { coefficients: c0 });
    opt.step(weightedGradient(p1, c1.alpha), next, { coefficients: c1 });
    expect(opt.stats).toMatchObject({ steps: 2, cacheMisses: 2, cachedBatches: 2 });
  });

  it('invalidate(key) between request and step refuses the step; the next request recomputes (every policy)', async () => {
    const { opt, params } = setup();
    const f = factorsAt(params);
    const first = await opt.coefficients({ batchKey: 0, epoch: 1, n: 8, factors: f.factors });
    opt.step(weightedGradient(f.pass, first.alpha), params, { coefficients: first });
    const hit = await opt.coefficients({ batchKey: 0, epoch: 2, n: 8, factors: f.factors });
    expect(hit.source).toBe('hit');
    opt.invalidate(0);
    expect(() => opt.step(weightedGradient(f.pass, hit.alpha), params, { coefficients: hit })).toThrow(StaleCoefficientsError);
    const again = await opt.coefficients({ batchKey: 0, epoch: 2, n: 8, factors: f.factors });
    f.done();
    expect(again.source).toBe('refresh'); // 'first-epoch' honours the mark
  });
});
