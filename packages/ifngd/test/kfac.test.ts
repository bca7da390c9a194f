/**
 * KFAC steps against a float64 reference built from explicit Kronecker products (`support/kfac-reference.ts`:
 * per-sample outer products, π-rule, `(G_d ⊗ A_d)` materialised and solved densely), on every backend (CPU
 * always; WebGPU when an adapter exists, required under CI), for a small dense model (9→7→5, n = 13) and a small
 * conv model (5×6×2 → 3×3 conv, 3 channels, T = 12 → dense 36→4, n = 5) — no dimension a tile multiple.
 */
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../linalg-gpu/test/devices.js';
import { kfac, stepSchedule, type HostTree, type KfacLayer } from '../src/index.js';
import {
  convData,
  convForwardBackward,
  disposeAll,
  initConvParams,
  toDevice,
  type ConvNet,
} from './support/convnet.js';
import { KfacReference, transpose, type HostLayer, type ReferenceOptions } from './support/kfac-reference.js';
import {
  deviceFactors,
  disposeFactors,
  forwardBackward,
  initParams,
  makeData,
  weightedGradient,
  type Mlp,
  type Pass,
  KFAC_LAYERS,
} from './support/mlp.js';
import { relativeError } from './support/reference.js';

const MLP: Mlp = { din: 9, hidden: 7, dout: 5, loss: 'ce' };
const CNN: ConvNet = { h: 5, w: 6, cin: 2, kh: 3, kw: 3, cout: 3, dout: 4 };
const DENSE_LAYERS: KfacLayer[] = [...KFAC_LAYERS];
const CONV_LAYERS: KfacLayer[] = [
  { weight: 'Wc', bias: 'bc', layout: 'out-in' },
  { weight: 'W2', bias: 'b2', layout: 'out-in' },
];

const hostLayers = (pass: Pass): HostLayer[] =>
  pass.layers.map((f) => ({ A: f.A, D: f.D, p: f.din, q: f.dout, n: pass.n, T: 1, bias: true }));

const meanGradient = (pass: Pass): HostTree => weightedGradient(pass, new Float64Array(pass.n).fill(1 / pass.n));

/** θ' − θ, leaf by leaf, flattened in `names` order (float64). */
function delta(next: HostTree, params: HostTree, names: readonly string[]): Float64Array {
  return Float64Array.from(
    names.flatMap((k) => Array.from(next[k] as Float32Array, (v, i) => v - ((params[k] as Float32Array)[i] as number))),
  );
}
const flat = (u: Record<string, Float64Array>, names: readonly string[]): Float64Array =>
  Float64Array.from(names.flatMap((k) => Array.from(u[k] as Float64Array)));
const norm = (v: ArrayLike<number>): number => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));

/** A model the tests drive: its leaves, layers, and one batch's factors at given parameters. */
interface Model {
  readonly names: readonly string[];
  readonly layers: KfacLayer[];
  init(seed: number): HostTree;
  batch(
    params: HostTree,
    seed: number,
  ): { host: HostLayer[]; grads: HostTree; device: (dev: LinalgDevice) => ReturnType<typeof deviceFactors> };
}

const denseModel: Model = {
  names: ['W1', 'b1', 'W2', 'b2'],
  layers: DENSE_LAYERS,
  init: (seed) => initParams(MLP, seed),
  batch(params, seed) {
    const pass = forwardBackward(MLP, params, makeData(MLP, 13, seed));
    return { host: hostLayers(pass), grads: meanGradient(pass), device: (dev) => deviceFactors(dev, pass) };
  },
};

const convModel: Model = {
  names: ['Wc', 'bc', 'W2', 'b2'],
  layers: CONV_LAYERS,
  init: (seed) => initConvParams(CNN, seed),
  batch(params, seed) {
    const pass = convForwardBackward(CNN, params, convData(CNN, 5, seed));
    return {
      host: [pass.conv, pass.dense],
      grads: pass.grads,
      device: (dev) => [toDevice(dev, pass.conv, 'conv2d'), toDevice(dev, pass.dense, 'dense')],
    };
  },
};

const refOptions = (o: Partial<ReferenceOptions>): ReferenceOptions => ({
  lr: () => 1,
  damping: 0.05,
  decay: 0.95,
  factorEvery: 1,
  inverseEvery: 1,
  klClip: null,
  momentum: 0,
  weightDecay: 0,
  ...o,
});

describe.each(await backends())('KFAC on %s equals the float64 Kronecker reference', (backend) => {
  let dev: LinalgDevice;
  beforeAll(async () => {
    dev = await createDevice({ backend });
  });
  afterAll(() => dev.destroy());

  describe.each([
    ['dense', denseModel],
    ['conv', convModel],
  ] as const)('%s model', (_name, model) => {
    it.each([null, 'active'] as const)('one step (KL clip %s) to 1e-4', async (clip) => {
      const params = model.init(3);
      const b = model.batch(params, 40);
      // scale lr so that ‖update‖ ≈ ‖θ‖: float32 rounding of θ + update does not mask the direction's error
      const probe = new KfacReference(
        model.layers.map((l) => ({ weight: l.weight, bias: l.bias ?? null })),
        refOptions({}),
      );
      const unit = flat(probe.step(b.host, b.grads, params), model.names);
      const lr =
        norm(Float64Array.from(model.names.flatMap((k) => Array.from(params[k] as Float32Array)))) / norm(unit);
      let klClip: number | null = null;
      if (clip) {
        klClip = 0.1 * lr * lr * unitVg(unit, b.grads, model.names); // ν = √0.1 ≈ 0.32
      }
      const o = refOptions({ lr: () => lr, klClip });
      const ref = new KfacReference(
        model.layers.map((l) => ({ weight: l.weight, bias: l.bias ?? null })),
        o,
      );
      const expected = flat(ref.step(b.host, b.grads, params), model.names);
      const opt = kfac({
        device: dev,
        layers: model.layers,
        learningRate: lr,
        damping: o.damping,
        momentum: 0,
        klClip: klClip ?? false,
      });
      opt.init(params);
      const fs = b.device(dev);
      const next = await opt.step(b.grads, params, { factors: fs }).finally(() => disposeAll(fs));
      expect(relativeError(delta(next, params, model.names), expected)).toBeLessThan(1e-4);
      const st = opt.stats;
      expect(st).toMatchObject({ steps: 1, factorUpdates: 1, inverseRefreshes: 1, lastRefreshStep: 0 });
      expect(st.klClip.clipped).toBe(clip ? 1 : 0);
      if (clip) expect(st.klClip.lastScale).toBeCloseTo(Math.sqrt(0.1), 3);
      opt.dispose();
    });

    it('five steps: running averages, stale inverses, momentum, weight decay, a schedule, KL clipping', async () => {
      const lr = stepSchedule(0.5, 2, 0.5);
      const o = refOptions({
        lr,
        decay: 0.8,
        inverseEvery: 2,
        factorEvery: 1,
        momentum: 0.9,
        weightDecay: 0.01,
        klClip: 0.02,
      });
      const ref = new KfacReference(
        model.layers.map((l) => ({ weight: l.weight, bias: l.bias ?? null })),
        o,
      );
      const opt = kfac({
        device: dev,
        layers: model.layers,
        learningRate: lr,
        damping: o.damping,
        decay: o.decay,
        inverseEvery: o.inverseEvery,
        momentum: o.momentum,
        weightDecay: o.weightDecay,
        klClip: o.klClip as number,
      });
      let params = model.init(5);
      opt.init(params);
      for (let t = 0; t < 5; t++) {
        const b = model.batch(params, 100 + t);
        const expected = flat(ref.step(b.host, b.grads, params), model.names);
        const fs = b.device(dev);
        const next = await opt.step(b.grads, params, { factors: () => fs }).finally(() => disposeAll(fs));
        expect(relativeError(delta(next, params, model.names), expected), `step ${t}`).toBeLessThan(2e-4);
        params = next;
      }
      expect(opt.stats).toMatchObject({ steps: 5, factorUpdates: 5, inverseRefreshes: 3, lastRefreshStep: 4 });
      opt.dispose();
    });
  });

  it('a layer without bias, and a leaf of no KFAC layer (its gradient passes through, KL-clipped with the rest)', async () => {
    const params = initParams(MLP, 12);
    const b = denseModel.batch(params, 13);
    const host = b.host.map((h, l) => (l === 1 ? { ...h, bias: false } : h));
    const o = refOptions({ lr: () => 0.2, klClip: 1e-3 });
    const ref = new KfacReference(
      [
        { weight: 'W1', bias: 'b1' },
        { weight: 'W2', bias: null },
      ],
      o,
    );
    const expected = flat(ref.step(host, b.grads, params), denseModel.names);
    const layers: KfacLayer[] = [DENSE_LAYERS[0]!, { weight: 'W2', layout: 'out-in' }];
    const opt = kfac({ device: dev, layers, learningRate: 0.2, damping: o.damping, momentum: 0, klClip: 1e-3 });
    opt.init(params);
    const fs = b.device(dev);
    const factors = fs.map((f, l) => (l === 1 ? { ...f, bias: false } : f));
    const next = await opt.step(b.grads, params, { factors }).finally(() => disposeFactors(fs));
    expect(relativeError(delta(next, params, denseModel.names), expected)).toBeLessThan(1e-4);
    expect(opt.stats.klClip.clipped).toBe(1);
    opt.dispose();
  });

  it("'in-out' weights (tfjs kernels [din, dout]) give the transposed 'out-in' step", async () => {
    const params = initParams(MLP, 8);
    const b = denseModel.batch(params, 9);
    const tr = (t: HostTree): HostTree => ({
      W1: Float32Array.from(transpose(t.W1 as Float32Array, MLP.hidden, MLP.din)),
      b1: t.b1 as Float32Array,
      W2: Float32Array.from(transpose(t.W2 as Float32Array, MLP.dout, MLP.hidden)),
      b2: t.b2 as Float32Array,
    });
    const ref = new KfacReference(
      DENSE_LAYERS.map((l) => ({ weight: l.weight, bias: l.bias ?? null })),
      refOptions({ lr: () => 0.3 }),
    );
    const u = ref.step(b.host, b.grads, params);
    const expected = {
      W1: transpose(u.W1!, MLP.hidden, MLP.din),
      b1: u.b1!,
      W2: transpose(u.W2!, MLP.dout, MLP.hidden),
      b2: u.b2!,
    };
    const layers: KfacLayer[] = DENSE_LAYERS.map((l) => ({ ...l, layout: 'in-out' }));
    const opt = kfac({ device: dev, layers, learningRate: 0.3, damping: 0.05, momentum: 0, klClip: false });
    const p = tr(params);
    opt.init(p);
    const fs = b.device(dev);
    const next = await opt.step(tr(b.grads), p, { factors: fs }).finally(() => disposeFactors(fs));
    expect(relativeError(delta(next, p, denseModel.names), flat(expected, denseModel.names))).toBeLessThan(1e-4);
    opt.dispose();
  });
});

/** Σ⟨V, g⟩ of a unit-lr reference update u = −V. */
function unitVg(unit: Float64Array, grads: HostTree, names: readonly string[]): number {
  const g = Float64Array.from(names.flatMap((k) => Array.from(grads[k] as Float32Array)));
  let s = 0;
  for (let i = 0; i < g.length; i++) s -= (unit[i] as number) * (g[i] as number);
  return s;
}
