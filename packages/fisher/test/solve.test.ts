/** The robust host path: batched solve, jitter retries on float32 breakdown, typed errors, never NaN. */
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../linalg-gpu/test/devices.js';
import {
  FactorizationError,
  NonFiniteError,
  jacobianGram,
  smwCoefficients,
  solveCoefficients,
  stackGrams,
} from '../src/index.js';
import { alpha64, norm, randn, relError, tracked } from './helpers.js';

/** ‖(G + s·I)α − 1‖ / (‖G + s·I‖·‖α‖) for one n×n entry. */
function backwardError(g: ArrayLike<number>, n: number, s: number, a: ArrayLike<number>): number {
  const r = new Float64Array(n);
  let gn = 0;
  for (let i = 0; i < n; i++) {
    let acc = s * a[i]! - 1;
    for (let j = 0; j < n; j++) {
      const v = g[i * n + j]! + (i === j ? s : 0);
      gn += v * v;
      acc += g[i * n + j]! * a[j]!;
    }
    r[i] = acc;
  }
  return norm(r) / (Math.sqrt(gn) * norm(a));
}

/** Indefinite by −5e-5 (eigenvalues ≈ 2 and −5e-5): float32 Cholesky fails until the jitter reaches ~1e-4. */
const INDEFINITE = [1, 1, 1, 1 - 1e-4];

describe.each(await backends())('%s', (backend) => {
  let dev: LinalgDevice;
  beforeAll(async () => {
    dev = await createDevice({ backend });
  });
  afterAll(() => dev.destroy());

  it.each([1, 7, 64])('well-posed G, n = %i: α equals float64, no retries', async (n) => {
    const d = 30;
    const j = randn(n * d, n);
    const jm = dev.matrix(j, [n, d]);
    const g = jacobianGram(dev, jm);
    const res = await solveCoefficients(dev, g, 0.1);
    expect(res.jitterRetries).toBe(0);
    expect(Array.from(res.shift)).toEqual([0]);
    expect(relError(res.alpha, alpha64(j, n, d, 0.1))).toBeLessThan(1e-4);
    const viaSmw = smwCoefficients(dev, g, 0.1);
    expect(relError(res.alpha, await dev.read(viaSmw))).toBeLessThan(1e-6);
    [jm, g, viaSmw].forEach((m) => m.dispose());
  });

  it('indefinite G with tiny damping: fails in float32, succeeds after counted jitter retries', async () => {
    const g = dev.matrix(INDEFINITE, [2, 2]);
    const plain = smwCoefficients(dev, g, 1e-9);
    expect(Array.from(await dev.readInfo(plain))).not.toEqual([0]);
    plain.dispose();
    const res = await solveCoefficients(dev, g, 1e-9);
    expect(res.jitterRetries).toBe(3); // 1e-6 and 1e-5 fail, 1e-4 (relative) succeeds
    expect(res.shift[0]).toBeGreaterThan(5e-5);
    expect(res.shift[0]).toBeLessThan(2e-4);
    expect(res.alpha.every(Number.isFinite)).toBe(true);
    expect(backwardError(INDEFINITE.map(Math.fround), 2, 2e-9 + res.shift[0]!, res.alpha)).toBeLessThan(1e-5);
    expect(Array.from(await dev.read(g))).toEqual(INDEFINITE.map(Math.fround)); // input untouched
    g.dispose();
  });

  it('exactly singular G (1·1ᵀ) with tiny damping: finite α that solves the jittered system', async () => {
    const n = 4;
    const ones = new Float32Array(n * n).fill(1);
    const g = dev.matrix(ones, [n, n]);
    const res = await solveCoefficients(dev, g, 1e-12);
    expect(res.alpha.every(Number.isFinite)).toBe(true);
    expect(backwardError(ones, n, n * 1e-12 + res.shift[0]!, res.alpha)).toBeLessThan(1e-5);
    g.dispose();
  });

  it('batched: only the failing layer is retried; the others keep their exact coefficients', async () => {
    const [n, d] = [2, 5];
    const j = randn(n * d, 5);
    const jm = dev.matrix(j, [n, d]);
    const gm = jacobianGram(dev, jm);
    const gj = Array.from(await dev.read(gm));
    [jm, gm].forEach((m) => m.dispose());
    const batch = [...gj, ...INDEFINITE, ...gj];
    const g = dev.matrix(batch, [3, n, n]);
    const res = await solveCoefficients(dev, g, 1e-9, { initialJitter: 1e-6 });
    expect(res.jitterRetries).toBe(3);
    expect(res.shift[0]).toBe(0);
    expect(res.shift[1]).toBeGreaterThan(0);
    expect(res.shift[2]).toBe(0);
    expect(res.alpha.length).toBe(3 * n);
    expect(res.alpha.every(Number.isFinite)).toBe(true);
    const ref = alpha64(j, n, d, 1e-9);
    expect(relError(res.alpha.subarray(0, n), ref)).toBeLessThan(1e-4);
    expect(relError(res.alpha.subarray(2 * n), ref)).toBeLessThan(1e-4);
    g.dispose();
  });

  it('a Gram that no jitter can repair → FactorizationError naming the entry, no NaN returned', async () => {
    const g = dev.matrix([-1, 0, 0, 0, -1, 0, 0, 0, -1], [3, 3]);
    const err = await solveCoefficients(dev, g, 1e-6, { maxJitterRetries: 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FactorizationError);
    expect((err as FactorizationError).code).toBe('FACTORIZATION');
    expect((err as FactorizationError).entries).toEqual([0]);
    expect((err as FactorizationError).info).toEqual([1]);
    // maxJitterRetries 0: no retry at all
    const h = dev.matrix(INDEFINITE, [2, 2]);
    await expect(solveCoefficients(dev, h, 1e-9, { maxJitterRetries: 0 })).rejects.toBeInstanceOf(FactorizationError);
    g.dispose();
    h.dispose();
  });

  it.each([
    ['NaN on the diagonal', [NaN, 0, 0, 1]],
    ['NaN below the diagonal', [1, 0, NaN, 1]],
    ['NaN above the diagonal (not read by Cholesky)', [1, NaN, 0, 1]],
    ['+Infinity', [Infinity, 0, 0, 1]],
    ['-Infinity', [1, 0, -Infinity, 1]],
  ])('non-finite G (%s) → NonFiniteError', async (_, data) => {
    const g = dev.matrix(data, [2, 2]);
    const err = await solveCoefficients(dev, g, 0.1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonFiniteError);
    expect((err as NonFiniteError).code).toBe('NON_FINITE');
    expect((err as NonFiniteError).entries).toEqual([0]);
    g.dispose();
  });

  it('non-finite entry in a batch is named', async () => {
    const g = dev.matrix([1, 0, 0, 1, 1, 0, 0, NaN, 2, 0, 0, 2], [3, 2, 2]);
    const err = await solveCoefficients(dev, g, 0.1).catch((e: unknown) => e);
    expect((err as NonFiniteError).entries).toEqual([1]);
    g.dispose();
  });

  it('a non-finite layer Gram stays in its own entry once stacked', async () => {
    // stacking copies exactly: the NaN/∞ of layer 1 must not leak into layers 0 and 2 (0·∞ = NaN would)
    const grams = [
      dev.matrix([2, 0, 0, 2], [2, 2]),
      dev.matrix([1, Infinity, NaN, 1], [2, 2]),
      dev.matrix([3, 1, 1, 3], [2, 2]),
    ];
    const g = stackGrams(dev, grams);
    const got = await dev.read(g);
    expect(Array.from(got.subarray(0, 4))).toEqual([2, 0, 0, 2]);
    expect(Array.from(got.subarray(8, 12))).toEqual([3, 1, 1, 3]);
    const err = await solveCoefficients(dev, g, 0.1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonFiniteError);
    expect((err as NonFiniteError).entries).toEqual([1]);
    [...grams, g].forEach((m) => m.dispose());
  });

  it('n = 1', async () => {
    const g = dev.matrix([4], [1, 1]);
    const res = await solveCoefficients(dev, g, 0.5);
    expect(res.alpha[0]).toBeCloseTo(1 / 4.5, 6);
    g.dispose();
  });

  it('leaves nothing alive on success, retry and failure paths', async () => {
    const t = tracked(dev);
    const ok = t.dev.matrix(randn(9, 1).map((x, i) => (i % 4 === 0 ? 3 : 0) + x * 0.1), [3, 3]);
    const bad = t.dev.matrix(INDEFINITE, [2, 2]);
    const batch = t.dev.matrix([...INDEFINITE, 1, 0, 0, 1], [2, 2, 2]);
    const nan = t.dev.matrix([NaN, 0, 0, 1], [2, 2]);
    const neg = t.dev.matrix([-1, 0, 0, -1], [2, 2]);
    await solveCoefficients(t.dev, ok, 0.1);
    await solveCoefficients(t.dev, bad, 1e-9);
    await solveCoefficients(t.dev, batch, 1e-9);
    await expect(solveCoefficients(t.dev, nan, 0.1)).rejects.toThrow(NonFiniteError);
    await expect(solveCoefficients(t.dev, neg, 1e-3, { maxJitterRetries: 1 })).rejects.toThrow(FactorizationError);
    expect(new Set(t.live())).toEqual(new Set([ok, bad, batch, nan, neg]));
    [ok, bad, batch, nan, neg].forEach((m) => m.dispose());
  });
});
