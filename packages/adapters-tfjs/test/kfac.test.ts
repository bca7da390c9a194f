/**
 * KFAC through `FngdTrainer` (tfjs cpu): a trainer step equals `kfac()` driven directly with the same factors
 * (capture + upload) and the mean-loss gradient of tfjs's own autodiff; training reduces the loss; options,
 * rejected steps, checkpoints and tensor hygiene.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { createDevice, type LinalgDevice, type Matrix } from '@ifngd/linalg-gpu';
import { InvalidArgumentError, kfac, NonFiniteError, type HostTree, type KfacLayer, type KfacStepExtras } from 'ifngd';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdapterArgumentError, InvalidOptionError, AdapterCheckpointError, FngdTrainer, fromLayersModel, softmaxCrossEntropy, type FunctionModel, type TrainerKfacOptions } from '../src/index.js';
import { capture, PatchFilters, uploadFactors } from '../src/internal.js';
import { identityTap } from '../src/model.js';
import { mixSeed, sampleTargets } from 'ifngd/internal';
import { classData, cnn, flatParams, mlp, relErr, useCpu, variablesOf } from './helpers.js';
import { bnMlp } from './support/zoo.js';

beforeAll(useCpu);

const OPTIONS: TrainerKfacOptions = { learningRate: 0.2, damping: 0.01, factorEvery: 2, inverseEvery: 3, momentum: 0.9, klClip: 0.01 };

/** Batch `b` of `k` samples. */
const slice = (t: Tensor, b: number, k: number): Tensor => tf.slice(t, [b * k], [k]);

/** `kfac()` over a LayersModel's taps, as the trainer builds it, and its variables read as a host tree. */
function kfacTwin(model: LayersModel, options: TrainerKfacOptions, dev: LinalgDevice) {
  const compiled = fromLayersModel(model, 'softmax');
  const vars = compiled.variables;
  const names = compiled.names as readonly string[];
  const nameOf = (v: tf.Variable): string => names[vars.indexOf(v)] as string;
  const layers: KfacLayer[] = compiled.taps.map((t) => ({ weight: nameOf(t.kernel), bias: t.bias ? nameOf(t.bias) : null, layout: 'in-out' }));
  const opt = kfac({ ...options, device: dev, layers });
  const host = (ts: readonly Tensor[]): HostTree => Object.fromEntries(ts.map((t, i) => [names[i], Float32Array.from(t.dataSync())]));
  opt.init(host(vars));
  return { compiled, vars, names, opt, host };
}

/**
 * One KFAC step of `twin` driven directly on model `b`: the package's capture of `factorTargets` (the batch's own
 * unless given) for the factors when due, `tf.variableGrads` for the mean-loss gradient, `extras` passed on; the
 * variables take the new parameters.
 */
async function directStep(
  twin: ReturnType<typeof kfacTwin>,
  b: LayersModel,
  dev: LinalgDevice,
  filters: PatchFilters,
  xb: Tensor,
  yb: Tensor,
  o: { factorTargets?: Tensor; extras?: Partial<KfacStepExtras<HostTree>> } = {},
): Promise<void> {
  const { compiled, vars, names, opt, host } = twin;
  const made: Matrix[] = [];
  const cap = opt.factorsDue ? capture(compiled, softmaxCrossEntropy, xb, o.factorTargets ?? yb) : null;
  try {
    const factors = cap ? await uploadFactors(dev, cap, filters, () => new Float32Array(0), made) : undefined;
    const { value, grads } = tf.variableGrads(() => tf.mean(softmaxCrossEntropy(b.apply(xb) as Tensor, yb)) as tf.Scalar, [...vars]);
    try {
      const next = await opt.step(host(vars.map((v) => grads[v.name] as Tensor)), host(vars), { ...(factors ? { factors } : {}), loss: value.dataSync()[0] as number, ...o.extras });
      vars.forEach((v, i) => v.assign(tf.tensor(next[names[i] as string] as Float32Array, v.shape)));
    } finally {
      tf.dispose([value, ...Object.values(grads)]);
    }
  } finally {
    cap?.dispose();
    made.forEach((m) => m.dispose());
  }
}

/** `steps` KFAC steps driven directly: the package's capture for the factors, `tf.variableGrads` for the gradient. */
async function direct(model: LayersModel, x: Tensor, y: Tensor, k: number, steps: number): Promise<{ steps: number; factorUpdates: number; inverseRefreshes: number }> {
  const dev = await createDevice({ backend: 'cpu' });
  const twin = kfacTwin(model, OPTIONS, dev);
  const { opt } = twin;
  const filters = new PatchFilters();
  for (let s = 0; s < steps; s++) {
    const xb = slice(x, s, k);
    const yb = slice(y, s, k);
    await directStep(twin, model, dev, filters, xb, yb);
    tf.dispose([xb, yb]);
  }
  const st = opt.stats;
  filters.dispose();
  opt.dispose();
  dev.destroy();
  return { steps: st.steps, factorUpdates: st.factorUpdates, inverseRefreshes: st.inverseRefreshes };
}

describe('a KFAC trainer step', () => {
  const cases: [string, () => LayersModel, number[]][] = [
    ['MLP (Dense, tanh)', () => mlp(6, 5, 3, 21), [6]],
    ['CNN (conv valid + pool + conv same without bias + dense)', () => cnn(22), [6, 6, 2]],
  ];
  for (const [name, make, shape] of cases) {
    it(`equals kfac() driven directly with the same factors and gradients (${name}, 5 steps)`, async () => {
      const k = 7;
      const steps = 5;
      const [x, y] = classData(k * steps, shape, 3, 31);
      const a = make();
      const b = make();
      expect(flatParams(variablesOf(a))).toEqual(flatParams(variablesOf(b)));
      const tr = await FngdTrainer.create(a, { loss: 'softmax-cross-entropy', kfac: OPTIONS });
      const fresh: boolean[] = [];
      for (let s = 0; s < steps; s++) {
        const xb = slice(x, s, k);
        const yb = slice(y, s, k);
        fresh.push((await tr.trainBatch(xb, yb, { batchKey: s })).fresh);
        tf.dispose([xb, yb]);
      }
      const want = await direct(b, x, y, k, steps);
      expect(relErr(flatParams(variablesOf(a)), flatParams(variablesOf(b)))).toBeLessThan(1e-5);
      expect(flatParams(variablesOf(a))).not.toEqual(flatParams(variablesOf(make())));
      expect(tr.kfacStats).toMatchObject({ ...want, steps: 5, factorUpdates: 3, inverseRefreshes: 2 });
      expect(fresh).toEqual([true, false, false, true, false]);
      expect(tr.stats).toBeNull();
      expect(tr.optimizer).toBeNull();
      expect(tr.kfacOptimizer?.layers.map((l) => l.layout)).toEqual(tr.model.taps?.map(() => 'in-out'));
      tr.dispose();
      tf.dispose([x, y]);
    });
  }

  it("fisher: 'sampled' takes the factors on targets drawn from softmax(z), seeded by the step: equal to kfac() fed that capture", async () => {
    const k = 7;
    const steps = 3;
    const [x, y] = classData(k * steps, [6], 3, 41);
    const a = mlp(6, 5, 3, 23);
    const b = mlp(6, 5, 3, 23);
    const sampled = { ...OPTIONS, factorEvery: 1, inverseEvery: 1 };
    const tr = await FngdTrainer.create(a, { loss: 'softmax-cross-entropy', kfac: { ...sampled, fisher: 'sampled' } });
    // the same steps driven directly, the capture on the sampled targets, the gradient on the batch's
    const dev = await createDevice({ backend: 'cpu' });
    const twin = kfacTwin(b, sampled, dev);
    const { compiled, opt } = twin;
    const filters = new PatchFilters();
    for (let s = 0; s < steps; s++) {
      const xb = slice(x, s, k);
      const yb = slice(y, s, k);
      await tr.trainBatch(xb, yb, { batchKey: s });
      const z = compiled.forward(xb, identityTap, true);
      const ys = tf.tensor(sampleTargets('softmax-cross-entropy', z.dataSync() as Float32Array, k, mixSeed(0x6b666163, s)), [k, 3]);
      await directStep(twin, b, dev, filters, xb, yb, { factorTargets: ys });
      tf.dispose([xb, yb, z, ys]);
    }
    expect(relErr(flatParams(variablesOf(a)), flatParams(variablesOf(b)))).toBeLessThan(1e-5);
    // a custom loss has no predictive distribution to draw from
    await expect(FngdTrainer.create(mlp(), { loss: (o, t) => softmaxCrossEntropy(o, t), kfac: { fisher: 'sampled' } })).rejects.toThrow(/needs a named loss/);
    tr.dispose();
    filters.dispose();
    opt.dispose();
    dev.destroy();
    tf.dispose([x, y]);
  });

  it('trains: the loss falls on a small problem (KFAC_DEFAULTS but the learning rate)', async () => {
    const model = mlp(6, 8, 3, 5);
    const [x, y] = classData(64, [6], 3, 8);
    const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy', kfac: { learningRate: 0.3 } });
    const h = (await tr.fit(x, y, { epochs: 15, batchSize: 16, seed: 1 })).logs;
    const first = h[0]?.trainLoss ?? NaN;
    const last = h.at(-1)?.trainLoss ?? NaN;
    expect(last).toBeLessThan(0.7 * first);
    expect(tr.kfacStats?.steps).toBe(60);
    expect(tr.kfacStats?.inverseRefreshes).toBe(6); // every 10 steps (default)
    tr.dispose();
    tf.dispose([x, y]);
  });
});

describe('KFAC options', () => {
  const model = (): LayersModel => mlp(6, 5, 3, 1);

  it.each([
    ['kfac and fngd', { kfac: {}, fngd: {} }, InvalidOptionError, /at most one of `fngd`, `kfac` and `optimizer` \(got fngd, kfac\)/],
    ['kfac and a tfjs optimizer', { kfac: {}, optimizer: tf.train.sgd(0.1) }, InvalidOptionError, /got kfac, optimizer/],
    ['kfac not an object', { kfac: 3 }, InvalidOptionError, /`kfac` must be an options object/],
    ['kfac.layers given', { kfac: { layers: [] } }, InvalidArgumentError, /kfac.layers is set by the trainer/],
    ['a bad KFAC value', { kfac: { inverseEvery: 0 } }, InvalidArgumentError, /inverseEvery must be an integer ≥ 1/],
  ])('%s is refused', async (_name, extra, type, message) => {
    const m = model();
    const before = flatParams(variablesOf(m));
    const p = FngdTrainer.create(m, { loss: 'softmax-cross-entropy', ...(extra as object) });
    await expect(p).rejects.toThrow(type);
    await expect(FngdTrainer.create(m, { loss: 'softmax-cross-entropy', ...(extra as object) })).rejects.toThrow(message);
    expect(flatParams(variablesOf(m))).toEqual(before);
  });

  it('a FunctionModel without taps is refused; with taps it trains', async () => {
    const w = tf.variable(tf.randomNormal([4, 2], 0, 0.5, 'float32', 3));
    const fm: FunctionModel = { variables: [w], names: ['w'], forward: (x, tap) => tap.dense(tf.matMul(x as tf.Tensor2D, w), x, { kernel: w }) };
    await expect(FngdTrainer.create(fm, { loss: 'mse', kfac: {} })).rejects.toThrow(/FunctionModel declares them in `taps`/);
    const tr = await FngdTrainer.create({ ...fm, taps: [{ kernel: w }] }, { loss: 'mse', kfac: { learningRate: 0.1 } });
    expect(tr.kfacOptimizer?.layers).toEqual([{ weight: 'w', bias: null, layout: 'in-out' }]);
    const x = tf.randomNormal([8, 4], 0, 1, 'float32', 4);
    const y = tf.randomNormal([8, 2], 0, 1, 'float32', 5);
    const before = Array.from(w.dataSync());
    await tr.trainBatch(x, y, { batchKey: 0 });
    expect(Array.from(w.dataSync())).not.toEqual(before);
    tr.dispose();
    tf.dispose([x, y, w]);
  });
});

describe('a rejected KFAC step changes nothing', () => {
  for (const [when, at] of [
    ['a factor step', 2],
    ['a gradient-only step', 3],
  ] as const) {
    it(`non-finite inputs on ${when}: parameters, optimizer state and tensors as before; training continues like an undisturbed twin`, async () => {
      const [x, y] = classData(40, [6], 3, 12);
      const bad = tf.fill([8, 6], NaN);
      const a = mlp(6, 5, 3, 40);
      const b = mlp(6, 5, 3, 40);
      const ta = await FngdTrainer.create(a, { loss: 'softmax-cross-entropy', kfac: OPTIONS });
      const tb = await FngdTrainer.create(b, { loss: 'softmax-cross-entropy', kfac: OPTIONS });
      const step = async (t: FngdTrainer, s: number): Promise<void> => {
        const xb = slice(x, s, 8);
        const yb = slice(y, s, 8);
        await t.trainBatch(xb, yb, { batchKey: s });
        tf.dispose([xb, yb]);
      };
      for (let s = 0; s < at; s++) {
        await step(ta, s);
        await step(tb, s);
      }
      expect(ta.kfacOptimizer?.factorsDue).toBe(at === 2);
      const params = flatParams(variablesOf(a));
      const state = ta.serializeState();
      const tensors = tf.memory().numTensors;
      const yb = slice(y, 0, 8);
      await expect(ta.trainBatch(bad, yb, { batchKey: 'bad' })).rejects.toThrow(NonFiniteError);
      yb.dispose();
      expect(tf.memory().numTensors).toBe(tensors);
      expect(flatParams(variablesOf(a))).toEqual(params);
      expect(ta.serializeState()).toEqual(state);
      for (let s = at; s < 5; s++) {
        await step(ta, s);
        await step(tb, s);
      }
      expect(flatParams(variablesOf(a))).toEqual(flatParams(variablesOf(b)));
      // (the checkpoints differ only in the layer names tfjs numbers per model)
      expect(ta.kfacStats).toEqual(tb.kfacStats);
      for (const l of [0, 1]) expect(ta.kfacOptimizer?.layerState(l)).toEqual(tb.kfacOptimizer?.layerState(l));
      ta.dispose();
      tb.dispose();
      tf.dispose([x, y, bad]);
    });
  }
});

describe('KFAC checkpoints', () => {
  const saveTo = async (t: FngdTrainer): Promise<tf.io.ModelArtifacts> => {
    let saved: tf.io.ModelArtifacts | null = null;
    await t.save(
      tf.io.withSaveHandler(async (art) => {
        saved = art;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    return saved as unknown as tf.io.ModelArtifacts;
  };

  it('save → load → restore → continue equals never stopping (bit-identical)', async () => {
    const [x, y] = classData(48, [6], 3, 13);
    const a = mlp(6, 8, 3, 12);
    const ta = await FngdTrainer.create(a, { loss: 'softmax-cross-entropy', kfac: OPTIONS });
    await ta.fit(x, y, { epochs: 4, batchSize: 16, seed: 2 });
    const want = flatParams(variablesOf(a));
    const b = mlp(6, 8, 3, 12);
    const tb = await FngdTrainer.create(b, { loss: 'softmax-cross-entropy', kfac: OPTIONS });
    await tb.fit(x, y, { epochs: 2, batchSize: 16, seed: 2 });
    const art = await saveTo(tb);
    tb.dispose();
    const c = await tfl.loadLayersModel(tf.io.fromMemory(art));
    const tc = await FngdTrainer.create(c, { loss: 'softmax-cross-entropy', kfac: OPTIONS });
    tc.restore();
    expect(tc.epoch).toBe(2);
    expect(tc.kfacStats?.steps).toBe(6);
    await tc.fit(x, y, { epochs: 2, batchSize: 16, seed: 2 });
    expect(flatParams(variablesOf(c))).toEqual(want);
    ta.dispose();
    tc.dispose();
    tf.dispose([x, y]);
  });

  it('an FNGD checkpoint is refused by a KFAC trainer and vice versa (AdapterCheckpointError, nothing changes)', async () => {
    const [x, y] = classData(16, [6], 3, 14);
    const f = await FngdTrainer.create(mlp(6, 5, 3, 2), { loss: 'softmax-cross-entropy', fngd: { learningRate: 0.1, damping: 1 } });
    const k = await FngdTrainer.create(mlp(6, 5, 3, 2), { loss: 'softmax-cross-entropy', kfac: OPTIONS });
    await f.fit(x, y, { epochs: 1, batchSize: 8 });
    await k.fit(x, y, { epochs: 1, batchSize: 8 });
    const fs = f.serializeState();
    const ks = k.serializeState();
    expect(() => k.restoreState(fs, 5)).toThrow(AdapterCheckpointError);
    expect(() => k.restoreState(fs)).toThrow(/an FNGD checkpoint; the trainer trains with KFAC/);
    expect(() => f.restoreState(ks, 5)).toThrow(/a KFAC checkpoint; the trainer trains with FNGD/);
    expect(k.serializeState()).toEqual(ks);
    expect(f.serializeState()).toEqual(fs);
    expect([k.epoch, f.epoch]).toEqual([1, 1]);
    // through model metadata as well
    const art = await saveTo(f);
    const m = await tfl.loadLayersModel(tf.io.fromMemory(art));
    const km = await FngdTrainer.create(m, { loss: 'softmax-cross-entropy', kfac: OPTIONS });
    expect(() => km.restore()).toThrow(AdapterCheckpointError);
    expect(km.epoch).toBe(0);
    f.dispose();
    k.dispose();
    km.dispose();
    tf.dispose([x, y]);
  });
});

describe('KFAC tensor hygiene', () => {
  for (const conv of [false, true]) {
    it(`tf.memory().numTensors is flat over 50 steps (${conv ? 'CNN' : 'MLP'})`, async () => {
      const model = conv ? cnn(3) : mlp(6, 8, 3, 6);
      const [x, y] = conv ? classData(40, [6, 6, 2], 3) : classData(40, [6], 3);
      const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy', kfac: { ...OPTIONS, weightDecay: 1e-4 } });
      await tr.fit(x, y, { epochs: 1, batchSize: 8, seed: 3 }); // warm-up: patch filters exist
      const start = tf.memory().numTensors;
      await tr.fit(x, y, { epochs: 10, batchSize: 8, seed: 3 }); // 50 steps
      expect(tf.memory().numTensors).toBe(start);
      expect(tr.kfacStats?.steps).toBe(55);
      tr.evaluate(x, y);
      expect(tf.memory().numTensors).toBe(start);
      tr.dispose();
      tf.dispose([x, y]);
    });
  }
});

describe("kfac: { adaptive } (kfac-jax's adaptive mode)", () => {
  it.each([
    ['the quadratic model', { damping: 0.05, inverseEvery: 1, adaptive: { interval: 2 } }],
    ["kfac-jax's stochastic recipe's", { damping: 0.05, inverseEvery: 1, learningRate: 0.2, momentum: 0.9, adaptive: { interval: 2 } }],
  ] as [string, TrainerKfacOptions][])('equals kfac() driven directly (learning rate and momentum: %s), its loss at the proposed parameters from the model, λ adapting every interval', async (_, options) => {
    const k = 7;
    const steps = 4;
    const [x, y] = classData(k * steps, [6], 3, 51);
    const a = mlp(6, 5, 3, 24);
    const b = mlp(6, 5, 3, 24);
    const tr = await FngdTrainer.create(a, { loss: 'softmax-cross-entropy', kfac: options });
    const dev = await createDevice({ backend: 'cpu' });
    const twin = kfacTwin(b, options, dev);
    const { vars, names, opt } = twin;
    const filters = new PatchFilters();
    const asked: number[] = [];
    for (let s = 0; s < steps; s++) {
      const xb = slice(x, s, k);
      const yb = slice(y, s, k);
      await tr.trainBatch(xb, yb, { batchKey: s });
      const before = vars.map((v) => tf.clone(v));
      // the batch's mean loss at proposed parameters, the variables restored after
      const lossAt = async (p: HostTree): Promise<number> => {
        asked.push(s);
        vars.forEach((v, i) => v.assign(tf.tensor(p[names[i] as string] as Float32Array, v.shape)));
        const l = tf.tidy(() => tf.mean(softmaxCrossEntropy(b.apply(xb) as Tensor, yb)).dataSync()[0] as number);
        vars.forEach((v, i) => v.assign(before[i] as Tensor));
        return l;
      };
      await directStep(twin, b, dev, filters, xb, yb, { extras: { lossAt } });
      tf.dispose([xb, yb, ...before]);
    }
    expect(asked).toEqual([1, 3]);
    expect(relErr(flatParams(variablesOf(a)), flatParams(variablesOf(b)))).toBeLessThan(1e-4);
    expect(tr.kfacOptimizer!.stats.adaptive!.damping).toBeCloseTo(opt.stats.adaptive!.damping, 10);
    if (options.learningRate === undefined) expect(tr.kfacOptimizer!.stats.adaptive!.learningRate).toBeGreaterThan(0);
    else expect(tr.kfacOptimizer!.stats.adaptive).toMatchObject({ learningRate: options.learningRate, momentum: options.momentum });
    await expect(FngdTrainer.create(mlp(), { loss: 'softmax-cross-entropy', kfac: { adaptive: true, clipNorm: 1 } })).rejects.toThrow(/clipNorm does not apply in the adaptive mode/);
    filters.dispose();
    opt.dispose();
    dev.destroy();
    tr.dispose();
    tf.dispose([x, y]);
  });

  it("the loss at the proposed parameters leaves the variables and the step's moving statistics as the step's own", async () => {
    const [x, y] = classData(10, [5], 3, 52);
    const a = bnMlp(5, 4, 3, 7);
    const twin = bnMlp(5, 4, 3, 7);
    // interval 1: every step takes the loss at its proposed parameters (a training-mode forward that computes other
    // moving statistics); a twin that does not move its parameters commits the statistics of the same forward
    const tr = await FngdTrainer.create(a, { loss: 'softmax-cross-entropy', kfac: { damping: 0.1, adaptive: { interval: 1 } } });
    const still = await FngdTrainer.create(twin, { loss: 'softmax-cross-entropy', optimizer: { kind: 'sgd', learningRate: 1e-30 } });
    await tr.trainBatch(x, y, { batchKey: 0 });
    await still.trainBatch(x, y, { batchKey: 0 });
    const moving = (m: LayersModel) => m.getLayer('bn').getWeights().slice(2).map((t) => Array.from(t.dataSync()));
    expect(moving(a)).toEqual(moving(twin));
    expect(flatParams(variablesOf(a))).not.toEqual(flatParams(variablesOf(twin)));
    tr.dispose();
    still.dispose();
    tf.dispose([x, y]);
  });

  it('a model that keeps training state without isolatedState is refused at the loss at proposed parameters, nothing changed', async () => {
    const [x, y] = classData(10, [5], 3, 53);
    const compiled = fromLayersModel(bnMlp(5, 4, 3, 8), 'softmax');
    const { isolatedState: _dropped, ...rest } = compiled;
    const model: FunctionModel = rest;
    const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy', kfac: { adaptive: { interval: 1 } } });
    const before = flatParams([...model.variables]);
    await expect(tr.trainBatch(x, y, { batchKey: 0 })).rejects.toThrow(/keeps training state \(commitState\) without isolatedState/);
    expect(flatParams([...model.variables])).toEqual(before);
    expect(tr.kfacStats?.steps).toBe(0);
    tr.dispose();
    tf.dispose([x, y]);
  });
});
