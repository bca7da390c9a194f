/** SMW coefficients and natural-gradient directions against float64 references (dense d×d and SMW). */
import { createDevice, type LinalgDevice, type Matrix } from '@ifngd/linalg-gpu';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../linalg-gpu/test/devices.js';
import { jacobianGram, naturalGradient, smwCoefficients, stackGrams } from '../src/index.js';
import {
  alpha64,
  denseDirection64,
  fisher64,
  gram64,
  norm,
  randn,
  relError,
  smwDirection64,
  tracked,
} from './helpers.js';

describe.each(await backends())('%s', (backend) => {
  let dev: LinalgDevice;
  beforeAll(async () => {
    dev = await createDevice({ backend });
  });
  afterAll(() => dev.destroy());

  async function take(m: Matrix): Promise<Float32Array> {
    try {
      return await dev.read(m);
    } finally {
      m.dispose();
    }
  }

  describe.each([1, 7, 64, 256])('n = %i', (n) => {
    it('naturalGradient equals (F + λI)⁻¹g solved densely in d×d (float64), small d', async () => {
      const d = 24;
      const j = randn(n * d, 7 * n);
      for (const damping of [0.1, 1]) {
        const jm = dev.matrix(j, [n, d]);
        const u = naturalGradient(dev, jm, damping);
        expect(u.shape).toEqual([d, 1]);
        expect(relError(await take(u), denseDirection64(j, n, d, damping))).toBeLessThan(1e-4);
        jm.dispose();
      }
    });

    it('smwCoefficients equals (G + nλI)⁻¹1 in float64', async () => {
      const d = 40;
      const j = randn(n * d, 3 * n + 1);
      const jm = dev.matrix(j, [n, d]);
      const g = jacobianGram(dev, jm);
      const a = smwCoefficients(dev, g, 0.05);
      expect(a.shape).toEqual([n, 1]);
      expect(relError(await take(a), alpha64(j, n, d, 0.05))).toBeLessThan(1e-4);
      [jm, g].forEach((m) => m.dispose());
    });
  });

  // Large d: the d×d reference is out of reach, so the reference is SMW evaluated in float64 on the host.
  const large: [number, number][] = backend === 'cpu' ? [[1, 100_000], [7, 100_000], [64, 100_000], [256, 100_000]] : [[64, 20_000], [256, 4_000]];
  it.each(large)('naturalGradient, n = %i, d = %i, equals float64 SMW', async (n, d) => {
    const j = randn(n * d, n + d);
    const jm = dev.matrix(j, [n, d]);
    const damping = 0.5;
    expect(relError(await take(naturalGradient(dev, jm, damping)), smwDirection64(j, n, d, damping))).toBeLessThan(1e-4);
    jm.dispose();
  });

  it('layer-wise: [L,n,d] → one batched solve equals the block-diagonal reference', async () => {
    const [l, n, d] = [4, 64, 96];
    const damping = 0.2;
    const j = randn(l * n * d, 99);
    const jm = dev.matrix(j, [l, n, d]);
    const u = naturalGradient(dev, jm, damping);
    expect(u.shape).toEqual([l, d, 1]);
    const got = await take(u);
    const g = jacobianGram(dev, jm);
    const a = smwCoefficients(dev, g, damping);
    expect(a.shape).toEqual([l, n, 1]);
    const alphas = await take(a);
    for (let b = 0; b < l; b++) {
      const block = j.subarray(b * n * d, (b + 1) * n * d);
      expect(relError(got.subarray(b * d, (b + 1) * d), denseDirection64(block, n, d, damping))).toBeLessThan(1e-4);
      expect(relError(alphas.subarray(b * n, (b + 1) * n), alpha64(block, n, d, damping))).toBeLessThan(1e-4);
    }
    // stacking separately computed Grams gives the same batched coefficients
    const parts = Array.from({ length: l }, (_, b) => dev.matrix(j.subarray(b * n * d, (b + 1) * n * d), [n, d]));
    const grams = parts.map((p) => jacobianGram(dev, p));
    const stacked = stackGrams(dev, grams);
    expect(relError(await take(smwCoefficients(dev, stacked, damping)), alphas)).toBeLessThan(1e-5);
    [jm, g, stacked, ...parts, ...grams].forEach((m) => m.dispose());
  });

  it('property: (F + λI)·Jᵀα ≈ g and (G + nλI)α ≈ 1 for random small J and λ', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 6 }),
        fc.double({ min: 1e-2, max: 10, noNaN: true }),
        fc.integer({ min: 0, max: 1e6 }),
        fc.double({ min: 0.1, max: 10, noNaN: true }),
        async (n, d, damping, seed, amp) => {
          const j = randn(n * d, seed).map((x) => x * amp);
          const jm = dev.matrix(j, [n, d]);
          const gm = jacobianGram(dev, jm);
          const [u, a] = await Promise.all([take(naturalGradient(dev, jm, damping)), take(smwCoefficients(dev, gm, damping))]);
          jm.dispose();
          gm.dispose();
          // coefficient residual, relative to ‖G + nλI‖·‖α‖ (backward stability of the Cholesky solve)
          const g = gram64(j, n, d);
          const res = new Float64Array(n);
          for (let r = 0; r < n; r++) {
            let s = n * damping * a[r]! - 1;
            for (let q = 0; q < n; q++) s += g[r * n + q]! * a[q]!;
            res[r] = s;
          }
          const gNorm = norm(g) + n * damping;
          expect(norm(res)).toBeLessThanOrEqual(1e-5 * gNorm * norm(a) + 1e-6);
          // direction residual (F + λI)u − g, relative to the same scale carried through Jᵀ/n
          const { f, g: grad } = fisher64(j, n, d, damping);
          const r2 = new Float64Array(d);
          for (let p = 0; p < d; p++) {
            let s = -grad[p]!;
            for (let q = 0; q < d; q++) s += f[p * d + q]! * u[q]!;
            r2[p] = s;
          }
          const scale = (norm(j) * norm(a) * (gNorm / n + norm(f))) + norm(grad);
          expect(norm(r2)).toBeLessThanOrEqual(1e-5 * scale);
        },
      ),
      { numRuns: 30, seed: 2403 },
    );
  });

  it('leaves no intermediate alive', async () => {
    const t = tracked(dev);
    const jm = t.dev.matrix(randn(5 * 8, 1), [5, 8]);
    const g = jacobianGram(t.dev, jm);
    const a = smwCoefficients(t.dev, g, 0.1);
    const u = naturalGradient(t.dev, jm, 0.1);
    await Promise.all([t.dev.read(a), t.dev.read(u)]);
    expect(new Set(t.live())).toEqual(new Set([jm, g, a, u]));
    [jm, g, a, u].forEach((m) => m.dispose());
    expect(t.live()).toEqual([]);
  });
});
