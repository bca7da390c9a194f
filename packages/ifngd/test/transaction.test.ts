/**
 * Every FNGD step is a transaction: a request whose step is rejected (or never made) leaves no trace. Optimizer
 * A trains undisturbed; its twin B makes the same steps, but before each one it also makes rejected attempts on
 * the same batch (non-finite gradients, a NaN loss, a factors callback that throws, coefficients requested and
 * abandoned). After every step both must agree bit for bit: stats, checkpoint bytes, cache entries, parameters.
 */
import type { LayerFactors } from '@ifngd/fisher';
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fngd, NonFiniteError, type Coefficients, type FngdOptimizer, type FngdOptions, type HostTree, type RefreshPolicy } from '../src/index.js';
import { batches, deviceFactors, disposeFactors, forwardBackward, initParams, makeData, weightedGradient, type Mlp, type Pass } from './support/mlp.js';

let dev: LinalgDevice;
beforeAll(async () => {
  dev = await createDevice({ backend: 'cpu' });
});
afterAll(() => dev.destroy());

const model: Mlp = { din: 4, hidden: 6, dout: 3, loss: 'ce' };
const data = batches(model, makeData(model, 24, 3), 8); // 3 batches
const order = (epoch: number): number[] => [0, 1, 2].map((i) => (i + epoch) % 3);

/** The bytes of a tree, leaf by leaf: equal bytes = bit-identical parameters. */
const treeBytes = (t: HostTree): Buffer => Buffer.concat(Object.keys(t).sort().map((k) => Buffer.from(t[k]!.buffer, t[k]!.byteOffset, t[k]!.byteLength)));

/** Requests batch `key`'s coefficients at `params`, with device factors released afterwards. */
async function request(opt: FngdOptimizer, params: HostTree, key: number, epoch: number): Promise<{ c: Coefficients; pass: Pass; called: boolean }> {
  const pass = forwardBackward(model, params, data[key]!);
  let made: LayerFactors[] | null = null;
  try {
    const c = await opt.coefficients({ batchKey: key, epoch, n: pass.n, factors: () => (made = deviceFactors(dev, pass)) });
    return { c, pass, called: made !== null };
  } finally {
    if (made) disposeFactors(made);
  }
}

async function good(opt: FngdOptimizer, params: HostTree, key: number, epoch: number): Promise<HostTree> {
  const { c, pass } = await request(opt, params, key, epoch);
  return opt.step(weightedGradient(pass, c.alpha), params, { coefficients: c, loss: pass.meanLoss });
}

/** The rejected attempts made on B before its real step; each must throw (or be abandoned) and change nothing. */
async function rejected(opt: FngdOptimizer, params: HostTree, key: number, epoch: number): Promise<void> {
  // non-finite gradients, onNonFinite 'throw'
  const a = await request(opt, params, key, epoch);
  const g = weightedGradient(a.pass, a.c.alpha);
  const poisoned = { ...g, W2: g.W2!.map((v, i) => (i === 1 ? NaN : v)) };
  expect(() => opt.step(poisoned, params, { coefficients: a.c, loss: a.pass.meanLoss })).toThrow(NonFiniteError);
  // a NaN loss
  const b = await request(opt, params, key, epoch);
  expect(() => opt.step(weightedGradient(b.pass, b.c.alpha), params, { coefficients: b.c, loss: NaN })).toThrow(NonFiniteError);
  // a factors callback that throws: the request rejects when it computes; a cached answer does not call it
  const failing = new Error('capture failed');
  let called = false;
  const r = opt.coefficients({ batchKey: key, epoch, n: data[key]!.n, factors: () => ((called = true), Promise.reject(failing)) });
  await r.then(
    (c) => expect(c.fresh).toBe(false),
    (e: unknown) => expect(e).toBe(failing),
  );
  expect(called).toBe(a.c.fresh);
  // coefficients requested and never used
  await request(opt, params, key, epoch);
}

async function expectSame(a: FngdOptimizer, b: FngdOptimizer, pa: HostTree, pb: HostTree): Promise<void> {
  expect(treeBytes(pb)).toEqual(treeBytes(pa));
  expect(b.stats).toEqual(a.stats);
  expect(Buffer.from(b.serialize())).toEqual(Buffer.from(a.serialize()));
  for (const k of [0, 1, 2]) expect(b.cached(k)).toEqual(a.cached(k));
}

const policies: [string, RefreshPolicy][] = [
  ['first-epoch', 'first-epoch'],
  ['everyEpochs 2', { everyEpochs: 2 }],
  ['always', 'always'],
  ['drift (probe countdown of 2)', { drift: { probeEvery: 2, maxProbeEvery: 4 } }],
  ['auto (fixed price)', { auto: { price: 0.5, warmup: 2 } }],
];

describe('a rejected or abandoned request leaves no trace (against an undisturbed twin)', () => {
  it.each(policies)('%s', async (_name, refresh) => {
    const options: FngdOptions = { device: dev, learningRate: 0.2, damping: 0.1, momentum: 0.9, refresh, adaptiveDamping: {} };
    const [a, b] = [fngd(options), fngd(options)];
    const p0 = initParams(model, 5);
    a.init(p0);
    b.init(p0);
    let [pa, pb] = [p0, p0];
    const sources = new Set<string>();
    for (let epoch = 1; epoch <= 4; epoch++) {
      for (const key of order(epoch)) {
        await rejected(b, pb, key, epoch);
        const { c } = await request(b, pb, key, epoch); // abandoned too: what A's request would be
        sources.add(c.source);
        pa = await good(a, pa, key, epoch);
        pb = await good(b, pb, key, epoch);
        a.observeLoss(forwardBackward(model, pa, data[key]!).meanLoss);
        b.observeLoss(forwardBackward(model, pb, data[key]!).meanLoss);
        await expectSame(a, b, pa, pb);
      }
    }
    expect(a.stats.steps).toBe(12);
    // the injected attempts met the policy's own decisions (a probe, a refresh), not only hits
    if (typeof refresh === 'object' && 'drift' in refresh) expect(sources).toContain('probe');
    if (refresh === 'always' || (typeof refresh === 'object' && ('auto' in refresh || 'everyEpochs' in refresh))) expect(sources).toContain('refresh');
  });
});
