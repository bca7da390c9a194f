/**
 * Triangular solves report singular diagonals per batch entry (LAPACK `trtrs` info, extended to non-finite
 * diagonals) on every backend: `readInfo`, `SingularMatrixError` from `read`, propagation through later
 * operations, precedence of an earlier Cholesky failure, and results of the healthy entries against float64.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createDevice,
  LinalgDevice,
  NotPositiveDefiniteError,
  SingularMatrixError,
  type Matrix,
} from '../src/index.js';
import { backends } from './devices.js';
import { randn, randomLower, randomSpd, refTriangularSolve, refTrsmInfo, relError } from './reference.js';

describe.each(await backends())('triangular-solve status on %s', (backend) => {
  let dev: LinalgDevice;
  beforeAll(async () => {
    dev = await createDevice({ backend });
  });
  afterAll(() => dev.destroy());

  /** Reads X with allowFailed and checks every entry with info 0 against the float64 solve. */
  async function checkHealthy(x: Matrix, l: Float32Array, b: Float32Array, n: number, k: number, transpose: boolean, info: Int32Array, bBroadcast = false) {
    const got = await dev.read(x, { allowFailed: true });
    const lBroadcast = l.length === n * n;
    for (let e = 0; e < x.batch; e++) {
      if (info[e] !== 0) continue;
      const want = refTriangularSolve(l, b, n, k, transpose, lBroadcast ? 0 : e * n * n, bBroadcast ? 0 : e * n * k);
      expect(relError(got.subarray(e * n * k, (e + 1) * n * k), want)).toBeLessThan(1e-5);
    }
  }

  for (const transpose of [false, true]) {
    it(`batched (n=37, nrhs=3, transpose ${transpose}): zero, -0, NaN and ±Inf diagonals, first bad one reported`, async () => {
      const n = 37;
      const k = 3;
      const batch = 6;
      const l = randomLower(batch, n, 1, NaN); // NaN in the strict upper part is never read
      l[1 * n * n + 0] = 0; // entry 1: first diagonal → 1
      l[2 * n * n + (n - 1) * (n + 1)] = -0; // entry 2: last diagonal → 37
      l[3 * n * n + 17 * (n + 1)] = NaN; // entry 3 → 18
      l[3 * n * n + 30 * (n + 1)] = 0; //   (a later zero does not matter)
      l[4 * n * n + 5 * (n + 1)] = -Infinity; // entry 4 → 6
      l[5 * n * n + 20 * n + 3] = NaN; // entry 5: NaN below the diagonal is not a singular diagonal → 0
      const want = Int32Array.from({ length: batch }, (_, e) => refTrsmInfo(l, n, e * n * n));
      expect(Array.from(want)).toEqual([0, 1, 37, 18, 6, 0]);
      const b = randn(batch * n * k, 2);
      const lm = dev.matrix(l, [batch, n, n]);
      const bm = dev.matrix(b, [batch, n, k]);
      const x = dev.triangularSolve(lm, bm, { transpose });
      expect(Array.from(await dev.readInfo(x))).toEqual(Array.from(want));
      const before = dev.stats().liveStorages;
      const err = await dev.read(x).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SingularMatrixError);
      const se = err as SingularMatrixError;
      expect(se.code).toBe('SINGULAR');
      expect(Array.from(se.info)).toEqual(Array.from(want));
      expect(se.failed).toEqual([1, 2, 3, 4]);
      expect(se.message).toMatch(/singular in 4 of 6 batch entries \(entry 1: diagonal 1/);
      // the failed read changed nothing: operands intact, no storage created or released
      expect(dev.stats().liveStorages).toBe(before);
      expect(await dev.read(lm)).toEqual(l);
      expect(await dev.read(bm)).toEqual(b);
      // entry 0 is healthy (entry 5 has a NaN below the diagonal: not singular, its solution is NaN)
      const got = await dev.read(x, { allowFailed: true });
      const want0 = refTriangularSolve(l, b, n, k, transpose);
      expect(relError(got.subarray(0, n * k), want0)).toBeLessThan(1e-5);
      [lm, bm, x].forEach((m) => m.dispose());
    });
  }

  it('unbatched L: 2-D solve, and one L broadcast over a batch of right-hand sides', async () => {
    const n = 70; // not a multiple of any tile
    const l = randomLower(1, n, 3);
    const b = randn(4 * n * 2, 4);
    const lm = dev.matrix(l, [n, n]);
    const b2 = dev.matrix(b.subarray(0, n * 2), [n, 2]);
    const ok = dev.triangularSolve(lm, b2);
    expect(Array.from(await dev.readInfo(ok))).toEqual([0]);
    await checkHealthy(ok, l, b.subarray(0, n * 2), n, 2, false, new Int32Array(1));
    const bad = l.slice();
    bad[44 * (n + 1)] = 0;
    const badm = dev.matrix(bad, [n, n]);
    const x = dev.triangularSolve(badm, b2, { transpose: true });
    expect(x.shape).toEqual([n, 2]);
    expect(Array.from(await dev.readInfo(x))).toEqual([45]);
    await expect(dev.read(x)).rejects.toBeInstanceOf(SingularMatrixError);
    const b3 = dev.matrix(b, [4, n, 2]);
    const xb = dev.triangularSolve(badm, b3);
    expect(Array.from(await dev.readInfo(xb))).toEqual([45, 45, 45, 45]);
    const err = (await dev.read(xb).catch((e: unknown) => e)) as SingularMatrixError;
    expect(err).toBeInstanceOf(SingularMatrixError);
    expect(err.failed).toEqual([0, 1, 2, 3]);
    const xg = dev.triangularSolve(lm, b3, { transpose: true });
    expect(Array.from(await dev.readInfo(xg))).toEqual([0, 0, 0, 0]);
    await checkHealthy(xg, l, b, n, 2, true, new Int32Array(4));
    [lm, b2, ok, badm, x, b3, xb, xg].forEach((m) => m.dispose());
  });

  it('large n on the blocked path (n=300, nrhs=9) and many entries', async () => {
    const n = 300;
    const k = 9;
    const l = randomLower(2, n, 5);
    l[n * n + 290 * (n + 1)] = Infinity;
    const b = randn(2 * n * k, 6);
    const lm = dev.matrix(l, [2, n, n]);
    const bm = dev.matrix(b, [2, n, k]);
    for (const transpose of [false, true]) {
      const x = dev.triangularSolve(lm, bm, { transpose });
      const info = await dev.readInfo(x);
      expect(Array.from(info)).toEqual([0, 291]);
      await checkHealthy(x, l, b, n, k, transpose, info);
      x.dispose();
    }
    // 3000 tiny systems: the status covers every entry (more than one workgroup row)
    const batch = 3000;
    const small = randomLower(batch, 2, 7);
    for (const e of [0, 63, 64, 2999]) small[e * 4 + (e % 2 === 0 ? 3 : 0)] = 0;
    const sm = dev.matrix(small, [batch, 2, 2]);
    const ones = dev.full([2, 1], 1);
    const xs = dev.triangularSolve(sm, ones);
    const info = await dev.readInfo(xs);
    const want = Int32Array.from({ length: batch }, (_, e) => refTrsmInfo(small, 2, e * 4));
    expect(Array.from(info)).toEqual(Array.from(want));
    expect(info.filter((v) => v !== 0).length).toBe(4);
    [lm, bm, sm, ones, xs].forEach((m) => m.dispose());
  });

  it('the status travels: later operations, a second solve, stack/take, and merging two operands', async () => {
    const n = 5;
    const l = randomLower(3, n, 8);
    l[1 * n * n + 2 * (n + 1)] = 0; // entry 1 → 3
    const good = randomLower(3, n, 9);
    const lm = dev.matrix(l, [3, n, n]);
    const gm = dev.matrix(good, [3, n, n]);
    const bm = dev.matrix(randn(3 * n, 10), [3, n, 1]);
    const y = dev.triangularSolve(lm, bm);
    // a second solve through a healthy L keeps y's failure
    const z = dev.triangularSolve(gm, y, { transpose: true });
    expect(Array.from(await dev.readInfo(z))).toEqual([0, 3, 0]);
    await expect(dev.read(z)).rejects.toBeInstanceOf(SingularMatrixError);
    const s = dev.scale(z, 2);
    await expect(dev.read(s)).rejects.toBeInstanceOf(SingularMatrixError);
    const t = dev.take(z, [2, 0]);
    expect(Array.from(await dev.readInfo(t))).toEqual([0, 0]);
    await expect(dev.read(t)).resolves.toBeInstanceOf(Float32Array);
    // two operands with different failures: gemm reports both, the first operand's first
    const l2 = good.slice();
    l2[2 * n * n + 4 * (n + 1)] = NaN; // entry 2 → 5
    l2[1 * n * n] = 0; // entry 1 → 1, but the first operand's code 3 wins there
    const w = dev.triangularSolve(dev.matrix(l2, [3, n, n]), bm);
    expect(Array.from(await dev.readInfo(w))).toEqual([0, 1, 5]);
    const g = dev.gemm(z, w, { transB: true });
    expect(Array.from(await dev.readInfo(g))).toEqual([0, 3, 5]);
    const sum = dev.add(w, z);
    expect(Array.from(await dev.readInfo(sum))).toEqual([0, 1, 5]);
    [lm, gm, bm, y, z, s, t, w, g, sum].forEach((m) => m.dispose());
  });

  it('a solve through a failed Cholesky factor reports the factorization, not the diagonal', async () => {
    const n = 4;
    const spd = randomSpd(3, n, 11);
    spd[2 * n * n + 1 * (n + 1)] = -50; // entry 2 fails at pivot 2
    const a = dev.matrix(spd, [3, n, n]);
    const factor = dev.cholesky(a);
    const lRead = await dev.read(factor, { allowFailed: true });
    const bm = dev.matrix(randn(3 * n, 12), [3, n, 1]);
    const x = dev.triangularSolve(factor, bm);
    expect(Array.from(await dev.readInfo(x))).toEqual([0, 0, 2]);
    const err = (await dev.read(x).catch((e: unknown) => e)) as NotPositiveDefiniteError;
    expect(err).toBeInstanceOf(NotPositiveDefiniteError);
    expect(Array.from(err.info)).toEqual([0, 0, 2]);
    await checkHealthy(x, lRead, await dev.read(bm), n, 1, false, new Int32Array([0, 0, 2]));
    // a factorization failure in one entry and a singular solve in another: the factorization error wins,
    // readInfo shows both
    const lz = randomLower(3, n, 13);
    lz[0] = 0; // entry 0 → 1
    const mixed = dev.stack([dev.take(x, [2]), dev.triangularSolve(dev.matrix(lz, [3, n, n]), bm)]);
    expect(Array.from(await dev.readInfo(mixed))).toEqual([2, 1, 0, 0]);
    const mixedErr = (await dev.read(mixed).catch((e: unknown) => e)) as NotPositiveDefiniteError;
    expect(mixedErr).toBeInstanceOf(NotPositiveDefiniteError);
    expect(Array.from(mixedErr.info)).toEqual([2, 0, 0, 0]);
    expect(dev.choleskySolve(a, bm)).toBeDefined();
    [a, factor, bm, x, mixed].forEach((m) => m.dispose());
  });
});
