import type { LayerFactors } from '@ifngd/fisher';
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fngd, InvalidArgumentError, NonFiniteError, ShapeError, type HostTree } from '../src/index.js';
import { batches, deviceFactors, disposeFactors, forwardBackward, initParams, makeData, weightedGradient, type Mlp } from './support/mlp.js';

let dev: LinalgDevice;
beforeAll(async () => {
  dev = await createDevice({ backend: 'cpu' });
});
afterAll(() => dev.destroy());

const model: Mlp = { din: 4, hidden: 6, dout: 3, loss: 'ce' };
const data = batches(model, makeData(model, 16, 9), 8);

async function setup(options: { onNonFinite?: 'throw' | 'skip' } = {}) {
  const opt = fngd({ device: dev, learningRate: 0.1, damping: 0.1, momentum: 0.9, ...options });
  const params = initParams(model, 4);
  opt.init(params);
  const pass = forwardBackward(model, params, data[0]!);
  const fs = deviceFactors(dev, pass);
  const c = await opt.coefficients({ batchKey: 0, epoch: 1, n: 8, factors: () => fs });
  disposeFactors(fs);
  const snapshot = () => ({ bytes: Buffer.from(opt.serialize()), stats: opt.stats });
  return { opt, params, pass, c, snapshot };
}

const poison = (t: HostTree, value: number): HostTree => ({ ...t, W2: t.W2!.map((v, i) => (i === 3 ? value : v)) });
const copy = (t: HostTree): HostTree => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.slice()]));

describe('bad inputs leave state, cache and parameters unchanged', () => {
  it.each([NaN, Infinity, -Infinity])('non-finite factors (%s) → NonFiniteError, nothing cached', async (bad) => {
    const { opt, params, snapshot } = await setup();
    const before = snapshot();
    const pass = forwardBackward(model, params, data[1]!);
    const A = Float32Array.from(pass.layers[1].A);
    A[5] = bad;
    const fs: LayerFactors[] = deviceFactors(dev, pass);
    const poisoned: LayerFactors[] = [fs[0]!, { kind: 'dense', inputs: dev.matrix(A, [8, 6]), outputGrads: (fs[1] as Extract<LayerFactors, { kind: 'dense' }>).outputGrads }];
    await expect(opt.coefficients({ batchKey: 1, epoch: 1, n: 8, factors: () => poisoned })).rejects.toBeInstanceOf(NonFiniteError);
    disposeFactors(fs);
    (poisoned[1] as Extract<LayerFactors, { kind: 'dense' }>).inputs.dispose();
    expect(opt.cached(1)).toBeUndefined();
    expect(snapshot()).toEqual(before);
  });

  it('non-finite gradients → NonFiniteError (default) or a counted skip', async () => {
    const { opt, params, pass, c, snapshot } = await setup();
    const before = snapshot();
    const kept = copy(params);
    const g = poison(weightedGradient(pass, c.alpha), NaN);
    expect(() => opt.step(g, params, { coefficients: c })).toThrow(NonFiniteError);
    expect(snapshot()).toEqual(before);
    expect(params).toEqual(kept);

    const skipping = await setup({ onNonFinite: 'skip' });
    const state = skipping.opt.state;
    const out = skipping.opt.step(poison(weightedGradient(skipping.pass, skipping.c.alpha), Infinity), skipping.params, { coefficients: skipping.c });
    expect(out).toBe(skipping.params);
    expect(skipping.opt.stats.skippedSteps).toBe(1);
    expect(skipping.opt.stats.steps).toBe(0);
    expect(skipping.opt.state!.inner).toBe(state!.inner); // momentum untouched
    expect(skipping.opt.state!.skipped).toBe(1);
  });

  it('non-finite parameters → NonFiniteError', async () => {
    const { opt, params, pass, c, snapshot } = await setup({ onNonFinite: 'skip' });
    const before = snapshot();
    expect(() => opt.step(weightedGradient(pass, c.alpha), poison(params, NaN), { coefficients: c })).toThrow(NonFiniteError);
    expect(snapshot()).toEqual(before);
  });

  it('λ ≤ 0 (or not finite) → InvalidArgumentError', () => {
    for (const damping of [0, -1, NaN, Infinity]) {
      expect(() => fngd({ device: dev, learningRate: 0.1, damping })).toThrow(InvalidArgumentError);
    }
  });

  it('n = 0, a bad epoch or key → InvalidArgumentError; factors not requested', async () => {
    const { opt, snapshot } = await setup();
    const before = snapshot();
    let called = false;
    const factors = (): LayerFactors[] => ((called = true), []);
    await expect(opt.coefficients({ batchKey: 2, epoch: 1, n: 0, factors })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(opt.coefficients({ batchKey: 2, epoch: -1, n: 8, factors })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(opt.coefficients({ batchKey: NaN, epoch: 1, n: 8, factors })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(called).toBe(false);
    expect(snapshot()).toEqual(before);
  });

  it('n = 1 works: α = 1/(‖∇ℓ‖² + λ), a finite step', async () => {
    const opt = fngd({ device: dev, learningRate: 0.1, damping: 0.1 });
    const params = initParams(model, 4);
    opt.init(params);
    const one = { n: 1, x: data[0]!.x.slice(0, 4), y: data[0]!.y.slice(0, 3) };
    const pass = forwardBackward(model, params, one);
    const fs = deviceFactors(dev, pass);
    const c = await opt.coefficients({ batchKey: 'one', epoch: 1, n: 1, factors: () => fs });
    disposeFactors(fs);
    const g = weightedGradient(pass, new Float64Array([1]));
    const sq = Object.values(g).reduce((s, v) => s + v.reduce((t, x) => t + x * x, 0), 0);
    expect(c.alpha[0]).toBeCloseTo(1 / (sq + 0.1), 5);
    const next = opt.step(weightedGradient(pass, c.alpha), params, { coefficients: c });
    expect(Object.values(next).every((v) => v.every(Number.isFinite))).toBe(true);
  });

  it('layers with different n (or ≠ the batch n) → ShapeError, nothing cached', async () => {
    const { opt, params, snapshot } = await setup();
    const before = snapshot();
    const p8 = forwardBackward(model, params, data[1]!);
    const p7 = forwardBackward(model, params, { n: 7, x: data[1]!.x.slice(0, 28), y: data[1]!.y.slice(0, 21) });
    const f8 = deviceFactors(dev, p8);
    const f7 = deviceFactors(dev, p7);
    await expect(opt.coefficients({ batchKey: 1, epoch: 1, n: 8, factors: () => [f8[0]!, f7[1]!] })).rejects.toBeInstanceOf(ShapeError);
    await expect(opt.coefficients({ batchKey: 1, epoch: 1, n: 8, factors: () => f7 })).rejects.toBeInstanceOf(ShapeError);
    disposeFactors(f8);
    disposeFactors(f7);
    expect(opt.cached(1)).toBeUndefined();
    expect(snapshot()).toEqual(before);
  });

  it('gradients that do not match the parameters → ShapeError; foreign coefficients → InvalidArgumentError', async () => {
    const { opt, params, pass, c, snapshot } = await setup();
    const before = snapshot();
    const g = weightedGradient(pass, c.alpha);
    expect(() => opt.step({ ...g, W1: new Float32Array(3) }, params, { coefficients: c })).toThrow(ShapeError);
    const other = await setup();
    expect(() => opt.step(g, params, { coefficients: other.c })).toThrow(InvalidArgumentError);
    expect(snapshot()).toEqual(before);
  });

  it('Cholesky breakdown in float32 → jitter retries, counted; α and the step stay finite', async () => {
    const opt = fngd({ device: dev, learningRate: 0.1, damping: 1e-30 });
    const params = { w: new Float32Array([0.1, 0.2, 0.3, 0.4, 0.5]) };
    opt.init(params);
    const row = [1, 2, 3, 4, 5];
    const J = dev.matrix(Array.from({ length: 8 }, () => row).flat(), [8, 5]); // rank 1: G + nλI singular in float32
    const c = await opt.coefficients({ batchKey: 0, epoch: 1, n: 8, factors: () => [{ kind: 'jacobian', jacobian: J }] });
    J.dispose();
    expect(opt.stats.jitterRetries).toBe(0); // staged: counted when the step commits
    expect(c.alpha.every(Number.isFinite)).toBe(true);
    const s = c.alpha.reduce((t, a) => t + a, 0);
    const next = opt.step({ w: Float32Array.from(row, (v) => v * s) }, params, { coefficients: c });
    expect(next.w!.every(Number.isFinite)).toBe(true);
    expect(opt.stats.jitterRetries).toBeGreaterThan(0);
  });
});
