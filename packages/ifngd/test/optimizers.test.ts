/**
 * The optimizer contract: every registered kind driven through one capture (the tests' MLP, 9→7→5 on 13 samples:
 * no tile multiple), against float64 references of PyTorch's update rules (SGD, Adam, AdamW, Muon with its auxiliary
 * Adam), and FNGD and KFAC through the contract equal to the same optimizers driven directly. Then the registry,
 * checkpoints, the non-finite rule and option errors.
 */
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CheckpointError,
  checkpointKind,
  createOptimizer,
  fngd,
  hostTreeOps,
  InvalidArgumentError,
  InvalidOptionError,
  kfac,
  NonFiniteError,
  optimizerKinds,
  registerOptimizer,
  resolveOptimizer,
  type HostTree,
  type OptimizerEnv,
  type OptimizerSpec,
  type StepCapture,
  type TrainingOptimizer,
} from '../src/index.js';
import { deviceFactors, disposeFactors, forwardBackward, initParams, KFAC_LAYERS, makeData, NAMES, weightedGradient, type Batch, type Mlp } from './support/mlp.js';
import { MlpCapture, mlpEnv, sampledTargetsOf } from './support/mlp-capture.js';
import { sampleTargets } from '../src/internal.js';
import { relativeError } from './support/reference.js';

const M: Mlp = { din: 9, hidden: 7, dout: 5, loss: 'ce' };
let dev: LinalgDevice;
let data: Batch;

beforeAll(async () => {
  dev = await createDevice({ backend: 'cpu' });
  data = makeData(M, 13, 3);
});
afterAll(() => dev.destroy());

type F64Tree = Record<string, Float64Array>;
const f64 = (t: HostTree): F64Tree => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Float64Array.from(v)]));
const f32 = (t: F64Tree): HostTree => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Float32Array.from(v)]));
const meanGrad = (params: HostTree): HostTree => weightedGradient(forwardBackward(M, params, data), new Float32Array(data.n).fill(1 / data.n));
const flatOf = (t: HostTree | F64Tree): number[] => NAMES.flatMap((k) => Array.from(t[k] as ArrayLike<number>));

/** Runs `steps` contract steps from `start`; returns the parameters after each. */
async function run(opt: TrainingOptimizer<HostTree>, start: HostTree, steps: number): Promise<HostTree[]> {
  await opt.init(start);
  let p = start;
  const out: HostTree[] = [];
  for (let s = 0; s < steps; s++) {
    const cap = new MlpCapture(M, p, data, dev, 'b0', 0);
    try {
      p = (await opt.step(cap)).params;
    } finally {
      cap.dispose();
    }
    out.push(p);
  }
  return out;
}

/** A float64 reference loop: `update(g, θ, t)` returns the new θ (t from 1). */
function reference(start: HostTree, steps: number, update: (g: F64Tree, p: F64Tree, t: number) => F64Tree): F64Tree[] {
  let p = f64(start);
  const out: F64Tree[] = [];
  for (let t = 1; t <= steps; t++) {
    p = update(f64(meanGrad(f32(p))), p, t);
    out.push(p);
  }
  return out;
}

const map2 = (a: F64Tree, b: F64Tree, f: (x: number, y: number, k: string, i: number) => number): F64Tree =>
  Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v.map((x, i) => f(x, (b[k] as Float64Array)[i] as number, k, i))]));

function adamReference(o: { lr: number; b1: number; b2: number; eps: number; wd: number; decoupled: boolean }, keys?: (k: string) => boolean) {
  const m: F64Tree = {};
  const v: F64Tree = {};
  return (g: F64Tree, p: F64Tree, t: number): F64Tree =>
    map2(p, g, (pi, gi0, k, i) => {
      if (keys && !keys(k)) return pi;
      m[k] ??= new Float64Array(p[k]!.length);
      v[k] ??= new Float64Array(p[k]!.length);
      const gi = o.decoupled ? gi0 : gi0 + o.wd * pi;
      m[k]![i] = o.b1 * m[k]![i]! + (1 - o.b1) * gi;
      v[k]![i] = o.b2 * v[k]![i]! + (1 - o.b2) * gi * gi;
      const u = m[k]![i]! / (1 - o.b1 ** t) / (Math.sqrt(v[k]![i]! / (1 - o.b2 ** t)) + o.eps);
      return pi - o.lr * (u + (o.decoupled ? o.wd * pi : 0));
    });
}

/** Float64 Newton–Schulz (the reference's quintic, same coefficients), rows × cols row-major. */
function nsReference(g: Float64Array, rows: number, cols: number, steps: number): Float64Array {
  const mm = (a: Float64Array, b: Float64Array, r: number, k: number, c: number): Float64Array => {
    const out = new Float64Array(r * c);
    for (let i = 0; i < r; i++) for (let l = 0; l < k; l++) for (let j = 0; j < c; j++) out[i * c + j]! += a[i * k + l]! * b[l * c + j]!;
    return out;
  };
  const tr = (a: Float64Array, r: number, c: number): Float64Array => {
    const out = new Float64Array(a.length);
    for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = a[i * c + j]!;
    return out;
  };
  const tall = rows > cols;
  const [r, c] = tall ? [cols, rows] : [rows, cols];
  const norm = Math.sqrt(g.reduce((s, x) => s + x * x, 0));
  let x = (tall ? tr(g, rows, cols) : g).map((v) => v / (norm + 1e-7));
  for (let s = 0; s < steps; s++) {
    const a = mm(x, tr(x, r, c), r, c, r);
    const aa = mm(a, a, r, r, r);
    const b = a.map((v, i) => -4.775 * v + 2.0315 * aa[i]!);
    const bx = mm(b, x, r, r, c);
    x = x.map((v, i) => 3.4445 * v + bx[i]!);
  }
  return tall ? tr(x, r, c) : x;
}

describe('first-order optimizers through the contract', () => {
  const start = initParams(M, 5);
  const expectClose = (got: HostTree[], want: F64Tree[], tol: number) => {
    got.forEach((p, s) => expect(relativeError(flatOf(p), flatOf(want[s]!))).toBeLessThan(tol));
  };

  it('sgd (momentum, Nesterov, L2 weight decay) equals PyTorch SGD in float64', async () => {
    for (const nesterov of [false, true]) {
      const opt = createOptimizer({ kind: 'sgd', learningRate: 0.1, momentum: 0.9, nesterov, weightDecay: 0.01 }, mlpEnv(M, dev));
      const buf: F64Tree = {};
      const want = reference(start, 4, (g, p) =>
        map2(p, g, (pi, gi0, k, i) => {
          const gi = gi0 + 0.01 * pi;
          buf[k] ??= new Float64Array(p[k]!.length);
          buf[k]![i] = 0.9 * buf[k]![i]! + gi;
          return pi - 0.1 * (nesterov ? gi + 0.9 * buf[k]![i]! : buf[k]![i]!);
        }),
      );
      expectClose(await run(opt, start, 4), want, 1e-5);
    }
  });

  it('adam and adamw equal PyTorch Adam (L2) and AdamW (decoupled) in float64', async () => {
    const adam = createOptimizer({ kind: 'adam', learningRate: 0.01, weightDecay: 0.1 }, mlpEnv(M, dev));
    expectClose(await run(adam, start, 4), reference(start, 4, adamReference({ lr: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.1, decoupled: false })), 1e-5);
    const adamw = createOptimizer({ kind: 'adamw', learningRate: 0.01, beta2: 0.99 }, mlpEnv(M, dev)); // wd 0.01 by default
    expectClose(await run(adamw, start, 4), reference(start, 4, adamReference({ lr: 0.01, b1: 0.9, b2: 0.99, eps: 1e-8, wd: 0.01, decoupled: true })), 1e-5);
  });

  it('muon orthogonalizes the hidden matrix (Newton–Schulz on the device) and gives the rest Adam', async () => {
    const lr = 0.02;
    const opt = createOptimizer({ kind: 'muon', learningRate: lr, weightDecay: 0.1, adam: { learningRate: 0.003 } }, mlpEnv(M, dev));
    const buf = new Float64Array(M.hidden * M.din);
    const muonRef: F64Tree[] = [];
    {
      const adamT = adamReference({ lr: 0.003, b1: 0.9, b2: 0.95, eps: 1e-10, wd: 0, decoupled: true }, (k) => k !== 'W1');
      let p = f64(start);
      for (let t = 1; t <= 3; t++) {
        const g = f64(meanGrad(f32(p)));
        const next = adamT(g, p, t);
        const g1 = g['W1']!;
        const u = new Float64Array(g1.length);
        for (let i = 0; i < g1.length; i++) {
          buf[i] = 0.95 * buf[i]! + 0.05 * g1[i]!;
          u[i] = 0.05 * g1[i]! + 0.95 * buf[i]!;
        }
        const o = nsReference(u, M.hidden, M.din, 5);
        const scale = Math.sqrt(Math.max(1, M.hidden / M.din));
        next['W1'] = p['W1']!.map((w, i) => w - lr * (0.1 * w + scale * o[i]!));
        muonRef.push(next);
        p = next;
      }
    }
    const got = await run(opt, start, 3);
    got.forEach((p, s) => {
      expect(relativeError(Array.from(p['W1']!), Array.from(muonRef[s]!['W1']!))).toBeLessThan(1e-4);
      for (const k of ['b1', 'W2', 'b2']) expect(relativeError(Array.from(p[k]!), Array.from(muonRef[s]![k]!))).toBeLessThan(1e-5);
    });
    // the orthogonalized update has singular values near 1 (the quintic's band is about [0.7, 1.2])
    const dW = Float64Array.from(got[0]!['W1']!, (w, i) => (start['W1']![i]! - w) / lr - 0.1 * start['W1']![i]!);
    const fro2 = dW.reduce((s, x) => s + x * x, 0);
    expect(fro2 / Math.min(M.hidden, M.din)).toBeGreaterThan(0.4);
    expect(fro2 / Math.min(M.hidden, M.din)).toBeLessThan(1.5);
  });

  it("muon: outputLayer 'muon' orthogonalizes every matrix, a transposed layout gives the transposed update", async () => {
    const opt = createOptimizer({ kind: 'muon', outputLayer: 'muon' }, mlpEnv(M, dev));
    const [p] = await run(opt, start, 1);
    const u = Float64Array.from(meanGrad(start)['W2']!, (g) => 0.05 * g + 0.95 * 0.05 * g);
    const o = nsReference(u, M.dout, M.hidden, 5);
    expect(relativeError(Array.from(p!['W2']!, (w, i) => (start['W2']![i]! - w) / 0.02), Array.from(o))).toBeLessThan(1e-4);
    // the same layer stored [in, out]: the update is the transpose
    const t = (a: Float32Array, r: number, c: number) => Float32Array.from({ length: a.length }, (_, i) => a[(i % r) * c + Math.floor(i / r)]!);
    const env = mlpEnv(M, dev);
    const inOut = { ...env, layers: env.layers.map((l) => ({ ...l, layout: 'in-out' as const })) };
    const opt2 = createOptimizer({ kind: 'muon', outputLayer: 'muon' }, inOut);
    await opt2.init(start);
    const g = meanGrad(start);
    const cap = {
      batchKey: 'b',
      epoch: 0,
      n: data.n,
      factors: async () => [],
      gradients: async () => ({ grads: { ...g, W2: t(g['W2']!, M.dout, M.hidden) }, params: { ...start, W2: t(start['W2']!, M.dout, M.hidden) } }),
      contain: <R,>(fn: () => R) => fn(),
      read: async () => ({ values: [], loss: 1 }),
    };
    const r = await opt2.step(cap);
    expect(relativeError(Array.from(r.params['W2']!), Array.from(t(p!['W2']!, M.dout, M.hidden)))).toBeLessThan(1e-5);
  });

  it('a schedule is evaluated once per step at the step count', async () => {
    const seen: number[] = [];
    const opt = createOptimizer({ kind: 'sgd', learningRate: (s: number) => (seen.push(s), 0.1) }, mlpEnv(M, dev));
    await run(opt, start, 3);
    expect(seen).toEqual([0, 1, 2]);
  });
});

describe('FNGD and KFAC through the contract', () => {
  it('FNGD: the same steps, coefficients and stats as the optimizer driven directly', async () => {
    const start = initParams(M, 7);
    const options = { learningRate: 0.3, damping: 1, refresh: 'first-epoch' } as const;
    const viaContract = createOptimizer({ kind: 'fngd', ...options }, mlpEnv(M, dev));
    await viaContract.init(start);
    const direct = fngd({ ...options, device: dev });
    direct.init(start);
    let a = start;
    let b = start;
    for (const [key, epoch] of [['x', 0], ['x', 1], ['y', 1]] as const) {
      const cap = new MlpCapture(M, a, data, dev, key, epoch);
      const r = await viaContract.step(cap);
      cap.dispose();
      a = r.params;
      const c = await direct.coefficients({ batchKey: key, epoch, n: data.n, factors: () => deviceFactors(dev, forwardBackward(M, b, data)) });
      b = direct.step(weightedGradient(forwardBackward(M, b, data), c.alpha), b, { coefficients: c, loss: forwardBackward(M, b, data).meanLoss });
      expect(flatOf(a)).toEqual(flatOf(b));
      expect(r.fresh).toBe(c.fresh);
      if (epoch === 1 && key === 'x') expect(cap.asked).toEqual(['gradients', 'read']); // cached: no factors
    }
    expect(viaContract.stats).toEqual(direct.stats);
    expect(checkpointKind(viaContract.serialize())).toBe('fngd');
  });

  it('KFAC: the same steps as the optimizer driven directly; factors only when due', async () => {
    const start = initParams(M, 8);
    const options = { learningRate: 0.05, damping: 0.1, factorEvery: 2, inverseEvery: 2 };
    const viaContract = createOptimizer({ kind: 'kfac', ...options }, mlpEnv(M, dev));
    await viaContract.init(start);
    const direct = kfac({ ...options, device: dev, layers: [...KFAC_LAYERS] });
    direct.init(start);
    let a = start;
    let b = start;
    for (let s = 0; s < 3; s++) {
      const cap = new MlpCapture(M, a, data, dev);
      a = (await viaContract.step(cap)).params;
      cap.dispose();
      expect(cap.asked.includes('factors:kronecker')).toBe(s % 2 === 0);
      const pass = forwardBackward(M, b, data);
      const fs = deviceFactors(dev, pass);
      b = await direct.step(weightedGradient(pass, new Float32Array(data.n).fill(1 / data.n)), b, { factors: fs, loss: pass.meanLoss });
      disposeFactors(fs);
      expect(flatOf(a)).toEqual(flatOf(b));
    }
    expect(checkpointKind(viaContract.serialize())).toBe('kfac');
  });

  it("KFAC with fisher: 'sampled' takes its factors on targets drawn from the model, seeded by the step; equal to kfac() fed those factors", async () => {
    const start = initParams(M, 9);
    const options = { learningRate: 0.05, damping: 0.1, factorEvery: 1, inverseEvery: 1 };
    const viaContract = createOptimizer({ kind: 'kfac', ...options, fisher: 'sampled' }, mlpEnv(M, dev));
    await viaContract.init(start);
    const direct = kfac({ ...options, device: dev, layers: [...KFAC_LAYERS] });
    direct.init(start);
    let [a, b] = [start, start];
    const seeds: string[] = [];
    for (let s = 0; s < 3; s++) {
      const cap = new MlpCapture(M, a, data, dev);
      a = (await viaContract.step(cap)).params;
      cap.dispose();
      const asked = cap.asked.find((x) => x.startsWith('factors:kronecker:sampled:'))!;
      seeds.push(asked);
      const seed = Number(asked.split(':').at(-1));
      const sampledPass = forwardBackward(M, b, { ...data, y: sampledTargetsOf(M, b, data, seed) });
      const fs = deviceFactors(dev, sampledPass);
      const pass = forwardBackward(M, b, data);
      b = await direct.step(weightedGradient(pass, new Float32Array(data.n).fill(1 / data.n)), b, { factors: fs, loss: pass.meanLoss });
      disposeFactors(fs);
      expect(flatOf(a)).toEqual(flatOf(b));
    }
    expect(new Set(seeds).size).toBe(3); // a fresh draw each factor step
    expect(() => createOptimizer({ kind: 'kfac', fisher: 'sampled' }, { ...mlpEnv(M, dev), sampledTargets: false })).toThrow(/needs a named loss/);
    expect(() => createOptimizer({ kind: 'kfac', fisher: 'true' } as never, mlpEnv(M, dev))).toThrow(/'empirical' or 'sampled'/);
  });

  it("adaptive KFAC with quadraticModel 'gauss-newton' asks the capture's gaussNewton once per step, after read; equal to kfac() fed the same; refused where the trainer cannot", async () => {
    const start = initParams(M, 10);
    const options = { damping: 0.3, adaptive: { interval: 1, quadraticModel: 'gauss-newton' as const } };
    // a stand-in Gauss–Newton matrix (positive definite): half the Gram of the vectors
    const gn = async (vectors: readonly HostTree[]): Promise<number[]> => vectors.flatMap((u) => vectors.map((v) => 0.5 * flatOf(u).reduce((t, x, j) => t + x * flatOf(v)[j]!, 0)));
    class GnCapture extends MlpCapture {
      async lossAt(p: HostTree): Promise<number> {
        this.asked.push('lossAt');
        return forwardBackward(M, p, data).meanLoss;
      }
      async gaussNewton(vectors: readonly HostTree[]): Promise<number[]> {
        this.asked.push(`gaussNewton:${vectors.length}`);
        return gn(vectors);
      }
    }
    const viaContract = createOptimizer({ kind: 'kfac', ...options }, { ...mlpEnv(M, dev), gaussNewton: true });
    await viaContract.init(start);
    const direct = kfac({ ...options, device: dev, layers: [...KFAC_LAYERS] });
    direct.init(start);
    let [a, b] = [start, start];
    for (let s = 0; s < 3; s++) {
      const cap = new GnCapture(M, a, data, dev);
      a = (await viaContract.step(cap)).params;
      cap.dispose();
      expect(cap.asked).toEqual(['factors:kronecker', 'gradients', 'read', `gaussNewton:${s === 0 ? 1 : 2}`, 'lossAt']);
      const pass = forwardBackward(M, b, data);
      const fs = deviceFactors(dev, pass);
      const lossAt = async (p: HostTree) => forwardBackward(M, p, data).meanLoss;
      b = await direct.step(weightedGradient(pass, new Float32Array(data.n).fill(1 / data.n)), b, { factors: fs, loss: pass.meanLoss, lossAt, gaussNewton: gn });
      disposeFactors(fs);
      expect(flatOf(a)).toEqual(flatOf(b));
    }
    viaContract.dispose();
    direct.dispose();
    for (const env of [mlpEnv(M, dev), { ...mlpEnv(M, dev), gaussNewton: false }]) {
      expect(() => createOptimizer({ kind: 'kfac', ...options }, env)).toThrow(/cannot: they need a named loss .* without random layers/);
    }
  });

  it('sampled targets follow the predictive distribution: class frequencies ≈ softmax, Bernoulli rates ≈ sigmoid, Gaussian mean z and variance d/2', () => {
    const n = 20000;
    const row = [1.2, -0.3, 0.4];
    const z = Float32Array.from({ length: n * 3 }, (_, i) => row[i % 3]!);
    const p = row.map(Math.exp);
    const sum = p.reduce((s, v) => s + v, 0);
    const onehot = sampleTargets('softmax-cross-entropy', z, n, 7);
    for (let c = 0; c < 3; c++) {
      const freq = Array.from({ length: n }, (_, i) => onehot[i * 3 + c]!).reduce((s, v) => s + v, 0) / n;
      expect(Math.abs(freq - p[c]! / sum)).toBeLessThan(0.015);
    }
    const probs = sampleTargets('softmax-cross-entropy', Float32Array.from({ length: n * 3 }, (_, i) => p[i % 3]! / sum), n, 8, 'probabilities');
    expect(Math.abs(probs.reduce((s, v, i) => s + (i % 3 === 0 ? v : 0), 0) / n - p[0]! / sum)).toBeLessThan(0.015);
    const bern = sampleTargets('sigmoid-cross-entropy', z, n, 9);
    expect(Math.abs(bern.reduce((s, v, i) => s + (i % 3 === 0 ? v : 0), 0) / n - 1 / (1 + Math.exp(-1.2)))).toBeLessThan(0.015);
    const g = sampleTargets('mse', z, n, 10);
    const first = Array.from({ length: n }, (_, i) => g[i * 3]! - 1.2);
    const mean = first.reduce((s, v) => s + v, 0) / n;
    const variance = first.reduce((s, v) => s + (v - mean) ** 2, 0) / n;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1.5)).toBeLessThan(0.06);
    expect(sampleTargets('softmax-cross-entropy', z.subarray(0, 30), 10, 3)).toEqual(sampleTargets('softmax-cross-entropy', z.subarray(0, 30), 10, 3));
  });

  it("KFAC refuses nonKronecker: 'diagonal' where the trainer computes no second moments, and a model with no layer", () => {
    expect(() => createOptimizer({ kind: 'kfac', nonKronecker: 'diagonal' }, { ...mlpEnv(M, dev), leaves: [...NAMES, 'gamma'] })).toThrow(/second moments/);
    expect(() => createOptimizer({ kind: 'kfac' }, { ...mlpEnv(M, dev), layers: [] })).toThrow(/found no Kronecker layer/);
    expect(() => createOptimizer({ kind: 'kfac', layers: [] } as never, mlpEnv(M, dev))).toThrow(/set by the trainer/);
  });
});

describe('the registry', () => {
  it('lists the built-in kinds and resolves specs', () => {
    expect(optimizerKinds()).toEqual(expect.arrayContaining(['fngd', 'kfac', 'sgd', 'adam', 'adamw', 'muon', 'shampoo']));
    expect(resolveOptimizer('adamw').options).toEqual({});
    expect(resolveOptimizer({ kind: 'sgd', momentum: 0.9 }).options).toEqual({ momentum: 0.9 });
    const e = (() => {
      try {
        resolveOptimizer({ kind: 'lion' });
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect((e as Error).message).toMatch(/unknown optimizer kind 'lion'; registered: 'fngd', 'kfac'/);
    expect(() => resolveOptimizer(42)).toThrow(InvalidArgumentError);
  });

  it('registers a kind of your own (one module, one call): trains, checkpoints, and is told from its checkpoints', async () => {
    registerOptimizer({
      kind: 'sign-sgd',
      checkpointFormat: 'test-sign-sgd',
      trees: 'host',
      create: (options, env) => {
        const inner = createOptimizer({ kind: 'sgd', ...(options as object) }, env as OptimizerEnv<HostTree>);
        const sign = (t: HostTree): HostTree => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.map(Math.sign)]));
        const opt: TrainingOptimizer<HostTree> = {
          kind: 'sign-sgd',
          inner,
          get state() {
            return inner.state;
          },
          get stats() {
            return inner.stats;
          },
          init: (p: HostTree) => inner.init(p),
          step: (cap: StepCapture<HostTree>) =>
            inner.step({
              batchKey: cap.batchKey,
              epoch: cap.epoch,
              n: cap.n,
              factors: (s) => cap.factors(s),
              contain: (fn) => cap.contain(fn),
              read: (s) => cap.read(s),
              gradients: async (r) => {
                const g = await cap.gradients(r);
                return { ...g, grads: sign(g.grads) };
              },
            }),
          serialize: () => inner.serialize(),
          restore: (b: Uint8Array) => inner.restore(b),
          dispose: () => inner.dispose(),
        };
        return opt as never;
      },
    });
    const opt = createOptimizer({ kind: 'sign-sgd', learningRate: 0.01 } as unknown as OptimizerSpec, mlpEnv(M, dev));
    const start = initParams(M, 2);
    const [p] = await run(opt, start, 1);
    const g = meanGrad(start);
    expect(relativeError(flatOf(p!), flatOf(Object.fromEntries(NAMES.map((k) => [k, start[k]!.map((w, i) => w - 0.01 * Math.sign(g[k]![i]!))]))))).toBeLessThan(1e-6);
    expect(() => registerOptimizer({ kind: 'sign-sgd', checkpointFormat: 'x', trees: 'host', create: () => null as never })).toThrow(/registered already/);
    expect(() => registerOptimizer({ kind: 'other', checkpointFormat: 'ifngd-adamw', trees: 'host', create: () => null as never })).toThrow(/belongs to 'adamw'/);
    expect(() => registerOptimizer({ kind: 'Bad Name' } as never)).toThrow(InvalidArgumentError);
  });
});

describe('host optimizers: checkpoints, non-finite values, options', () => {
  const start = initParams(M, 4);

  it('a checkpoint resumes the same trajectory; another kind, model or damaged state is refused and changes nothing', async () => {
    for (const spec of ['sgd', { kind: 'adam' }, { kind: 'adamw' }, { kind: 'muon' }, { kind: 'sgd', momentum: 0.9 }] as OptimizerSpec[]) {
      const a = createOptimizer(spec, mlpEnv(M, dev));
      const [p1, p2] = await run(a, start, 2);
      const b = createOptimizer(spec, mlpEnv(M, dev));
      await run(b, start, 1);
      const bytes = b.serialize();
      expect(checkpointKind(bytes)).toBe(typeof spec === 'string' ? spec : spec.kind);
      const c = createOptimizer(spec, mlpEnv(M, dev));
      await c.init(start);
      c.restore(bytes);
      expect(c.stats).toEqual(b.stats);
      const cap = new MlpCapture(M, p1!, data, dev);
      expect(flatOf((await c.step(cap)).params)).toEqual(flatOf(p2!));
    }
    const adam = createOptimizer('adam', mlpEnv(M, dev));
    await run(adam, start, 1);
    const sgd = createOptimizer('sgd', mlpEnv(M, dev));
    await sgd.init(start);
    const before = sgd.serialize();
    expect(() => sgd.restore(adam.serialize())).toThrow(/not a sgd checkpoint/);
    const small: Mlp = { ...M, hidden: 6 };
    const other = createOptimizer('sgd', mlpEnv(small, dev));
    await other.init(initParams(small, 1));
    expect(() => sgd.restore(other.serialize())).toThrow(CheckpointError);
    expect(sgd.serialize()).toEqual(before);
  });

  it("a NaN loss or gradient throws NonFiniteError with nothing changed; under 'skip' the step is counted and changes nothing", async () => {
    const a = createOptimizer({ kind: 'adam' }, mlpEnv(M, dev));
    await a.init(start);
    const before = a.serialize();
    await expect(a.step(new MlpCapture(M, start, data, dev, 'b', 0, NaN))).rejects.toThrow(NonFiniteError);
    expect(a.serialize()).toEqual(before);
    const bad = { ...start, W1: start['W1']!.map((v, i) => (i === 0 ? NaN : v)) };
    await expect(a.step(new MlpCapture(M, bad, data, dev))).rejects.toThrow(NonFiniteError);
    expect(a.serialize()).toEqual(before);
    const s = createOptimizer({ kind: 'adam', onNonFinite: 'skip' }, mlpEnv(M, dev));
    await s.init(start);
    const r = await s.step(new MlpCapture(M, start, data, dev, 'b', 0, NaN));
    expect(r.params).toBe(start);
    expect(s.stats).toEqual({ steps: 0, skippedSteps: 1 });
  });

  it('unknown keys name themselves; values out of range are refused', () => {
    const env = mlpEnv(M, dev);
    const e = (() => {
      try {
        createOptimizer({ kind: 'adamw', learningrate: 0.1 } as never, env);
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(InvalidOptionError);
    expect((e as InvalidOptionError).key).toBe('learningrate');
    expect((e as Error).message).toMatch(/did you mean 'learningRate'/);
    expect(() => createOptimizer({ kind: 'adam', beta1: 1 }, env)).toThrow(/beta1 must be in \[0, 1\)/);
    expect(() => createOptimizer({ kind: 'sgd', momentum: -0.1 }, env)).toThrow(InvalidArgumentError);
    expect(() => createOptimizer({ kind: 'sgd', nesterov: true }, env)).toThrow(/nesterov needs momentum > 0/);
    expect(() => createOptimizer({ kind: 'muon', nsSteps: 0 }, env)).toThrow(/nsSteps/);
    expect(() => createOptimizer({ kind: 'muon', adam: { betas: [0.9, 0.99] } } as never, env)).toThrow(InvalidOptionError);
    expect(() => createOptimizer({ kind: 'adamw', learningRate: NaN }, env)).toThrow(/learningRate/);
    expect(hostTreeOps).toBeDefined();
  });
});
