/**
 * One FNGD step's direction against a float64 reference on every backend (CPU always; WebGPU when an adapter
 * exists), for n ∈ {1, 7, 64, 256} with d up to ~10⁵ on the CPU and ~2·10⁴ on WebGPU (lavapipe is slow).
 *
 * The reference is built from the *explicit* per-sample gradients J (float64, formed column by column by the
 * test support — never from the factors the optimizer sees). At d ≈ 10⁵ the d×d system (F + λI)x = g cannot
 * be formed, so the reference uses the push-through identity λ(JᵀJ/n + λI)⁻¹Jᵀ1/n = λJᵀ(JJᵀ + nλI)⁻¹1, exact
 * in float64; a small case checks that identity against the primal d×d solve of `support/reference.ts`.
 */
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../linalg-gpu/test/devices.js';
import { fngd, type FngdMode } from '../src/index.js';
import { deviceFactors, disposeFactors, flatten, forwardBackward, initParams, jacobian, makeData, weightedGradient, type Mlp, type Pass } from './support/mlp.js';
import { dampedNaturalGradient, relativeError, solveSpd } from './support/reference.js';

const DAMPING = 0.05;

/** Float64 Gram of the rows of J restricted to columns [a, b). */
function blockGram(J: Float64Array, n: number, d: number, a: number, b: number): Float64Array {
  const G = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = J.subarray(i * d + a, i * d + b);
    for (let j = 0; j <= i; j++) {
      const rj = J.subarray(j * d + a, j * d + b);
      let s = 0;
      for (let p = 0; p < ri.length; p++) s += (ri[p] as number) * (rj[p] as number);
      G[i * n + j] = s;
      G[j * n + i] = s;
    }
  }
  return G;
}

/** λJᵀ(G + nλI)⁻¹1 in float64, per block of columns (one block: global; the layers' blocks: layer-wise). */
function kernelReference(J: Float64Array, n: number, d: number, blockGrams: readonly Float64Array[], blocks: readonly [number, number][], damping: number): Float64Array {
  const out = new Float64Array(d);
  blocks.forEach(([a, b], k) => {
    const G = Float64Array.from(blockGrams[k] as Float64Array);
    for (let i = 0; i < n; i++) G[i * n + i] = (G[i * n + i] as number) + n * damping;
    const alpha = solveSpd(G, new Float64Array(n).fill(1), n);
    for (let i = 0; i < n; i++) {
      const ai = damping * (alpha[i] as number);
      const row = J.subarray(i * d + a, i * d + b);
      for (let p = 0; p < row.length; p++) out[a + p] = (out[a + p] as number) + ai * (row[p] as number);
    }
  });
  return out;
}

interface Reference {
  readonly pass: Pass;
  readonly d: number;
  readonly direction: Record<FngdMode, Float64Array>;
}

/** The float64 references of both modes for one batch (the layer Grams are shared). */
function references(model: Mlp, n: number, seed: number): { params: ReturnType<typeof initParams>; ref: Reference } {
  const params = initParams(model, seed);
  const pass = forwardBackward(model, params, makeData(model, n, seed + 100));
  const { J, d, blocks } = jacobian(pass);
  const grams = blocks.map(([a, b]) => blockGram(J, n, d, a, b));
  const total = new Float64Array(n * n);
  for (const g of grams) g.forEach((v, i) => (total[i] = (total[i] as number) + v));
  return {
    params,
    ref: {
      pass,
      d,
      direction: {
        global: kernelReference(J, n, d, [total], [[0, d]], DAMPING),
        layerwise: kernelReference(J, n, d, grams, blocks, DAMPING),
      },
    },
  };
}

const norm = (v: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += (v[i] as number) ** 2;
  return Math.sqrt(s);
};

it('the push-through float64 reference equals the primal d×d solve (global and block-diagonal)', () => {
  const model: Mlp = { din: 9, hidden: 7, dout: 4, loss: 'ce' };
  const n = 7;
  const { ref } = references(model, n, 5);
  const { J, d, blocks } = jacobian(ref.pass);
  expect(relativeError(ref.direction.global, dampedNaturalGradient(J, n, d, DAMPING))).toBeLessThan(1e-10);
  expect(relativeError(ref.direction.layerwise, dampedNaturalGradient(J, n, d, DAMPING, blocks))).toBeLessThan(1e-10);
});

describe.each(await backends())('one FNGD step on %s equals the float64 reference to 1e-4', (backend) => {
  // CPU: d = 320·300 + 300 + 300·10 + 10 = 99 310; WebGPU (lavapipe): d = 128·140 + 140 + 140·10 + 10 = 19 470.
  const model: Mlp = backend === 'cpu' ? { din: 320, hidden: 300, dout: 10, loss: 'ce' } : { din: 128, hidden: 140, dout: 10, loss: 'ce' };
  let dev: LinalgDevice;
  beforeAll(async () => {
    dev = await createDevice({ backend });
  });
  afterAll(() => dev.destroy());

  it.each([1, 7, 64, 256])('n = %i (global and layer-wise)', async (n) => {
    const { params, ref } = references(model, n, 17 + n);
    expect(ref.d).toBe(model.hidden * model.din + model.hidden + model.dout * model.hidden + model.dout);
    const before = flatten(params);
    for (const mode of ['global', 'layerwise'] as const) {
      const dir = ref.direction[mode];
      // lr makes ‖update‖ = ‖θ‖, so float32 rounding of θ + update does not mask the direction's error
      const lr = norm(before) / norm(dir);
      const opt = fngd({ device: dev, learningRate: lr, damping: DAMPING, mode, guard: false });
      opt.init(params);
      const fs = deviceFactors(dev, ref.pass);
      const c = await opt.coefficients({ batchKey: 'b', epoch: 1, n, factors: () => fs }).finally(() => disposeFactors(fs));
      expect(c.fresh).toBe(true);
      expect(c.alpha.length).toBe(mode === 'global' ? n : 2 * n);
      const next = opt.step(weightedGradient(ref.pass, c.alpha), params, { coefficients: c });
      const after = flatten(next);
      const update = after.map((v, i) => (before[i] as number) - v); // θ − θ' = lr·λJᵀα
      const expected = dir.map((v) => lr * v);
      expect(relativeError(update, expected), `${backend} ${mode} n=${n} d=${ref.d}`).toBeLessThan(1e-4);
      expect(opt.stats.factorizations).toBe(1);
    }
  });
});
