/**
 * KFAC through `OnnxTrainer` (cpu): the layer layouts are those of the ONNX weights (checked against the
 * gradient graph), a trainer step equals `kfac()` driven directly with the same factor and gradient graphs,
 * training reduces the loss, bad options, rejected steps and checkpoints.
 */
import { createDevice, type LinalgDevice, type Matrix } from '@ifngd/linalg-gpu';
import { CheckpointError, InvalidArgumentError, kfac, NonFiniteError, type HostTree } from 'ifngd';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeModel, isKronecker } from '../src/analyze.js';
import { buildGraph, NAMES } from '../src/builder.js';
import { InvalidOptionError, OnnxTrainer, type OnnxKfacOptions } from '../src/index.js';
import { buildModel } from '../src/internal.js';
import { kfacLayersOf, uploadLayerFactors } from '../src/kfac.js';
import { decodeModel, tensorFloats } from '../src/proto.js';
import { testModels, type TestModel } from './models.js';
import { rng } from './reference.js';
import { mixSeed, sampleTargets } from 'ifngd/internal';

const OPTIONS: OnnxKfacOptions = { learningRate: 0.2, damping: 0.01, factorEvery: 2, inverseEvery: 3, momentum: 0.9, klClip: 0.01 };
const models = testModels(4);

let device: LinalgDevice;
beforeAll(async () => {
  device = await createDevice({ backend: 'cpu' });
});
afterAll(() => device.destroy());

interface Batch {
  readonly x: ort.Tensor;
  /** Float targets (one-hot for the cross-entropy). */
  readonly t: ort.Tensor;
}

function batch(m: TestModel, n: number, seed: number, fill?: number): Batch {
  const r = rng(seed);
  const count = n * m.input.dims.reduce((a, b) => a * b, 1);
  const xs = Float32Array.from({ length: count }, (_, i) => (m.input.ids ? (i * 7 + seed) % m.input.ids : (fill ?? r(1))));
  const d = m.out.reduce((a, b) => a * b, 1);
  const t = new Float32Array(n * d);
  for (let i = 0; i < n; i++) if (m.loss === 'mse') for (let j = 0; j < d; j++) t[i * d + j] = r(1); else t[i * d + ((i * 7 + seed) % d)] = 1;
  const x = m.input.ids ? new ort.Tensor('int64', BigInt64Array.from(xs, (v) => BigInt(v)), [n, ...m.input.dims]) : new ort.Tensor('float32', xs, [n, ...m.input.dims]);
  return { x, t: new ort.Tensor('float32', t, [n, ...m.out]) };
}

/** The factor and gradient graphs of a test model as sessions, fed with explicit parameters. */
async function graphs(m: TestModel) {
  const an = analyzeModel(decodeModel(buildModel(m.spec)));
  const factors = await ort.InferenceSession.create(buildGraph(an, m.loss, 'factors').bytes);
  const gradients = await ort.InferenceSession.create(buildGraph(an, m.loss, 'gradients').bytes);
  const params: HostTree = Object.fromEntries(an.params.map((p) => [p.name, tensorFloats(an.initializers.get(p.name)!)]));
  const feeds = (p: HostTree, b: Batch): Record<string, ort.Tensor> => ({
    [m.input.name]: b.x,
    [NAMES.target]: b.t,
    ...Object.fromEntries(an.params.map((q) => [q.name, new ort.Tensor('float32', p[q.name] as Float32Array, q.dims)])),
    // Dropout masks (one unit in three dropped), the same for every pass on the batch
    ...Object.fromEntries(
      an.dropouts.map((d) => {
        const dims = [b.x.dims[0]!, ...d.shape.slice(1)];
        const mask = Float32Array.from({ length: dims.reduce((a, v) => a * v, 1) }, (_, i) => (i % 3 === 1 ? 0 : 1 / (1 - d.ratio)));
        return [d.mask, new ort.Tensor('float32', mask, dims)];
      }),
    ),
  });
  const grads = async (p: HostTree, b: Batch, w: number): Promise<{ grads: HostTree; loss: number }> => {
    const n = b.x.dims[0]!;
    const L = an.layers.length;
    const out = await gradients.run({ ...feeds(p, b), [NAMES.alpha]: new ort.Tensor('float32', new Float32Array(L * n).fill(w), [L, n]) });
    const losses = out[NAMES.losses]!.data as Float32Array;
    return {
      grads: Object.fromEntries(an.params.map((q) => [q.name, (out[NAMES.grad(q.name)]!.data as Float32Array).slice()])),
      loss: losses.reduce((s, v) => s + v, 0) / n,
    };
  };
  return { an, factors, gradients, feeds, grads, params };
}

describe('KFAC layer layouts', () => {
  it.each(models.map((m) => [m.name, m] as const))('Δᵀ·Ā in the claimed layout is the gradient graph’s (%s)', async (_name, m) => {
    const g = await graphs(m);
    const b = batch(m, 4, 3);
    const out = await g.factors.run(g.feeds(g.params, b));
    const { grads } = await g.grads(g.params, b, 1);
    const layers = kfacLayersOf(g.an);
    expect(layers.map((l) => l.layout)).toContain(m.name.startsWith('Gemm(transB') ? 'out-in' : 'in-out');
    // KFAC's layers are the Kronecker ones (scale-shift layers take the plain gradient), in the factor pass's order
    g.an.layers.filter(isKronecker).forEach((layer, k) => {
      const l = g.an.layers.indexOf(layer);
      const A = out[NAMES.factorInputs(l)]!;
      const D = out[NAMES.factorOutputGrads(l)]!;
      const [rows, p, q] = [A.data.length / A.dims.at(-1)!, A.dims.at(-1)!, D.dims.at(-1)!];
      const a = A.data as Float32Array;
      const d = D.data as Float32Array;
      const gw = new Float64Array(p * q);
      const gb = new Float64Array(q);
      for (let r = 0; r < rows; r++) {
        for (let o = 0; o < q; o++) {
          gb[o]! += d[r * q + o]!;
          for (let i = 0; i < p; i++) gw[layers[k]!.layout === 'in-out' ? i * q + o : o * p + i]! += a[r * p + i]! * d[r * q + o]!;
        }
      }
      const want = grads[layer.weight]!;
      const scale = Math.max(...Array.from(want, Math.abs));
      expect(scale).toBeGreaterThan(1e-6);
      gw.forEach((v, k) => expect(Math.abs(v - want[k]!)).toBeLessThan(1e-4 * scale));
      if (layer.bias) gb.forEach((v, k) => expect(v).toBeCloseTo(grads[layer.bias!]![k]!, 4));
    });
    await Promise.all([g.factors.release(), g.gradients.release()]);
  });
});

describe('a KFAC trainer step', () => {
  const [mlp, , , , cnn] = models;
  it.each([
    ['MLP (Gemm transB, alpha/beta)', mlp!],
    ['CNN (two Conv + Gemm)', cnn!],
  ])('equals kfac() driven directly with the same factor and gradient graphs (%s, 5 steps)', async (_name, m) => {
    const trainer = await OnnxTrainer.create(buildModel(m.spec), { loss: m.loss, device, kfac: OPTIONS });
    const g = await graphs(m);
    const opt = kfac({ ...OPTIONS, device, layers: kfacLayersOf(g.an) });
    let p = g.params;
    opt.init(p);
    for (let s = 0; s < 5; s++) {
      const b = batch(m, 6, 10 + s);
      const loss = await trainer.step({ x: b.x }, b.t, { batchKey: s });
      const created: Matrix[] = [];
      const factors = opt.factorsDue ? uploadLayerFactors(g.an, await g.factors.run(g.feeds(p, b)), device, created) : undefined;
      const r = await g.grads(p, b, 1 / 6);
      expect(loss).toBeCloseTo(r.loss, 6);
      p = await opt.step(r.grads, p, { ...(factors ? { factors } : {}), loss: r.loss });
      created.forEach((c) => c.dispose());
    }
    const got = trainer.params();
    for (const name of Object.keys(p)) expect(Array.from(got[name]!)).toEqual(Array.from(p[name]!));
    expect(trainer.kfacOptimizer?.stats).toMatchObject({ steps: 5, factorUpdates: 3, inverseRefreshes: 2 });
    expect(trainer.optimizer).toBeNull();
    opt.dispose();
    await Promise.all([trainer.dispose(), g.factors.release(), g.gradients.release()]);
  });

  it("fisher: 'sampled' takes the factors on targets drawn from the model's output (seeded by the step): equal to kfac() fed those factors", async () => {
    const m = mlp!;
    const o = { ...OPTIONS, factorEvery: 1, inverseEvery: 1 };
    const trainer = await OnnxTrainer.create(buildModel(m.spec), { loss: m.loss, device, kfac: { ...o, fisher: 'sampled' } });
    const g = await graphs(m);
    const forward = await ort.InferenceSession.create(buildGraph(g.an, m.loss, 'forward').bytes);
    const opt = kfac({ ...o, device, layers: kfacLayersOf(g.an) });
    let p = g.params;
    opt.init(p);
    for (let s = 0; s < 3; s++) {
      const b = batch(m, 6, 20 + s);
      await trainer.step({ x: b.x }, b.t, { batchKey: s });
      const z = (await forward.run({ x: b.x, ...Object.fromEntries(g.an.params.map((q) => [q.name, new ort.Tensor('float32', p[q.name] as Float32Array, q.dims)])) })).y!;
      const sampledT = new ort.Tensor('float32', sampleTargets('softmax-cross-entropy', z.data as Float32Array, 6, mixSeed(0x6b666163, s)), b.t.dims);
      const created: Matrix[] = [];
      const factors = uploadLayerFactors(g.an, await g.factors.run(g.feeds(p, { x: b.x, t: sampledT })), device, created);
      const r = await g.grads(p, b, 1 / 6);
      p = await opt.step(r.grads, p, { factors, loss: r.loss });
      created.forEach((c) => c.dispose());
    }
    const got = trainer.params();
    for (const name of Object.keys(p)) expect(Array.from(got[name]!)).toEqual(Array.from(p[name]!));
    opt.dispose();
    await Promise.all([trainer.dispose(), g.factors.release(), g.gradients.release(), forward.release()]);
  });

  it('trains: the loss falls on a small problem', async () => {
    const m = mlp!;
    const trainer = await OnnxTrainer.create(buildModel(m.spec), { loss: m.loss, device, kfac: { learningRate: 0.3 } });
    // a learnable rule: the class is the index of the largest of the first three inputs
    const b = batch(m, 48, 5);
    const xs = b.x.data as Float32Array;
    const t = new Float32Array(48 * 3);
    for (let i = 0; i < 48; i++) {
      const row = Array.from(xs.subarray(i * 4, i * 4 + 3));
      t[i * 3 + row.indexOf(Math.max(...row))] = 1;
    }
    const targets = new ort.Tensor('float32', t, [48, 3]);
    const h = (await trainer.fit({ inputs: { x: b.x }, targets }, { epochs: 12, batchSize: 12, seed: 2 })).history.loss;
    expect(h.at(-1)!).toBeLessThan(0.7 * h[0]!);
    expect(trainer.kfacOptimizer?.stats.steps).toBe(48);
    await trainer.dispose();
  });
});

describe('KFAC options, rejected steps, checkpoints', () => {
  const m = models[0]!;
  const bytes = buildModel(m.spec);

  it.each([
    ['kfac beside an FNGD option', { kfac: {}, learningRate: 0.1 }, InvalidOptionError, /FNGD options or `kfac`, not both \(got learningRate beside kfac\)/],
    ['kfac not an object', { kfac: 'yes' }, InvalidOptionError, /kfac must be an options object/],
    ['kfac.layers given', { kfac: { layers: [] } }, InvalidOptionError, /kfac.layers is set by the trainer/],
    ['a bad KFAC value', { kfac: { damping: -1 } }, InvalidArgumentError, /damping must be finite and > 0/],
  ])('%s is refused', async (_name, extra, type, message) => {
    const p = OnnxTrainer.create(bytes, { loss: m.loss, device, ...(extra as object) });
    await expect(p).rejects.toThrow(type);
    await expect(OnnxTrainer.create(bytes, { loss: m.loss, device, ...(extra as object) })).rejects.toThrow(message);
  });

  it('a step on non-finite inputs throws and changes nothing (factor and gradient-only steps)', async () => {
    const trainer = await OnnxTrainer.create(bytes, { loss: m.loss, device, kfac: OPTIONS });
    const twin = await OnnxTrainer.create(bytes, { loss: m.loss, device, kfac: OPTIONS });
    const bad = batch(m, 6, 1, NaN);
    for (let s = 0; s < 5; s++) {
      const b = batch(m, 6, 20 + s);
      if (s === 2 || s === 3) {
        const params = trainer.params();
        const state = trainer.kfacOptimizer!.serialize();
        await expect(trainer.step({ x: bad.x }, bad.t, { batchKey: 'bad' })).rejects.toThrow(NonFiniteError);
        expect(trainer.params()).toEqual(params);
        expect(trainer.kfacOptimizer!.serialize()).toEqual(state);
      }
      await trainer.step({ x: b.x }, b.t, { batchKey: s });
      await twin.step({ x: b.x }, b.t, { batchKey: s });
    }
    expect(trainer.params()).toEqual(twin.params());
    expect(trainer.kfacOptimizer!.serialize()).toEqual(twin.kfacOptimizer!.serialize());
    await Promise.all([trainer.dispose(), twin.dispose()]);
  });

  it('exportModel + kfacOptimizer.serialize → a new trainer continues bit-identically; an FNGD checkpoint is refused', async () => {
    const a = await OnnxTrainer.create(bytes, { loss: m.loss, device, kfac: OPTIONS });
    const b = await OnnxTrainer.create(bytes, { loss: m.loss, device, kfac: OPTIONS });
    const batches = Array.from({ length: 6 }, (_, s) => batch(m, 6, 40 + s));
    for (const bt of batches) await a.step({ x: bt.x }, bt.t, { batchKey: 0 });
    for (const bt of batches.slice(0, 4)) await b.step({ x: bt.x }, bt.t, { batchKey: 0 });
    const c = await OnnxTrainer.create(b.exportModel(), { loss: m.loss, device, kfac: OPTIONS });
    const fngdTrainer = await OnnxTrainer.create(bytes, { loss: m.loss, device });
    const before = c.kfacOptimizer!.serialize();
    expect(() => c.kfacOptimizer!.restore(fngdTrainer.optimizer!.serialize())).toThrow(CheckpointError);
    expect(c.kfacOptimizer!.serialize()).toEqual(before);
    c.kfacOptimizer!.restore(b.kfacOptimizer!.serialize());
    for (const bt of batches.slice(4)) await c.step({ x: bt.x }, bt.t, { batchKey: 0 });
    expect(c.params()).toEqual(a.params());
    expect(c.kfacOptimizer!.serialize()).toEqual(a.kfacOptimizer!.serialize());
    await Promise.all([a.dispose(), b.dispose(), c.dispose(), fngdTrainer.dispose()]);
  });
});
