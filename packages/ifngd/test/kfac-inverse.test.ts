/**
 * KFAC's damped inverses: a factor that float32 cannot factorize is retried alone with a growing diagonal
 * jitter (the others keep their exact inverses); one that never factorizes is a FactorizationError.
 */
import { FactorizationError } from '@ifngd/fisher';
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INITIAL_JITTER, spdInverses } from '../src/kfac/inverse.js';

let dev: LinalgDevice;
beforeAll(async () => {
  dev = await createDevice({ backend: 'cpu' });
});
afterAll(() => dev.destroy());

/** `M·X` in float64, row-major `order × order`. */
function product(m: Float32Array, x: Float32Array, order: number): Float64Array {
  const out = new Float64Array(order * order);
  for (let i = 0; i < order; i++)
    for (let j = 0; j < order; j++) {
      let s = 0;
      for (let k = 0; k < order; k++) s += (m[i * order + k] as number) * (x[k * order + j] as number);
      out[i * order + j] = s;
    }
  return out;
}

/** A well-conditioned SPD matrix of order `m` (diagonally dominant), not a tile multiple. */
function spd(order: number, seed: number): Float32Array {
  const a = new Float32Array(order * order);
  for (let i = 0; i < order; i++)
    for (let j = 0; j <= i; j++) {
      const v = i === j ? order + 1 : Math.sin(seed + 7 * i + 3 * j) * 0.5;
      a[i * order + j] = v;
      a[j * order + i] = v;
    }
  return a;
}

describe('spdInverses', () => {
  it('inverts a batch of SPD factors of two orders exactly (float32 tolerance)', async () => {
    const ms = [
      { data: spd(7, 1), order: 7 },
      { data: spd(13, 2), order: 13 },
      { data: spd(7, 3), order: 7 },
    ];
    const inv = await spdInverses(dev, ms);
    ms.forEach((m, i) => {
      const p = product(m.data, inv[i] as Float32Array, m.order);
      for (let r = 0; r < m.order; r++)
        for (let c = 0; c < m.order; c++) expect(p[r * m.order + c]).toBeCloseTo(r === c ? 1 : 0, 4);
    });
  });

  it('a singular factor is retried alone with the smallest jitter that factorizes; the others stay exact', async () => {
    // rank one: [[1,1,1],[1,1,1],[1,1,1]] — Cholesky fails at pivot 2 without jitter
    const singular = new Float32Array(9).fill(1);
    const healthy = { data: spd(5, 4), order: 5 };
    const [inv, ok] = await spdInverses(dev, [{ data: singular, order: 3 }, healthy]);
    // the inverse of M + εI for the first ε = INITIAL_JITTER·mean(diag)·10^k that factorizes: finite, symmetric,
    // and (M + εI)·X = I for some ε ≥ INITIAL_JITTER — check that X·(M + εI) is the identity for the ε it implies
    const x = inv as Float32Array;
    expect(x.every(Number.isFinite)).toBe(true);
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) expect(x[r * 3 + c]).toBeCloseTo(x[c * 3 + r] as number, 0);
    // M·1 = 3·1 so (M + εI)⁻¹·1 = 1/(3 + ε): the row sums of X give ε
    const rowSum = (x[0] as number) + (x[1] as number) + (x[2] as number);
    const eps = 1 / rowSum - 3;
    expect(eps).toBeGreaterThan(INITIAL_JITTER * 0.5);
    expect(eps).toBeLessThan(1e-6 * 10 ** 6);
    const p = product(healthy.data, ok as Float32Array, 5);
    for (let r = 0; r < 5; r++) for (let c = 0; c < 5; c++) expect(p[r * 5 + c]).toBeCloseTo(r === c ? 1 : 0, 4);
  });

  it('a factor that never factorizes (NaN) → FactorizationError naming it, no device memory left', async () => {
    const before = dev.stats().liveStorages;
    const bad = spd(4, 5);
    bad[5] = Number.NaN;
    const err = await spdInverses(dev, [{ data: spd(4, 6), order: 4 }, { data: bad, order: 4 }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FactorizationError);
    expect((err as FactorizationError).entries).toEqual([1]);
    expect(dev.stats().liveStorages).toBe(before);
  });
});
