import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fngd, type FngdOptimizer, type HostTree, type RefreshPolicy } from '../src/index.js';
import { batches, deviceFactors, disposeFactors, forwardBackward, initParams, makeData, weightedGradient, type Batch, type Mlp } from './support/mlp.js';
import { train } from './support/train.js';

let dev: LinalgDevice;
beforeAll(async () => {
  dev = await createDevice({ backend: 'cpu' });
});
afterAll(() => dev.destroy());

const model: Mlp = { din: 4, hidden: 6, dout: 3, loss: 'ce' };
const data = batches(model, makeData(model, 32, 4), 8); // 4 batches

/** One step on batch `key`; `inflate` multiplies the weighted gradient (simulates a drifted, longer update). */
async function stepOn(opt: FngdOptimizer, params: HostTree, key: number, epoch: number, inflate = 1, b: Batch = data[key]!) {
  const pass = forwardBackward(model, params, b);
  let made = false;
  const c = await opt.coefficients({
    batchKey: key,
    epoch,
    n: b.n,
    factors: () => {
      made = true;
      return deviceFactors(dev, pass);
    },
  });
  const g = weightedGradient(pass, c.alpha);
  const scaled = Object.fromEntries(Object.entries(g).map(([k, v]) => [k, v.map((x) => x * inflate)]));
  return { params: opt.step(scaled, params, { coefficients: c, loss: pass.meanLoss }), computed: made, c };
}

const noProbes = { probeEvery: 1_000_000, maxProbeEvery: 1_000_000, lossRatio: null } as const;

describe('drift policy: mechanics', () => {
  it('a reused step that is too long marks only its batch stale; only that batch is recomputed', async () => {
    const opt = fngd({ device: dev, learningRate: 0.05, damping: 0.1, momentum: 0, refresh: { drift: { ...noProbes, markOnCap: false, lengthRatio: 2 } }, guard: false });
    let params = initParams(model, 1);
    opt.init(params);
    for (let k = 0; k < 4; k++) params = (await stepOn(opt, params, k, 1)).params;
    expect(opt.stats.factorizations).toBe(4);
    // epoch 2: batch 2's update is 10× its fresh length; the others are normal
    for (let k = 0; k < 4; k++) {
      const r = await stepOn(opt, params, k, 2, k === 2 ? 10 : 1);
      expect(r.computed).toBe(false);
      params = r.params;
    }
    expect(opt.cached(2)!.stale).toBe(true);
    expect([0, 1, 3].map((k) => opt.cached(k)!.stale)).toEqual([false, false, false]);
    expect(opt.stats.drift.staleMarks.length).toBe(1);
    expect(opt.stats.guard.maxLengthRatio).toBeGreaterThan(2);
    // epoch 3: exactly batch 2 is refreshed
    const computed: boolean[] = [];
    for (let k = 0; k < 4; k++) {
      const r = await stepOn(opt, params, k, 3);
      computed.push(r.computed);
      params = r.params;
    }
    expect(computed).toEqual([false, false, true, false]);
    expect(opt.stats.refreshes).toBe(1);
    expect(opt.stats.factorizations).toBe(5);
    expect(opt.cached(2)!.stale).toBe(false);
  });

  it('a capped reused step marks the batch stale (markOnCap), with the reason counted', async () => {
    const opt = fngd({ device: dev, learningRate: 0.05, damping: 0.1, momentum: 0, refresh: { drift: { ...noProbes, lengthRatio: 1e9 } } });
    let params = initParams(model, 1);
    opt.init(params);
    for (let k = 0; k < 4; k++) params = (await stepOn(opt, params, k, 1)).params;
    params = (await stepOn(opt, params, 1, 2, 100)).params;
    expect(opt.stats.guard.capped).toBe(1);
    expect(opt.stats.drift.staleMarks.cap).toBe(1);
    expect(opt.cached(1)!.stale).toBe(true);
  });

  it('the loss test marks a batch whose loss rose past lossRatio × its loss when fresh', async () => {
    const opt = fngd({ device: dev, learningRate: 0.05, damping: 0.1, momentum: 0, refresh: { drift: { ...noProbes, lossRatio: 1.5, lengthRatio: 1e9 } }, guard: false });
    let params = initParams(model, 1);
    opt.init(params);
    params = (await stepOn(opt, params, 0, 1)).params;
    const freshLoss = opt.cached(0)!.freshLoss!;
    expect(freshLoss).toBeGreaterThan(0);
    const pass = forwardBackward(model, params, data[0]!);
    const c = await opt.coefficients({ batchKey: 0, epoch: 2, n: 8, factors: () => deviceFactors(dev, pass) });
    expect(c.fresh).toBe(false);
    opt.step(weightedGradient(pass, c.alpha), params, { coefficients: c, loss: 1.4 * freshLoss });
    expect(opt.cached(0)!.stale).toBe(false);
    const c2 = await opt.coefficients({ batchKey: 0, epoch: 2, n: 8, factors: () => deviceFactors(dev, pass) }); // coefficients commit once
    expect(c2.fresh).toBe(false);
    opt.step(weightedGradient(pass, c2.alpha), params, { coefficients: c2, loss: 1.6 * freshLoss });
    expect(opt.cached(0)!.stale).toBe(true);
    expect(opt.stats.drift.staleMarks).toEqual({ cap: 0, length: 0, loss: 1 });
  });

  it('probes: exact at unchanged parameters; a failed probe refreshes the batch and halves the interval', async () => {
    const opt = fngd({ device: dev, learningRate: 0.05, damping: 0.1, momentum: 0, refresh: { drift: { probeEvery: 2, lossRatio: null, minCosine: 0.999999 } } });
    const params = initParams(model, 1);
    opt.init(params);
    const pass = forwardBackward(model, params, data[0]!);
    const fs = deviceFactors(dev, pass);
    let calls = 0;
    const req = { batchKey: 0, epoch: 1, n: 8, factors: () => (calls++, fs) };
    // a request counts when its step commits: step each one with a zero gradient (parameters unchanged)
    const zero = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, new Float32Array(v.length)]));
    const served = async (r: typeof req) => {
      const c = await opt.coefficients(r);
      opt.step(zero, params, { coefficients: c });
      return c;
    };
    await served(req); // miss
    expect((await served(req)).source).toBe('hit');
    expect((await served(req)).source).toBe('hit');
    const p = await served(req); // probe: same parameters
    expect(p.source).toBe('probe');
    expect(calls).toBe(2);
    const probe = opt.stats.drift.lastProbe!;
    expect(probe.directionCosine).toBeCloseTo(1, 5);
    expect(probe.alphaCosine).toBeCloseTo(1, 5);
    expect(probe.lengthRatio).toBeCloseTo(1, 5);
    expect(opt.stats.drift.probes).toBe(1);
    expect(opt.stats.drift.probeFailures).toBe(0);
    expect(opt.stats.drift.probeInterval).toBe(4);
    disposeFactors(fs);
    // move the parameters a lot: the next probe fails and the interval halves
    const far = initParams(model, 99, 3);
    const pass2 = forwardBackward(model, far, data[0]!);
    const fs2 = deviceFactors(dev, pass2);
    const req2 = { ...req, factors: () => fs2 };
    for (let i = 0; i < 4; i++) expect((await served(req2)).source).toBe('hit');
    expect((await served(req2)).source).toBe('probe');
    disposeFactors(fs2);
    const s = opt.stats;
    expect(s.drift.probeFailures).toBe(1);
    expect(s.drift.lastProbe!.directionCosine).toBeLessThan(0.999999);
    expect(s.drift.probeInterval).toBe(2);
    expect(s.factorizations).toBe(3);
  });
});

describe('drift policy: cost and effect (measured, logged)', () => {
  const big: Mlp = { din: 6, hidden: 16, dout: 3, loss: 'ce' };
  const bigData = batches(big, makeData(big, 128, 1), 16);
  const run = async (refresh: RefreshPolicy, guard = true) => {
    const opt = fngd({ device: dev, learningRate: 50, damping: 0.01, momentum: 0, refresh, guard });
    const params = initParams(big, 8);
    opt.init(params);
    const r = await train(dev, big, opt, params, bigData, { epochs: 4 });
    const last = r.records.filter((x) => x.epoch === 4);
    return { stats: opt.stats, loss: last.reduce((s, x) => s + x.loss, 0) / Math.max(1, last.length), diverged: r.diverged };
  };

  it('refreshes only what needs it: far fewer factorizations than always, stable where unguarded reuse diverges', async () => {
    const always = await run('always');
    const first = await run('first-epoch');
    const drift = await run('drift');
    const driftNoGuard = await run('drift', false);
    const line = (name: string, r: Awaited<ReturnType<typeof run>>) =>
      `${name}: loss(e4) ${r.loss.toFixed(3)}, factorizations ${r.stats.factorizations}, capped ${r.stats.guard.capped}, stale ${JSON.stringify(r.stats.drift.staleMarks)}, probes ${r.stats.drift.probes}/${r.stats.drift.probeFailures} failed`;
    console.log([line('always', always), line('first-epoch+guard', first), line('drift+guard', drift), line('drift, no guard', driftNoGuard)].join('\n'));
    expect(drift.diverged).toBe(false);
    expect(drift.stats.factorizations).toBeLessThan(always.stats.factorizations);
    expect(drift.stats.factorizations).toBeGreaterThan(first.stats.factorizations);
  });
});
