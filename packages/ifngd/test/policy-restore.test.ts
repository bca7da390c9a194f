/**
 * Checkpoints across refresh policies, every pair of first-epoch, everyEpochs, always, drift and auto: the cache,
 * counters and transformation state are kept; the target policy's own state is kept from the same kind and
 * fresh from another (drift's probe countdown, auto's learned model). A checkpoint whose policy state
 * contradicts its policy is refused with `CheckpointError`, nothing changed.
 */
import type { LayerFactors } from '@ifngd/fisher';
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, fngd, type Coefficients, type FngdOptimizer, type HostTree, type RefreshPolicy } from '../src/index.js';
import { decodeCheckpoint, encodeCheckpoint } from '../src/checkpoint.js';
import { batches, deviceFactors, disposeFactors, forwardBackward, initParams, makeData, weightedGradient, type Mlp } from './support/mlp.js';

let dev: LinalgDevice;
beforeAll(async () => {
  dev = await createDevice({ backend: 'cpu' });
});
afterAll(() => dev.destroy());

const model: Mlp = { din: 4, hidden: 6, dout: 3, loss: 'ce' };
const data = batches(model, makeData(model, 24, 5), 8); // 3 batches

const POLICIES: Record<string, RefreshPolicy> = {
  'first-epoch': 'first-epoch',
  every: { everyEpochs: 2 },
  always: 'always',
  drift: { drift: { probeEvery: 4, maxProbeEvery: 8 } },
  auto: { auto: { price: 0.5, warmup: 2 } },
};
const KINDS = Object.keys(POLICIES);
const make = (kind: string): FngdOptimizer => fngd({ device: dev, learningRate: 0.2, damping: 0.1, momentum: 0.9, refresh: POLICIES[kind]! });

/** One request + step on batch `key`; returns the new parameters, the coefficients and whether factors were built. */
async function stepOn(opt: FngdOptimizer, params: HostTree, key: number, epoch: number): Promise<{ params: HostTree; c: Coefficients; computed: boolean }> {
  const pass = forwardBackward(model, params, data[key]!);
  let made: LayerFactors[] | null = null;
  const c = await opt.coefficients({ batchKey: key, epoch, n: 8, factors: () => (made = deviceFactors(dev, pass)) }).finally(() => made && disposeFactors(made));
  return { params: opt.step(weightedGradient(pass, c.alpha), params, { coefficients: c, loss: pass.meanLoss }), c, computed: made !== null };
}

/** A checkpoint of `kind` after two epochs, with the parameters it reached. */
async function trained(kind: string): Promise<{ opt: FngdOptimizer; params: HostTree; bytes: Uint8Array }> {
  const opt = make(kind);
  let params = initParams(model, 6);
  opt.init(params);
  for (let epoch = 1; epoch <= 2; epoch++) for (const key of [0, 1, 2]) params = (await stepOn(opt, params, key, epoch)).params;
  return { opt, params, bytes: opt.serialize() };
}

const pairs = KINDS.flatMap((from) => KINDS.map((to) => [from, to] as const));

describe('restore across refresh policies', () => {
  it.each(pairs)('%s → %s', async (from, to) => {
    const a = await trained(from);
    const b = make(to);
    b.init(initParams(model, 7));
    b.restore(a.bytes);
    // cache and counters kept
    for (const k of [0, 1, 2]) expect(b.cached(k)).toEqual(a.opt.cached(k));
    const expectedInterval = to === 'drift' ? (from === 'drift' ? a.opt.stats.drift.probeInterval : 4) : 0;
    expect(b.stats).toEqual({ ...a.opt.stats, drift: { ...a.opt.stats.drift, probeInterval: expectedInterval } });
    if (from === to) expect(Buffer.from(b.serialize())).toEqual(Buffer.from(a.bytes)); // same kind: nothing converted
    // the next visit of batch 0 is served by the target policy, from the kept entry
    const next = await stepOn(b, a.params, 0, 2);
    const stale = a.opt.cached(0)!.stale;
    if (from === to) {
      const twin = await stepOn(a.opt, a.params, 0, 2);
      expect(next.c.source).toBe(twin.c.source);
      expect(Buffer.from(b.serialize())).toEqual(Buffer.from(a.opt.serialize()));
    } else {
      const expected = stale ? 'refresh' : { 'first-epoch': 'hit', every: 'hit', always: 'refresh', drift: 'hit', auto: 'refresh' }[to];
      expect(next.c.source).toBe(expected);
      if (to === 'auto') expect(b.stats.auto.refreshes.warmup).toBe(a.opt.stats.auto.refreshes.warmup + (stale ? 0 : 1)); // a fresh model warms up
    }
    if (next.c.source === 'hit') expect(next.c.alpha).toEqual(a.opt.cached(0)!.alpha);
    // and it checkpoints as its own policy
    const c = make(to);
    c.init(initParams(model, 7));
    c.restore(b.serialize());
    expect(Buffer.from(c.serialize())).toEqual(Buffer.from(b.serialize()));
  });

  it("'first-epoch' → 'drift' keeps reusing (a probe at every request would be 'always')", async () => {
    const a = await trained('first-epoch');
    const b = make('drift');
    b.init(a.params);
    b.restore(a.bytes);
    let params = a.params;
    const computed: boolean[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await stepOn(b, params, i % 3, 3);
      computed.push(r.computed);
      params = r.params;
    }
    expect(computed).toEqual([false, false, false, false, true]); // four reused requests, then the probe
    expect(b.stats.drift.probes).toBe(1);
  });

  it("a drift countdown is clamped into the target's [minProbeEvery, maxProbeEvery]", async () => {
    const a = await trained('drift');
    const b = fngd({ device: dev, learningRate: 0.2, damping: 0.1, momentum: 0.9, refresh: { drift: { probeEvery: 2, minProbeEvery: 1, maxProbeEvery: 2 } } });
    b.init(a.params);
    b.restore(a.bytes);
    expect(a.opt.stats.drift.probeInterval).toBeGreaterThan(2);
    expect(b.stats.drift.probeInterval).toBe(2);
  });
});

describe('checkpoints without a recorded policy (older versions) and corrupt policy state', () => {
  const rewrite = (bytes: Uint8Array, f: (p: Record<string, any>) => void): Uint8Array => {
    const p = decodeCheckpoint(bytes) as Record<string, any>;
    f(p);
    return encodeCheckpoint(p);
  };

  it.each(KINDS)('an unrecorded %s checkpoint is recognised by its state', async (from) => {
    const a = await trained(from);
    const old = rewrite(a.bytes, (p) => delete p.policy);
    for (const to of KINDS) {
      const [viaOld, viaNew] = [make(to), make(to)];
      viaOld.init(a.params);
      viaNew.init(a.params);
      viaOld.restore(old);
      viaNew.restore(a.bytes);
      expect(viaOld.stats).toEqual(viaNew.stats);
      expect((await stepOn(viaOld, a.params, 1, 2)).c.source).toBe((await stepOn(viaNew, a.params, 1, 2)).c.source);
    }
  });

  const corrupt: [string, string, (p: Record<string, any>) => void][] = [
    ['drift with probe interval 0', 'first-epoch', (p) => (p.policy = 'drift')],
    ['first-epoch with a probe countdown', 'drift', (p) => (p.policy = 'first-epoch')],
    ['auto without its state', 'first-epoch', (p) => (p.policy = 'auto')],
    ['always with auto state', 'auto', (p) => (p.policy = 'always')],
    ['an unknown policy', 'always', (p) => (p.policy = 'sometimes')],
  ];
  it.each(corrupt)('%s → CheckpointError, nothing changed', async (_name, from, f) => {
    const a = await trained(from);
    const b = make('drift');
    b.init(a.params);
    const before = { bytes: Buffer.from(b.serialize()), stats: b.stats };
    let error: unknown;
    try {
      b.restore(rewrite(a.bytes, f));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as CheckpointError).code).toBe('CHECKPOINT_FORMAT');
    expect({ bytes: Buffer.from(b.serialize()), stats: b.stats }).toEqual(before);
  });
});
