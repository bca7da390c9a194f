/**
 * A step in two halves — `propose` (computes where the trees live, reads nothing, changes nothing) and `settle`
 * (decides with the read values, commits or throws) — is the same transaction as `step`. Optimizer A trains with
 * `step`; twin B with `propose` + `read` + `settle`, making rejected settles first (values that do not match, a
 * foreign proposal, a NaN loss, a proposal voided by another commit, a second settle); twin C with tree ops whose
 * reads are asynchronous (`initAsync`, `stepAsync`), refusing the synchronous forms first. After every step all
 * three agree bit for bit: parameters, stats, checkpoint bytes, cache entries.
 */
import type { LayerFactors } from '@ifngd/fisher';
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fngd,
  hostTreeOps,
  InvalidArgumentError,
  NonFiniteError,
  StaleCoefficientsError,
  type Coefficients,
  type FngdOptimizer,
  type FngdOptions,
  type HostTree,
  type TreeOps,
} from '../src/index.js';
import { batches, deviceFactors, disposeFactors, forwardBackward, initParams, makeData, weightedGradient, type Mlp, type Pass } from './support/mlp.js';

let dev: LinalgDevice;
beforeAll(async () => {
  dev = await createDevice({ backend: 'cpu' });
});
afterAll(() => dev.destroy());

const model: Mlp = { din: 4, hidden: 6, dout: 3, loss: 'ce' };
const data = batches(model, makeData(model, 24, 3), 8); // 3 batches
const treeBytes = (t: HostTree): Buffer => Buffer.concat(Object.keys(t).sort().map((k) => Buffer.from(t[k]!.buffer, t[k]!.byteOffset, t[k]!.byteLength)));

/** Host tree ops whose reads answer asynchronously (as a device's would). */
const asyncOps: TreeOps<HostTree> = { ...hostTreeOps, read: (s) => Promise.resolve(s.slice()) };

async function request(opt: FngdOptimizer, params: HostTree, key: number, epoch: number): Promise<{ c: Coefficients; pass: Pass }> {
  const pass = forwardBackward(model, params, data[key]!);
  let made: LayerFactors[] | null = null;
  try {
    const c = await opt.coefficients({ batchKey: key, epoch, n: pass.n, factors: () => (made = deviceFactors(dev, pass)) });
    return { c, pass };
  } finally {
    if (made) disposeFactors(made);
  }
}

async function expectSame(a: FngdOptimizer, b: FngdOptimizer, pa: HostTree, pb: HostTree): Promise<void> {
  expect(treeBytes(pb)).toEqual(treeBytes(pa));
  expect(b.stats).toEqual(a.stats);
  expect(Buffer.from(b.serialize())).toEqual(Buffer.from(a.serialize()));
  for (const k of [0, 1, 2]) expect(b.cached(k)).toEqual(a.cached(k));
}

const configs: [string, Partial<FngdOptions>][] = [
  ['guard + clipNorm + momentum (first-epoch)', { learningRate: 0.3, damping: 0.1, momentum: 0.9, clipNorm: 0.05, guard: { factor: 0.5 } }],
  ['skip on non-finite, weight decay', { learningRate: 0.3, damping: 0.1, onNonFinite: 'skip', weightDecay: 1e-3 }],
];

describe('propose + settle = step', () => {
  for (const [name, options] of configs) {
    it(`${name}: twins agree bit for bit; rejected settles change nothing`, async () => {
      const a = fngd({ device: dev, ...options });
      const b = fngd({ device: dev, ...options });
      const c = fngd({ device: dev, ...options, ops: asyncOps });
      const other = fngd({ device: dev, ...options });
      let pa = initParams(model, 5);
      let pb = pa;
      let pc = pa;
      a.init(pa);
      b.init(pb);
      other.init(pa);
      expect(() => c.init(pc)).toThrow(InvalidArgumentError);
      expect(c.state).toBeNull();
      await c.initAsync(pc);
      for (let epoch = 0; epoch < 3; epoch++) {
        for (const key of [0, 1, 2]) {
          const ra = await request(a, pa, key, epoch);
          pa = a.step(weightedGradient(ra.pass, ra.c.alpha), pa, { coefficients: ra.c, loss: ra.pass.meanLoss });

          const rb = await request(b, pb, key, epoch);
          const gb = weightedGradient(rb.pass, rb.c.alpha);
          const before = { stats: b.stats, bytes: Buffer.from(b.serialize()), entry: b.cached(key) };
          const p = b.propose(gb, pb, { coefficients: rb.c });
          const values = hostTreeOps.read(p.scalars) as readonly number[];
          // values that do not match the scalars, a proposal of another optimizer, a NaN loss: refused
          // (host scalars are numbers: nothing is left to read, the proposal's scalars are empty)
          expect(p.scalars).toEqual([]);
          expect(() => b.settle(p, [...values, 1], { loss: rb.pass.meanLoss })).toThrow(InvalidArgumentError);
          const ro = await request(other, pb, key, epoch);
          const foreign = other.propose(weightedGradient(ro.pass, ro.c.alpha), pb, { coefficients: ro.c });
          expect(() => b.settle(foreign, values, { loss: rb.pass.meanLoss })).toThrow(InvalidArgumentError);
          // a NaN loss: thrown under 'throw' (nothing changes); under 'skip' a counted skip (tested on its own)
          if (options.onNonFinite !== 'skip') expect(() => b.settle(p, values, { loss: NaN })).toThrow(NonFiniteError);
          // a second proposal from the same coefficients: whichever settles first wins, the other is stale
          const twin = b.propose(gb, pb, { coefficients: rb.c });
          // nothing changed by the proposals and the refused settles
          expect(b.stats).toEqual(before.stats);
          expect(Buffer.from(b.serialize())).toEqual(before.bytes);
          expect(b.cached(key)).toEqual(before.entry);
          pb = b.settle(p, values, { loss: rb.pass.meanLoss });
          expect(() => b.settle(p, values, { loss: rb.pass.meanLoss })).toThrow(StaleCoefficientsError);
          expect(() => b.settle(twin, hostTreeOps.read(twin.scalars) as readonly number[], { loss: rb.pass.meanLoss })).toThrow(StaleCoefficientsError);

          const rc = await request(c, pc, key, epoch);
          const gc = weightedGradient(rc.pass, rc.c.alpha);
          expect(() => c.step(gc, pc, { coefficients: rc.c, loss: rc.pass.meanLoss })).toThrow(InvalidArgumentError);
          pc = await c.stepAsync(gc, pc, { coefficients: rc.c, loss: rc.pass.meanLoss });

          await expectSame(a, b, pa, pb);
          await expectSame(a, c, pa, pc);
        }
      }
      expect(a.stats.cacheHits).toBeGreaterThan(0);
      if (options.clipNorm !== undefined) {
        expect((a.state!.inner[1] as { clipped: number }).clipped).toBeGreaterThan(0);
        expect(a.stats.guard.capped).toBeGreaterThan(0);
      }
    });
  }

  it('a proposal voided by another commit is stale; settling it changes nothing', async () => {
    const opt = fngd({ device: dev, learningRate: 0.3, damping: 0.1 });
    const params = initParams(model, 7);
    opt.init(params);
    const r0 = await request(opt, params, 0, 0);
    const r1 = await request(opt, params, 1, 0);
    const p0 = opt.propose(weightedGradient(r0.pass, r0.c.alpha), params, { coefficients: r0.c });
    const p1 = opt.propose(weightedGradient(r1.pass, r1.c.alpha), params, { coefficients: r1.c });
    opt.settle(p1, hostTreeOps.read(p1.scalars) as readonly number[], { loss: r1.pass.meanLoss });
    const stats = opt.stats;
    const bytes = Buffer.from(opt.serialize());
    expect(() => opt.settle(p0, hostTreeOps.read(p0.scalars) as readonly number[], { loss: r0.pass.meanLoss })).toThrow(StaleCoefficientsError);
    expect(opt.stats).toEqual(stats);
    expect(Buffer.from(opt.serialize())).toEqual(bytes);
    expect(opt.cached(0)).toBeUndefined();
  });

  it("'throw': non-finite gradients throw at settle with nothing changed; 'skip' returns the input parameters and counts", async () => {
    for (const onNonFinite of ['throw', 'skip'] as const) {
      const opt = fngd({ device: dev, learningRate: 0.3, damping: 0.1, momentum: 0.9, onNonFinite });
      const params = initParams(model, 9);
      opt.init(params);
      const r = await request(opt, params, 0, 0);
      const g = weightedGradient(r.pass, r.c.alpha);
      const poisoned = { ...g, W1: g.W1!.map((v, i) => (i === 0 ? Infinity : v)) };
      const stats = opt.stats;
      const bytes = Buffer.from(opt.serialize());
      const p = opt.propose(poisoned, params, { coefficients: r.c });
      const values = hostTreeOps.read(p.scalars) as readonly number[];
      if (onNonFinite === 'throw') {
        expect(() => opt.settle(p, values, { loss: r.pass.meanLoss })).toThrow(NonFiniteError);
        expect(opt.stats).toEqual(stats);
        expect(Buffer.from(opt.serialize())).toEqual(bytes);
        expect(opt.cached(0)).toBeUndefined();
      } else {
        expect(opt.settle(p, values, { loss: r.pass.meanLoss })).toBe(params);
        expect(opt.stats.skippedSteps).toBe(1);
        expect(opt.state!.skipped).toBe(1);
        expect(opt.stats.steps).toBe(0);
      }
    }
  });
});

describe('host scalar ops', () => {
  it('shrink, countBelow, norm, scaleBy follow their definitions (NaN norm → factor 1)', () => {
    expect(hostTreeOps.shrink(5, 1)).toBe(0.2);
    expect(hostTreeOps.shrink(0.5, 1)).toBe(1);
    expect(hostTreeOps.shrink(NaN, 1)).toBe(1);
    expect(hostTreeOps.shrink(Infinity, 1)).toBe(0);
    expect(hostTreeOps.countBelow(3, 0.5, 1)).toBe(4);
    expect(hostTreeOps.countBelow(3, 1, 1)).toBe(3);
    const t = { x: new Float32Array([3, 4]) };
    expect(hostTreeOps.norm(t, 2)).toBe(10);
    expect(hostTreeOps.allFinite({ x: new Float32Array([1, NaN]) })).toBe(0);
    expect(Array.from(hostTreeOps.scaleBy(t, 0.5, 2).x!)).toEqual([3, 4]);
    expect(Array.from(hostTreeOps.scaleBy(t, 0.25, 2).x!)).toEqual([1.5, 2]);
    expect(hostTreeOps.read([1, 2])).toEqual([1, 2]);
  });
});
