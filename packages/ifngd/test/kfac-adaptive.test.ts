/**
 * KFAC's adaptive mode (kfac-jax's): per-sample directional derivatives from the factors against explicit per-sample
 * gradients (float64), the quadratic model's minimum, the update against a float64 reference built from explicit
 * per-sample gradients and the fixed-damping KFAC direction, the Levenberg–Marquardt rule, checkpoints, and the
 * refusals.
 */
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, InvalidArgumentError, kfac, NonFiniteError, type HostTree, type KfacLayer } from '../src/index.js';
import { decodeCheckpoint, encodeCheckpoint } from '../src/checkpoint.js';
import { sampleProducts, solveQuadratic, adaptedDamping } from '../src/kfac/adaptive.js';
import { convData, convForwardBackward, disposeAll, initConvParams, toDevice, type ConvNet } from './support/convnet.js';
import { deviceFactors, disposeFactors, flatten, forwardBackward, initParams, jacobian, KFAC_LAYERS, makeData, rng, weightedGradient, type Mlp } from './support/mlp.js';

const MLP: Mlp = { din: 6, hidden: 5, dout: 3, loss: 'ce' };
const CNN: ConvNet = { h: 5, w: 6, cin: 2, kh: 3, kw: 3, cout: 3, dout: 4 };
const LAYERS: Required<KfacLayer>[] = [...KFAC_LAYERS];

let dev: LinalgDevice;
beforeAll(async () => {
  dev = await createDevice({ backend: 'cpu' });
});
afterAll(() => dev.destroy());

const randomTree = (like: HostTree, seed: number): HostTree => {
  const r = rng(seed);
  return Object.fromEntries(Object.entries(like).map(([k, v]) => [k, Float32Array.from(v as Float32Array, () => r.normal())]));
};
const close = (got: ArrayLike<number>, want: ArrayLike<number>, tol: number): void => {
  expect(got.length).toBe(want.length);
  const scale = Math.max(1e-12, ...Array.from(want, Math.abs));
  for (let i = 0; i < want.length; i++) expect(Math.abs((got[i] as number) - (want[i] as number)) / scale).toBeLessThan(tol);
};

describe('per-sample directional derivatives from the factors', () => {
  it('dense layers: sᵢ(u) = Jᵢ·u, the explicit per-sample gradients times u', async () => {
    const params = initParams(MLP, 1);
    const pass = forwardBackward(MLP, params, makeData(MLP, 7, 2));
    const { J, d } = jacobian(pass);
    const vectors = [randomTree(params, 3), randomTree(params, 4)];
    const factors = deviceFactors(dev, pass);
    const dims = pass.layers.map((f) => ({ p: f.din, q: f.dout, bias: true }));
    const s = await sampleProducts(dev, factors, LAYERS, dims, vectors);
    disposeFactors(factors);
    vectors.forEach((v, k) => {
      const u = flatten(v);
      const want = Array.from({ length: pass.n }, (_, i) => J.subarray(i * d, (i + 1) * d).reduce((a, x, j) => a + x * (u[j] as number), 0));
      close(s[k]!, want, 1e-5);
    });
  });

  it("'in-out' weights and a convolution over positions: Σₜ δᵢₜᵀ·Ū·āᵢₜ", async () => {
    const params = initConvParams(CNN, 5);
    const pass = convForwardBackward(CNN, params, convData(CNN, 4, 6));
    const layers: Required<KfacLayer>[] = [
      { weight: 'Wc', bias: 'bc', layout: 'out-in' },
      { weight: 'W2', bias: 'b2', layout: 'in-out' },
    ];
    const v = randomTree(params, 7);
    const factors = [toDevice(dev, pass.conv, 'conv2d'), toDevice(dev, pass.dense, 'dense')];
    const dims = [pass.conv, pass.dense].map((l) => ({ p: l.p, q: l.q, bias: true }));
    const [s] = await sampleProducts(dev, factors, layers, dims, [v]);
    disposeAll(factors);
    // float64 reference: W̄ā per row, the in-out weight read as [p, q]
    const want = new Float64Array(pass.conv.n);
    [pass.conv, pass.dense].forEach((l, k) => {
      const w = v[layers[k]!.weight] as Float32Array;
      const b = v[layers[k]!.bias!] as Float32Array;
      for (let i = 0; i < l.n; i++) {
        for (let t = 0; t < l.T; t++) {
          const row = i * l.T + t;
          for (let o = 0; o < l.q; o++) {
            let z = b[o] as number;
            for (let j = 0; j < l.p; j++) z += (layers[k]!.layout === 'out-in' ? (w[o * l.p + j] as number) : (w[j * l.q + o] as number)) * (l.A[row * l.p + j] as number);
            want[i]! += (l.D[row * l.q + o] as number) * z;
          }
        }
      }
    });
    close(s!, want, 1e-5);
  });
});

describe('the quadratic model', () => {
  it('its minimum over two vectors: (C + λD)c = −b, the change cᵀb + ½cᵀCc; one vector alone', () => {
    const [c, d, b, lambda] = [[2, 0.5, 0.5, 1], [1, 0.2, 0.2, 3], [-1, 0.4], 0.3];
    const q = solveQuadratic(c, d, b, lambda)!;
    const m = c.map((x, i) => x + lambda * d[i]!);
    const [c0, c1] = q.coefficients as [number, number];
    expect(m[0]! * c0 + m[1]! * c1 + b[0]!).toBeCloseTo(0, 12);
    expect(m[2]! * c0 + m[3]! * c1 + b[1]!).toBeCloseTo(0, 12);
    expect(q.change).toBeCloseTo(c0 * b[0]! + c1 * b[1]! + 0.5 * (c0 * c0 * c[0]! + 2 * c0 * c1 * c[1]! + c1 * c1 * c[3]!), 12);
    const one = solveQuadratic([2], [1], [-1], 0.5)!;
    expect(one.coefficients[0]).toBeCloseTo(1 / 2.5, 12);
    expect(solveQuadratic([0, 0, 0, 0], [1, 1, 1, 1], [1, 1], 1)).toBeNull(); // singular: parallel vectors
  });

  it('fixed coefficients: the model minimizes over the free one only; with both fixed it only evaluates them', () => {
    const [c, d, b, lambda] = [[2, 0.5, 0.5, 1], [1, 0.2, 0.2, 3], [-1, 0.4], 0.3];
    const m = c.map((x, i) => x + lambda * d[i]!);
    // the learning rate fixed (c₀ = −0.7): c₁ zeroes the second row's residual
    const q1 = solveQuadratic(c, d, b, lambda, [-0.7, null])!;
    expect(q1.coefficients[0]).toBe(-0.7);
    expect(m[2]! * -0.7 + m[3]! * q1.coefficients[1]! + b[1]!).toBeCloseTo(0, 12);
    // the momentum fixed (c₁ = 0.9): c₀ zeroes the first row's
    const q2 = solveQuadratic(c, d, b, lambda, [null, 0.9])!;
    expect(q2.coefficients[1]).toBe(0.9);
    expect(m[0]! * q2.coefficients[0]! + m[1]! * 0.9 + b[0]!).toBeCloseTo(0, 12);
    const both = solveQuadratic(c, d, b, lambda, [-0.7, 0.9])!;
    expect(both.coefficients).toEqual([-0.7, 0.9]);
    expect(both.change).toBeCloseTo(-0.7 * b[0]! + 0.9 * b[1]! + 0.5 * (0.49 * c[0]! - 2 * 0.63 * c[1]! + 0.81 * c[3]!), 12);
    expect(solveQuadratic([0, 0, 0, 0], [0, 0, 0, 0], [1, 1], 1, [-0.7, null])).toBeNull(); // the free row is singular
  });

  it('the Levenberg–Marquardt rule: λ·decay^interval above ρ = 3/4, divided by it below 1/4 (and for a NaN ρ), clamped', () => {
    const o = { learningRate: null, momentum: null, klClip: null, initialDamping: 1, interval: 5, decay: 0.9, minDamping: 0.5, maxDamping: 2, quadraticModel: 'factors' as const };
    const f = 0.9 ** 5;
    expect(adaptedDamping(o, 1, 0.9)).toBeCloseTo(f, 12);
    expect(adaptedDamping(o, 1, 0.5)).toBe(1);
    expect(adaptedDamping(o, 1, 0.1)).toBeCloseTo(1 / f, 12);
    expect(adaptedDamping(o, 1, NaN)).toBeCloseTo(1 / f, 12);
    expect(adaptedDamping(o, 0.8, 1)).toBe(0.5);
    expect(adaptedDamping(o, 1.9, -3)).toBe(2);
  });
});

describe('kfac({ adaptive }) steps', () => {
  const batch = (params: HostTree, seed: number) => {
    const data = makeData(MLP, 9, seed);
    const pass = forwardBackward(MLP, params, data);
    return { pass, grads: weightedGradient(pass, new Float64Array(pass.n).fill(1 / pass.n)) };
  };
  const sub = (a: HostTree, b: HostTree): HostTree => Object.fromEntries(Object.entries(a).map(([k, v]) => [k, (v as Float32Array).map((x, i) => x - (b[k] as Float32Array)[i]!)]));

  it('the update is the quadratic model’s minimum over the KFAC direction and the last update (float64 reference)', async () => {
    const damping = 0.2;
    const opt = kfac({ device: dev, layers: LAYERS, damping, inverseEvery: 1, adaptive: { interval: 100 } });
    // the same preconditioner without the adaptive mode, learning rate 1: its update is −P
    const plainOpt = kfac({ device: dev, layers: LAYERS, damping, inverseEvery: 1, learningRate: 1, momentum: 0, klClip: false });
    // (the plain optimizer gives P at step 0, where both use λ = damping)
    let params = initParams(MLP, 11);
    opt.init(params);
    let velocity: Float64Array | null = null;
    for (let step = 0; step < 3; step++) {
      const { pass, grads } = batch(params, 20 + step);
      const factors = deviceFactors(dev, pass);
      const lambda = opt.damping; // the step's λ (no adaptation within these steps: interval 100)
      const next = await opt.step(grads, params, { factors, loss: pass.meanLoss, lossAt: async () => pass.meanLoss });
      const u = flatten(sub(next, params));
      const { J, d } = jacobian(pass);
      const n = pass.n;
      const g = flatten(grads);
      const Cdot = (a: Float64Array, b: Float64Array): number => {
        let s = 0;
        for (let i = 0; i < n; i++) {
          let ja = 0;
          let jb = 0;
          for (let j = 0; j < d; j++) {
            ja += (J[i * d + j] as number) * (a[j] as number);
            jb += (J[i * d + j] as number) * (b[j] as number);
          }
          s += ja * jb;
        }
        return s / n;
      };
      const dotv = (a: Float64Array, b: Float64Array): number => a.reduce((s, x, j) => s + x * (b[j] as number), 0);
      if (step === 0) {
        // P from the plain optimizer on the same (first) factors: both start with no running averages
        plainOpt.init(params);
        const plainNext = await plainOpt.step(grads, params, { factors });
        const P = flatten(sub(params, plainNext));
        const c0 = -dotv(g, P) / (Cdot(P, P) + lambda * dotv(P, P));
        close(u, P.map((x) => c0 * x), 1e-4);
        expect(opt.adaptiveState!.learningRate).toBeCloseTo(-c0, 4);
        expect(opt.adaptiveState!.momentum).toBe(0);
      } else {
        // the update lies in span{P, v} and minimizes the model there: its residual is orthogonal to v and to u
        const v = velocity!;
        const resid = (w: Float64Array): number => dotv(g, w) + Cdot(u, w) + lambda * dotv(u, w);
        const scale = Math.abs(dotv(g, u));
        expect(Math.abs(resid(u)) / scale).toBeLessThan(1e-3);
        expect(Math.abs(resid(v)) / (Math.abs(dotv(g, v)) + scale)).toBeLessThan(1e-3);
        expect(opt.adaptiveState!.momentum).not.toBe(0);
      }
      velocity = u;
      disposeFactors(factors);
      params = next;
    }
    expect(opt.stats.adaptive).toMatchObject({ damping, rho: null });
    opt.dispose();
    plainOpt.dispose();
  });

  it('adapts λ every interval steps from the loss at the proposed parameters: ρ > 3/4 lowers it, ρ < 1/4 raises it', async () => {
    const opt = kfac({ device: dev, layers: LAYERS, damping: 1, adaptive: { interval: 2 } });
    let params = initParams(MLP, 12);
    opt.init(params);
    const asked: number[] = [];
    const rhos = [1, 0.5, 0, 0.9]; // what the fake loss makes ρ be on the adaptation steps 1, 3, 5, 7 (the last of each two)
    const lambdas: number[] = [];
    for (let step = 0; step < 8; step++) {
      const { pass, grads } = batch(params, 40 + step);
      const factors = deviceFactors(dev, pass);
      let change = NaN;
      const next = await opt.step(grads, params, {
        factors,
        loss: pass.meanLoss,
        lossAt: async (p) => {
          asked.push(step);
          // the model's change along the update the optimizer proposes: recompute it as the optimizer does
          const u = flatten(sub(p, params));
          const g = flatten(grads);
          const { J, d } = jacobian(pass);
          let cuu = 0;
          for (let i = 0; i < pass.n; i++) {
            let s = 0;
            for (let j = 0; j < d; j++) s += (J[i * d + j] as number) * (u[j] as number);
            cuu += s * s;
          }
          change = g.reduce((s, x, j) => s + x * (u[j] as number), 0) + (0.5 * cuu) / pass.n;
          return pass.meanLoss + rhos[(step - 1) / 2]! * change;
        },
      });
      disposeFactors(factors);
      lambdas.push(opt.damping);
      if (step % 2 === 1) expect(opt.adaptiveState!.rho!).toBeCloseTo(rhos[(step - 1) / 2]!, 3);
      void change;
      params = next;
    }
    expect(asked).toEqual([1, 3, 5, 7]);
    // one adaptation stands for two steps: the factor is 0.9²
    expect(lambdas.filter((_, k) => k % 2 === 1).map((l) => +l.toFixed(6))).toEqual([0.81, 0.81, 1, 0.81].map((l) => +l.toFixed(6)));
    opt.dispose();
  });

  it('checkpoints carry λ and the last update: a restored optimizer steps as the original', async () => {
    const make = () => kfac({ device: dev, layers: LAYERS, damping: 0.5, adaptive: { interval: 1 } });
    const a = make();
    let params = initParams(MLP, 13);
    a.init(params);
    for (let step = 0; step < 3; step++) {
      const { pass, grads } = batch(params, 60 + step);
      const factors = deviceFactors(dev, pass);
      params = await a.step(grads, params, { factors, loss: pass.meanLoss, lossAt: async () => pass.meanLoss * 0.9 });
      disposeFactors(factors);
    }
    const b = make();
    b.init(initParams(MLP, 99));
    b.restore(a.serialize());
    expect(b.adaptiveState).toEqual(a.adaptiveState);
    const { pass, grads } = batch(params, 70);
    const f1 = deviceFactors(dev, pass);
    const f2 = deviceFactors(dev, pass);
    const lossAt = async () => pass.meanLoss * 0.8;
    const [na, nb] = [await a.step(grads, params, { factors: f1, loss: pass.meanLoss, lossAt }), await b.step(grads, params, { factors: f2, loss: pass.meanLoss, lossAt })];
    expect(nb).toEqual(na);
    disposeFactors(f1);
    disposeFactors(f2);
    // a checkpoint of a fixed-damping optimizer does not restore into an adaptive one, nor the reverse
    const plain = kfac({ device: dev, layers: LAYERS });
    plain.init(params);
    expect(() => b.restore(plain.serialize())).toThrow(CheckpointError);
    expect(() => plain.restore(a.serialize())).toThrow(/made with the adaptive mode/);
    for (const o of [a, b, plain]) o.dispose();
  });

  it('a checkpoint whose adaptive state is corrupt is refused (CheckpointError), nothing changed', async () => {
    const opt = kfac({ device: dev, layers: LAYERS, adaptive: { interval: 1 } });
    let params = initParams(MLP, 15);
    opt.init(params);
    const { pass, grads } = batch(params, 90);
    const factors = deviceFactors(dev, pass);
    params = await opt.step(grads, params, { factors, loss: pass.meanLoss, lossAt: async () => pass.meanLoss });
    disposeFactors(factors);
    const good = opt.serialize();
    const edit = (f: (a: Record<string, any>) => void): Uint8Array => {
      const p = decodeCheckpoint(good) as Record<string, any>;
      f(p.adaptive);
      return encodeCheckpoint(p);
    };
    const target = kfac({ device: dev, layers: LAYERS, adaptive: { interval: 1 } });
    target.init(initParams(MLP, 16));
    const before = target.serialize();
    for (const bad of [
      edit((a) => (a.damping = -1)),
      edit((a) => (a.rho = NaN)),
      edit((a) => (a.velocity.W1 = new Float32Array(3))),
      edit((a) => delete a.velocity.b2),
    ]) {
      expect(() => target.restore(bad)).toThrow(CheckpointError);
      expect(target.serialize()).toEqual(before);
    }
    target.restore(good);
    expect(target.adaptiveState).toEqual(opt.adaptiveState);
    for (const o of [opt, target]) o.dispose();
  });

  it.each(['throw', 'skip'] as const)(
    'a quadratic model with no finite minimum (a zero gradient) is onNonFinite %s: NonFiniteError or a counted skip, nothing else changed',
    async (onNonFinite) => {
      const opt = kfac({ device: dev, layers: LAYERS, adaptive: { interval: 1 }, onNonFinite });
      const params = initParams(MLP, 17);
      opt.init(params);
      const before = opt.serialize();
      const { pass } = batch(params, 91);
      const zero = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, new Float32Array((v as Float32Array).length)]));
      const factors = deviceFactors(dev, pass);
      const run = () => opt.step(zero, params, { factors, loss: pass.meanLoss, lossAt: async () => pass.meanLoss });
      if (onNonFinite === 'throw') {
        await expect(run()).rejects.toThrow(/the quadratic model has no finite minimum/);
        expect(opt.serialize()).toEqual(before);
      } else {
        expect(await run()).toBe(params);
        expect(opt.stats.skippedSteps).toBe(1);
        expect(opt.stats.steps).toBe(0);
        expect(opt.adaptiveState).toEqual({ damping: 0.001, velocity: null, learningRate: null, momentum: null, rho: null });
      }
      disposeFactors(factors);
      opt.dispose();
    },
  );

  /** The empirical Fisher's products along host vectors from explicit per-sample gradients: `(1/n)·Σᵢ (Jᵢuₐ)(Jᵢuᵦ)`. */
  const empiricalProducts = (pass: ReturnType<typeof batch>['pass'], vectors: readonly HostTree[]): number[] => {
    const { J, d } = jacobian(pass);
    const s = vectors.map((v) => {
      const u = flatten(v);
      return Array.from({ length: pass.n }, (_, i) => {
        let t = 0;
        for (let j = 0; j < d; j++) t += (J[i * d + j] as number) * (u[j] as number);
        return t;
      });
    });
    return s.flatMap((a) => s.map((b) => a.reduce((t, x, i) => t + x * (b[i] as number), 0) / pass.n));
  };

  it("quadraticModel 'gauss-newton' takes C from extras.gaussNewton: fed the factors' own products, it steps as 'factors' does", async () => {
    // with the batch's targets, the factors' curvature is the empirical Fisher: (1/n)Σᵢ (Jᵢuₐ)(Jᵢuᵦ)
    const a = kfac({ device: dev, layers: LAYERS, damping: 0.3, adaptive: { interval: 2 } });
    const b = kfac({ device: dev, layers: LAYERS, damping: 0.3, adaptive: { interval: 2, quadraticModel: 'gauss-newton' } });
    let pa = initParams(MLP, 31);
    let pb = pa;
    a.init(pa);
    b.init(pb);
    const asked: number[] = [];
    for (let step = 0; step < 5; step++) {
      const { pass, grads } = batch(pa, 60 + step);
      const fa = deviceFactors(dev, pass);
      const fb = deviceFactors(dev, pass);
      const lossAt = async (p: HostTree) => pass.meanLoss - 1e-3 * flatten(sub(p, pa)).reduce((t, x) => t + Math.abs(x), 0);
      const na = await a.step(grads, pa, { factors: fa, loss: pass.meanLoss, lossAt });
      const nb = await b.step(grads, pb, {
        factors: fb,
        loss: pass.meanLoss,
        lossAt,
        gaussNewton: async (vectors) => {
          asked.push(vectors.length);
          return empiricalProducts(pass, vectors);
        },
      });
      close(flatten(nb), flatten(na), 1e-4);
      expect(b.adaptiveState!.damping).toBeCloseTo(a.adaptiveState!.damping, 6);
      disposeFactors(fa);
      disposeFactors(fb);
      pa = na;
      pb = nb;
    }
    expect(asked).toEqual([1, 2, 2, 2, 2]); // P alone on the first step, then P and the last update
    for (const o of [a, b]) o.dispose();
  });

  it("quadraticModel 'gauss-newton' without extras.gaussNewton, or with a wrong-sized answer, throws InvalidArgumentError and changes nothing", async () => {
    const opt = kfac({ device: dev, layers: LAYERS, adaptive: { interval: 1, quadraticModel: 'gauss-newton' } });
    const params = initParams(MLP, 32);
    opt.init(params);
    const before = opt.serialize();
    const { pass, grads } = batch(params, 81);
    const factors = deviceFactors(dev, pass);
    const lossAt = async () => pass.meanLoss;
    await expect(opt.step(grads, params, { factors, loss: pass.meanLoss, lossAt })).rejects.toThrow(/extras\.gaussNewton is required/);
    await expect(opt.step(grads, params, { factors, loss: pass.meanLoss, lossAt, gaussNewton: async () => [1, 2] })).rejects.toThrow(InvalidArgumentError);
    expect(opt.serialize()).toEqual(before);
    disposeFactors(factors);
    opt.dispose();
    expect(() => kfac({ device: dev, layers: LAYERS, adaptive: { quadraticModel: 'exact' as never } })).toThrow(/quadraticModel must be 'factors' or 'gauss-newton'/);
    // with both coefficients fixed the products are needed only when λ adapts, but their absence is refused at once
    const fixed = kfac({ device: dev, layers: LAYERS, learningRate: 0.1, momentum: 0.9, adaptive: { interval: 50, quadraticModel: 'gauss-newton' } });
    fixed.init(params);
    const fresh = fixed.serialize();
    const f2 = deviceFactors(dev, pass);
    await expect(fixed.step(grads, params, { factors: f2, loss: pass.meanLoss, lossAt })).rejects.toThrow(/extras\.gaussNewton is required/);
    expect(fixed.serialize()).toEqual(fresh);
    disposeFactors(f2);
    fixed.dispose();
  });

  it.each(['throw', 'skip'] as const)("non-finite Gauss–Newton products are onNonFinite %s: NonFiniteError or a counted skip", async (onNonFinite) => {
    const opt = kfac({ device: dev, layers: LAYERS, adaptive: { interval: 1, quadraticModel: 'gauss-newton' }, onNonFinite });
    const params = initParams(MLP, 33);
    opt.init(params);
    const before = opt.serialize();
    const { pass, grads } = batch(params, 82);
    const factors = deviceFactors(dev, pass);
    const run = () => opt.step(grads, params, { factors, loss: pass.meanLoss, lossAt: async () => pass.meanLoss, gaussNewton: async () => [NaN] });
    if (onNonFinite === 'throw') {
      await expect(run()).rejects.toThrow(NonFiniteError);
      expect(opt.serialize()).toEqual(before);
    } else {
      expect(await run()).toBe(params);
      expect(opt.stats.skippedSteps).toBe(1);
    }
    disposeFactors(factors);
    opt.dispose();
  });

  it.each([false, 0.001] as const)("kfac-jax's stochastic recipe (learning rate and momentum fixed, λ adapted; klClip %s): between adaptations it steps as fixed-damping KFAC", async (klClip) => {
    // with a constant rate, heavy ball on the update (−lr·P + μ·v) is the chain's momentum before the rate; the KL
    // clip (kfac-jax's norm_constraint) scales P by the same ν
    const [lr, mu, damping] = [0.05, 0.9, 0.4];
    const opt = kfac({ device: dev, layers: LAYERS, damping, learningRate: lr, momentum: mu, klClip, adaptive: { interval: 100, quadraticModel: 'gauss-newton' } });
    const plain = kfac({ device: dev, layers: LAYERS, damping, learningRate: lr, momentum: mu, klClip });
    let params = initParams(MLP, 41);
    opt.init(params);
    plain.init(params);
    const asked: string[] = [];
    for (let step = 0; step < 4; step++) {
      const { pass, grads } = batch(params, 90 + step);
      const fa = deviceFactors(dev, pass);
      const fb = deviceFactors(dev, pass);
      const next = await opt.step(grads, params, {
        factors: fa,
        loss: pass.meanLoss,
        lossAt: async () => (asked.push('lossAt'), pass.meanLoss),
        gaussNewton: async (vs) => (asked.push('gaussNewton'), empiricalProducts(pass, vs)),
      });
      close(flatten(next), flatten(await plain.step(grads, params, { factors: fb })), 1e-5);
      expect(opt.adaptiveState).toMatchObject({ learningRate: lr, momentum: step === 0 ? 0 : mu, damping, rho: null });
      disposeFactors(fa);
      disposeFactors(fb);
      params = next;
    }
    expect(asked).toEqual([]); // nothing to solve: no curvature products and no loss until λ adapts
    // the clip binds on these steps (so the equality above covers it)
    expect(plain.stats.klClip.clipped).toBe(klClip === false ? 0 : 4);
    for (const o of [opt, plain]) o.dispose();
  });

  it('with both coefficients fixed, ρ takes the model along the update itself: (L(θ + u) − L(θ)) / (gᵀu + ½uᵀCu)', async () => {
    const opt = kfac({ device: dev, layers: LAYERS, damping: 1, learningRate: (t) => 0.1 / (1 + t), momentum: 0.5, adaptive: { interval: 2, quadraticModel: 'gauss-newton' } });
    let params = initParams(MLP, 42);
    opt.init(params);
    const rhos = [0.9, 0.1];
    const asked: number[] = [];
    for (let step = 0; step < 4; step++) {
      const { pass, grads } = batch(params, 95 + step);
      const factors = deviceFactors(dev, pass);
      let change = NaN;
      const before = opt.damping;
      const next = await opt.step(grads, params, {
        factors,
        loss: pass.meanLoss,
        gaussNewton: async (vs) => (asked.push(vs.length), empiricalProducts(pass, vs)),
        lossAt: async (p) => {
          const u = flatten(sub(p, params));
          const [cuu] = empiricalProducts(pass, [sub(p, params)]);
          change = flatten(grads).reduce((s, x, j) => s + x * (u[j] as number), 0) + 0.5 * cuu!;
          return pass.meanLoss + rhos[(step - 1) / 2]! * change;
        },
      });
      // the schedule's rate at this step, the fixed momentum
      expect(opt.adaptiveState!.learningRate).toBeCloseTo(0.1 / (1 + step), 12);
      if (step % 2 === 1) {
        expect(opt.adaptiveState!.rho!).toBeCloseTo(rhos[(step - 1) / 2]!, 4);
        expect(opt.damping).toBeCloseTo(rhos[(step - 1) / 2]! > 0.75 ? before * 0.81 : before / 0.81, 10);
      }
      disposeFactors(factors);
      params = next;
    }
    expect(asked).toEqual([1, 1]); // one vector (the update), on the adaptation steps only
    opt.dispose();
  });

  it('a fixed learning rate with the momentum from the model: c₀ = −lr, c₁ minimizes the model along the last update', async () => {
    const [lr, damping] = [0.03, 0.25];
    const opt = kfac({ device: dev, layers: LAYERS, damping, learningRate: lr, adaptive: { interval: 100, quadraticModel: 'gauss-newton' } });
    let params = initParams(MLP, 43);
    opt.init(params);
    let velocity: HostTree | null = null;
    const dotv = (a: Float64Array, b: Float64Array): number => a.reduce((s, x, j) => s + x * (b[j] as number), 0);
    for (let step = 0; step < 3; step++) {
      const { pass, grads } = batch(params, 100 + step);
      const factors = deviceFactors(dev, pass);
      const next = await opt.step(grads, params, { factors, loss: pass.meanLoss, lossAt: async () => pass.meanLoss, gaussNewton: async (vs) => empiricalProducts(pass, vs) });
      const diff = sub(next, params);
      expect(opt.adaptiveState!.learningRate).toBeCloseTo(lr, 12);
      if (velocity) {
        // ∂M/∂c₁ = vᵀ(g + (C + λI)u) = 0
        const [u, v, g] = [flatten(diff), flatten(velocity), flatten(grads)];
        const [, cuv] = empiricalProducts(pass, [diff, velocity]);
        const resid = dotv(g, v) + cuv! + damping * dotv(u, v);
        expect(Math.abs(resid) / Math.abs(dotv(g, v))).toBeLessThan(1e-3);
        expect(opt.adaptiveState!.momentum).not.toBe(0);
      } else expect(flatten(diff).length).toBeGreaterThan(0);
      velocity = diff;
      disposeFactors(factors);
      params = next;
    }
    opt.dispose();
  });

  it('an adaptation step without lossAt throws InvalidArgumentError and changes nothing', async () => {
    const opt = kfac({ device: dev, layers: LAYERS, adaptive: { interval: 1 } });
    const params = initParams(MLP, 14);
    opt.init(params);
    const before = opt.serialize();
    const { pass, grads } = batch(params, 80);
    const factors = deviceFactors(dev, pass);
    await expect(opt.step(grads, params, { factors, loss: pass.meanLoss })).rejects.toThrow(InvalidArgumentError);
    expect(opt.serialize()).toEqual(before);
    disposeFactors(factors);
    opt.dispose();
  });
});
