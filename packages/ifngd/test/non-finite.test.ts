/**
 * `onNonFinite` on every path: an update that overflows float32 from finite gradients, a learning-rate schedule
 * that returns NaN, and NaN outputs — a NaN Gram or NaN factors on a fresh batch, a NaN loss on a cached one —
 * throw `NonFiniteError` under `'throw'` with nothing changed, and are counted skips under `'skip'` (parameters,
 * cache and curvature as before); a schedule's negative rate is an `InvalidArgumentError` under both. FNGD and KFAC.
 */
import type { LayerFactors } from '@ifngd/fisher';
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fngd, InvalidArgumentError, kfac, NonFiniteError, type FngdOptimizer, type FngdOptions, type HostTree, type KfacOptions, type Schedule } from '../src/index.js';
import { batches, deviceFactors, disposeFactors, forwardBackward, initParams, KFAC_LAYERS, makeData, weightedGradient, type Mlp, type Pass } from './support/mlp.js';

let dev: LinalgDevice;
beforeAll(async () => {
  dev = await createDevice({ backend: 'cpu' });
});
afterAll(() => dev.destroy());

const model: Mlp = { din: 4, hidden: 6, dout: 3, loss: 'ce' };
const data = batches(model, makeData(model, 16, 11), 8);
const treeBytes = (t: HostTree): Buffer => Buffer.concat(Object.keys(t).sort().map((k) => Buffer.from(t[k]!.buffer.slice(0))));

/** A schedule that is 0.1 for `good` steps, then `bad`. */
const turns = (bad: number, good = 1): Schedule => (step) => (step < good ? 0.1 : bad);

const bads: [string, Partial<FngdOptions>, 'overflow' | 'nan-rate' | 'negative-rate'][] = [
  ['finite gradients, a rate that overflows float32', { learningRate: turns(1e300) }, 'overflow'],
  ['a schedule that returns NaN', { learningRate: turns(NaN) }, 'nan-rate'],
  ['a schedule that returns Infinity', { learningRate: turns(Infinity) }, 'nan-rate'],
  ['a schedule that returns a negative rate', { learningRate: turns(-0.1) }, 'negative-rate'],
];

describe('FNGD', () => {
  /** One good step, then the bad one on batch 1 (a miss: its request would cache an entry). */
  async function run(options: Partial<FngdOptions>) {
    const opt = fngd({ device: dev, damping: 0.1, momentum: 0.9, ...options });
    let params = initParams(model, 3);
    opt.init(params);
    const made: LayerFactors[][] = [];
    const request = async (key: number) => {
      const pass = forwardBackward(model, params, data[key]!);
      const c = await opt.coefficients({ batchKey: key, epoch: 1, n: 8, factors: () => (made.push(deviceFactors(dev, pass)), made.at(-1)!) });
      return { c, g: weightedGradient(pass, c.alpha), loss: pass.meanLoss };
    };
    const first = await request(0);
    params = opt.step(first.g, params, { coefficients: first.c, loss: first.loss });
    const bad = await request(1);
    made.forEach(disposeFactors);
    const before = { bytes: Buffer.from(opt.serialize()), stats: opt.stats, params: treeBytes(params) };
    return { opt, params, bad, before };
  }

  it.each(bads)("onNonFinite 'throw': %s → typed error, nothing changed", async (_name, options, kind) => {
    const { opt, params, bad, before } = await run(options);
    const Err = kind === 'negative-rate' ? InvalidArgumentError : NonFiniteError;
    expect(() => opt.step(bad.g, params, { coefficients: bad.c, loss: bad.loss })).toThrow(Err);
    expect({ bytes: Buffer.from(opt.serialize()), stats: opt.stats, params: treeBytes(params) }).toEqual(before);
    expect(opt.cached(1)).toBeUndefined();
    expect(before.stats.skippedSteps).toBe(0);
  });

  it.each(bads)("onNonFinite 'skip': %s → a counted skip (a negative rate still throws)", async (_name, options, kind) => {
    const { opt, params, bad, before } = await run({ ...options, onNonFinite: 'skip' });
    if (kind === 'negative-rate') {
      expect(() => opt.step(bad.g, params, { coefficients: bad.c, loss: bad.loss })).toThrow(InvalidArgumentError);
      expect(Buffer.from(opt.serialize())).toEqual(before.bytes);
      return;
    }
    const state = opt.state!;
    expect(opt.step(bad.g, params, { coefficients: bad.c, loss: bad.loss })).toBe(params);
    expect(opt.stats).toMatchObject({ steps: 1, skippedSteps: 1, cacheMisses: 2 });
    expect(opt.state!.inner).toBe(state.inner); // momentum and schedule position kept
  });

  it('a schedule that reaches 0 (warmup start, cosine end) is a valid step that moves nothing', async () => {
    const { opt, params, bad } = await run({ learningRate: turns(0), momentum: 0 });
    const next = opt.step(bad.g, params, { coefficients: bad.c, loss: bad.loss });
    expect(treeBytes(next)).toEqual(treeBytes(params));
    expect(opt.stats).toMatchObject({ steps: 2, skippedSteps: 0 });
  });
});

describe('KFAC', () => {
  async function run(options: Partial<KfacOptions>) {
    const opt = kfac({ device: dev, layers: KFAC_LAYERS, damping: 0.1, ...options });
    let params = initParams(model, 3);
    opt.init(params);
    const stepOn = async (p: HostTree, key: number) => {
      const pass = forwardBackward(model, p, data[key]!);
      const fs = deviceFactors(dev, pass);
      return opt.step(weightedGradient(pass, new Float64Array(8).fill(1 / 8)), p, { factors: fs }).finally(() => disposeFactors(fs));
    };
    params = await stepOn(params, 0);
    const before = { bytes: Buffer.from(opt.serialize()), stats: opt.stats };
    return { opt, params, stepOn, before };
  }

  it.each(bads)("onNonFinite 'throw': %s → typed error, nothing changed", async (_name, options, kind) => {
    const { opt, params, stepOn, before } = await run(options as Partial<KfacOptions>);
    await expect(stepOn(params, 1)).rejects.toBeInstanceOf(kind === 'negative-rate' ? InvalidArgumentError : NonFiniteError);
    expect({ bytes: Buffer.from(opt.serialize()), stats: opt.stats }).toEqual(before);
  });

  it.each(bads.filter((b) => b[2] !== 'negative-rate'))("onNonFinite 'skip': %s → a counted skip", async (_name, options) => {
    const { opt, params, stepOn } = await run({ ...(options as Partial<KfacOptions>), onNonFinite: 'skip' });
    expect(await stepOn(params, 1)).toBe(params);
    expect(opt.stats).toMatchObject({ steps: 1, skippedSteps: 1 });
  });
});

const dataNaN = batches(model, makeData(model, 16, 3), 8);

/** Factors whose output-gradients hold a NaN (what NaN outputs give). */
function nanFactors(pass: Pass): LayerFactors[] {
  const D = Float32Array.from(pass.layers[1].D);
  D[0] = NaN;
  return [
    { kind: 'dense', inputs: dev.matrix(Float32Array.from(pass.layers[0].A), [pass.n, pass.layers[0].din]), outputGrads: dev.matrix(Float32Array.from(pass.layers[0].D), [pass.n, pass.layers[0].dout]) },
    { kind: 'dense', inputs: dev.matrix(Float32Array.from(pass.layers[1].A), [pass.n, pass.layers[1].din]), outputGrads: dev.matrix(D, [pass.n, pass.layers[1].dout]) },
  ];
}

async function fngdStep(opt: FngdOptimizer, params: HostTree, key: number, epoch: number, o: { nanFactors?: boolean; loss?: number } = {}): Promise<HostTree> {
  const pass = forwardBackward(model, params, dataNaN[key]!);
  let made: LayerFactors[] | null = null;
  try {
    const c = await opt.coefficients({ batchKey: key, epoch, n: pass.n, factors: () => (made = o.nanFactors ? nanFactors(pass) : deviceFactors(dev, pass)) });
    return opt.step(weightedGradient(pass, c.alpha), params, { coefficients: c, loss: o.loss ?? pass.meanLoss });
  } finally {
    if (made) disposeFactors(made);
  }
}

describe('NaN outputs, FNGD: a NaN Gram on a fresh batch, a NaN loss on a cached one', () => {
  it("a NaN Gram on a fresh batch: 'throw' throws at coefficients(), 'skip' serves zero coefficients whose step is a counted skip", async () => {
    for (const onNonFinite of ['throw', 'skip'] as const) {
      const opt = fngd({ device: dev, learningRate: 0.1, damping: 0.1, onNonFinite });
      const params = initParams(model, 1);
      opt.init(params);
      const before = Buffer.from(opt.serialize());
      if (onNonFinite === 'throw') {
        await expect(fngdStep(opt, params, 0, 0, { nanFactors: true })).rejects.toThrow(NonFiniteError);
        expect(Buffer.from(opt.serialize())).toEqual(before);
        continue;
      }
      const pass = forwardBackward(model, params, dataNaN[0]!);
      const made = nanFactors(pass);
      const c = await opt.coefficients({ batchKey: 0, epoch: 0, n: pass.n, factors: () => made });
      disposeFactors(made);
      expect(c.skipped).toBe(true);
      expect(Array.from(c.alpha).every((a) => a === 0)).toBe(true);
      const next = opt.step(weightedGradient(pass, c.alpha), params, { coefficients: c, loss: pass.meanLoss });
      expect(next).toBe(params);
      expect(opt.stats).toMatchObject({ skippedSteps: 1, steps: 0, factorizations: 0, cacheMisses: 0, cachedBatches: 0 });
      // the next request computes the batch afresh and trains
      const after = await fngdStep(opt, params, 0, 0);
      expect(after).not.toBe(params);
      expect(opt.stats).toMatchObject({ skippedSteps: 1, steps: 1, factorizations: 1 });
    }
  });

  it("a NaN loss on a cached batch: 'throw' throws with nothing changed, 'skip' is a counted skip (the cache hit commits)", async () => {
    for (const onNonFinite of ['throw', 'skip'] as const) {
      const opt = fngd({ device: dev, learningRate: 0.1, damping: 0.1, onNonFinite });
      let params = initParams(model, 2);
      opt.init(params);
      params = await fngdStep(opt, params, 0, 0);
      const before = Buffer.from(opt.serialize());
      const entry = opt.cached(0);
      if (onNonFinite === 'throw') {
        await expect(fngdStep(opt, params, 0, 1, { loss: NaN })).rejects.toThrow(/loss is NaN/);
        expect(Buffer.from(opt.serialize())).toEqual(before);
        continue;
      }
      const next = await fngdStep(opt, params, 0, 1, { loss: NaN });
      expect(next).toBe(params);
      expect(opt.stats).toMatchObject({ skippedSteps: 1, steps: 1, cacheHits: 1 });
      expect(opt.cached(0)?.alpha).toEqual(entry?.alpha);
    }
  });
});

describe('NaN outputs, KFAC: NaN factors, a NaN loss', () => {
  const run = async (onNonFinite: 'throw' | 'skip', o: { nanFactors?: boolean; loss?: number }) => {
    const opt = kfac({ device: dev, layers: KFAC_LAYERS, learningRate: 0.1, onNonFinite });
    let params = initParams(model, 3);
    opt.init(params);
    const pass0 = forwardBackward(model, params, dataNaN[0]!);
    const f0 = deviceFactors(dev, pass0);
    params = await opt.step(weightedGradient(pass0, new Float64Array(pass0.n).fill(1 / pass0.n)), params, { factors: f0, loss: pass0.meanLoss }).finally(() => disposeFactors(f0));
    const before = Buffer.from(opt.serialize());
    const pass = forwardBackward(model, params, dataNaN[1]!);
    const fs = o.nanFactors ? nanFactors(pass) : deviceFactors(dev, pass);
    const step = opt
      .step(weightedGradient(pass, new Float64Array(pass.n).fill(1 / pass.n)), params, { factors: fs, loss: o.loss ?? pass.meanLoss })
      .finally(() => disposeFactors(fs));
    return { opt, params, before, step };
  };

  for (const [what, o] of [
    ['NaN factors', { nanFactors: true }],
    ['a NaN loss', { loss: NaN }],
  ] as const) {
    it(`${what}: 'throw' throws with nothing changed, 'skip' is a counted skip with the curvature as before`, async () => {
      const t = await run('throw', o);
      await expect(t.step).rejects.toThrow(NonFiniteError);
      expect(Buffer.from(t.opt.serialize())).toEqual(t.before);
      const s = await run('skip', o);
      const layer = s.opt.layerState(0);
      expect(await s.step).toBe(s.params);
      expect(s.opt.stats).toMatchObject({ skippedSteps: 1, steps: 1, factorUpdates: 1 });
      expect(s.opt.layerState(0)).toEqual(layer);
      s.opt.dispose();
      t.opt.dispose();
    });
  }
});
