/**
 * WebGPU Cholesky and triangular-solve kernels against float64 references: the one-workgroup-per-matrix
 * and blocked factorizations, LAPACK info codes, forward/transposed solves with broadcasting, and
 * Cholesky solves. Runs on the WebGPU backend only: a missing adapter fails the suite under CI (CI=true or
 * IFNGD_REQUIRE_WEBGPU=1, see devices.ts) and skips it on a developer machine.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LinalgDevice } from '../src/device.js';
import { NotPositiveDefiniteError } from '../src/errors.js';
import type { Matrix } from '../src/matrix.js';
import { encodeCholesky, useBlocked } from '../src/webgpu/cholesky/cholesky.js';
import { WebGpuBackend } from '../src/webgpu/backend.js';
import { webgpuAvailable } from './devices.js';
import { inBrowser } from './env.js';
import { trsmUsesBlocked } from '../src/webgpu/trsm/trsm.js';
import { randn, randomSpd, refCholesky, relError } from './reference.js';

/** Float64 solve of L·X = B or Lᵀ·X = B (L lower, n×n at `ol`, B n×k at `ob`). */
function refTrsm(
  l: ArrayLike<number>,
  b: ArrayLike<number>,
  n: number,
  k: number,
  transpose: boolean,
  ol = 0,
  ob = 0,
): Float64Array {
  const x = new Float64Array(n * k);
  for (let c = 0; c < k; c++) {
    for (let s = 0; s < n; s++) {
      const i = transpose ? n - 1 - s : s;
      let v = b[ob + i * k + c]!;
      if (transpose) for (let p = i + 1; p < n; p++) v -= l[ol + p * n + i]! * x[p * k + c]!;
      else for (let p = 0; p < i; p++) v -= l[ol + i * n + p]! * x[p * k + c]!;
      x[i * k + c] = v / l[ol + i * n + i]!;
    }
  }
  return x;
}

/** Max-abs of `L·Lᵀ − (A + shift·I)` relative to max-abs of A, entry e (L from the device, n×n at e·n²). */
function reconstructionError(l: Float32Array, a: ArrayLike<number>, n: number, e: number, shift: number): number {
  const o = e * n * n;
  let err = 0;
  let scale = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let p = 0; p <= j; p++) s += l[o + i * n + p]! * l[o + j * n + p]!;
      const want = a[o + i * n + j]! + (i === j ? shift : 0);
      err = Math.max(err, Math.abs(s - want));
      scale = Math.max(scale, Math.abs(want));
    }
  }
  return err / scale;
}

/** Whether the strict upper triangle of every entry is exactly 0. */
function upperIsZero(l: Float32Array, n: number, batch: number): boolean {
  for (let e = 0; e < batch; e++) {
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (l[e * n * n + i * n + j] !== 0) return false;
  }
  return true;
}

/** A random lower-triangular, well-conditioned batch (unit-ish diagonal, small off-diagonal). */
function randomLower(batch: number, n: number, seed: number): Float32Array {
  const r = randn(batch * n * n, seed);
  const out = new Float32Array(batch * n * n);
  for (let e = 0; e < batch; e++) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < i; j++) out[e * n * n + i * n + j] = r[e * n * n + i * n + j]! / Math.sqrt(n);
      out[e * n * n + i * n + i] = 1.5 + 0.5 * r[e * n * n + i * n + i]!;
      // garbage above the diagonal must be ignored
      for (let j = i + 1; j < n; j++) out[e * n * n + i * n + j] = 1e30;
    }
  }
  return out;
}

/** ‖A·X − B‖_max / (‖A‖_max·‖X‖_max·n) per entry e (A symmetric from its lower triangle, plus shift). */
function solveResidual(
  a: ArrayLike<number>,
  x: ArrayLike<number>,
  b: ArrayLike<number>,
  n: number,
  k: number,
  e: number,
  shift: number,
  strideB = n * k,
): number {
  let err = 0;
  let an = 0;
  let xn = 0;
  const oa = e * n * n;
  for (let i = 0; i < n * n; i++) an = Math.max(an, Math.abs(a[oa + i]!));
  for (let i = 0; i < n * k; i++) xn = Math.max(xn, Math.abs(x[e * n * k + i]!));
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++) {
      let s = shift * x[e * n * k + i * k + c]!;
      for (let p = 0; p < n; p++) {
        const aip = p <= i ? a[oa + i * n + p]! : a[oa + p * n + i]!;
        s += aip * x[e * n * k + p * k + c]!;
      }
      err = Math.max(err, Math.abs(s - b[e * strideB + i * k + c]!));
    }
  }
  return err / (an * xn * n);
}

const available = await webgpuAvailable(); // throws under CI when no adapter exists

describe.runIf(available)('WebGPU Cholesky and triangular solves', () => {
  let dev: LinalgDevice;
  let backend: WebGpuBackend;
  beforeAll(async () => {
    backend = await WebGpuBackend.create({});
    dev = new LinalgDevice(backend);
    expect(dev.backend).toBe('webgpu');
  });
  afterAll(() => dev?.destroy());

  const factor = async (data: Float32Array, shape: number[], shift = 0) => {
    const a = dev.matrix(data, shape);
    const l = dev.cholesky(a, { shift });
    const info = await dev.readInfo(l);
    const got = await dev.read(l, { allowFailed: true });
    a.dispose();
    l.dispose();
    return { got, info };
  };

  describe('cholesky', () => {
    for (const n of [1, 7, 16, 65, 257]) {
      it(`factors n=${n} (single, shift 0.5) against float64`, async () => {
        const a = randomSpd(1, n, 100 + n);
        const { got, info } = await factor(a, [n, n], 0.5);
        expect(Array.from(info)).toEqual([0]);
        const ref = refCholesky(a, n, 0, 0.5);
        expect(relError(got, ref.l)).toBeLessThan(2e-5);
        expect(upperIsZero(got, n, 1)).toBe(true);
        expect(reconstructionError(got, a, n, 0, 0.5)).toBeLessThan(1e-5);
      });
    }

    it('factors a batch of 64 matrices of 128×128 (blocked, batch on dispatch z)', async () => {
      const batch = 64;
      const n = 128;
      expect(useBlocked(n, batch)).toBe(true);
      const a = randomSpd(batch, n, 7);
      const { got, info } = await factor(a, [batch, n, n]);
      expect(Array.from(info)).toEqual(new Array(batch).fill(0));
      expect(upperIsZero(got, n, batch)).toBe(true);
      for (const e of [0, 1, 31, 63]) {
        const ref = refCholesky(a, n, e);
        expect(relError(got.subarray(e * n * n, (e + 1) * n * n), ref.l)).toBeLessThan(2e-5);
      }
      for (let e = 0; e < batch; e += 9) expect(reconstructionError(got, a, n, e, 0)).toBeLessThan(1e-5);
    });

    it('factors 250×250 matrices with the one-workgroup kernel (forced), a failure isolated', async () => {
      const batch = 3;
      const n = 250;
      expect(useBlocked(n, batch)).toBe(true);
      const a = randomSpd(batch, n, 8);
      a[n * n + 200 * n + 200] = -1000; // entry 1 fails at pivot 201
      const shift = 0.25;
      const ctx = backend.ctx;
      const aBuf = backend.upload(a);
      const out = backend.alloc(batch * n * n);
      const infoBuf = backend.allocInfo(batch);
      encodeCholesky(ctx, { batch, n, shift }, aBuf, out, infoBuf, 'unblocked');
      const got = await backend.read(out, batch * n * n);
      const info = await backend.readInfo(infoBuf, batch);
      for (const b of [aBuf, out, infoBuf]) backend.free(b);
      expect(Array.from(info)).toEqual([0, 201, 0]);
      expect(upperIsZero(got, n, batch)).toBe(true);
      for (const e of [0, 2]) expect(reconstructionError(got, a, n, e, shift)).toBeLessThan(1e-5);
    });

    it('factors a batch of 40 matrices of 100×100 with the blocked path (forced)', async () => {
      const batch = 40;
      const n = 100;
      const a = randomSpd(batch, n, 14);
      a[5 * n * n + 70 * n + 70] = -1000; // entry 5 fails at pivot 71 (a later diagonal block)
      const aBuf = backend.upload(a);
      const out = backend.alloc(batch * n * n);
      const infoBuf = backend.allocInfo(batch);
      encodeCholesky(backend.ctx, { batch, n, shift: 0 }, aBuf, out, infoBuf, 'blocked');
      const got = await backend.read(out, batch * n * n);
      const info = await backend.readInfo(infoBuf, batch);
      for (const b of [aBuf, out, infoBuf]) backend.free(b);
      const want = new Array(batch).fill(0);
      want[5] = 71;
      expect(Array.from(info)).toEqual(want);
      expect(upperIsZero(got, n, batch)).toBe(true);
      for (const e of [0, 4, 6, 39]) {
        expect(relError(got.subarray(e * n * n, (e + 1) * n * n), refCholesky(a, n, e).l)).toBeLessThan(2e-5);
      }
    });

    it('factors n=600 with the blocked algorithm (edge block of 24)', async () => {
      const n = 600;
      expect(useBlocked(n, 1)).toBe(true);
      const a = randomSpd(1, n, 9);
      const { got, info } = await factor(a, [n, n], 0.1);
      expect(Array.from(info)).toEqual([0]);
      expect(upperIsZero(got, n, 1)).toBe(true);
      expect(relError(got, refCholesky(a, n, 0, 0.1).l)).toBeLessThan(5e-5);
      expect(reconstructionError(got, a, n, 0, 0.1)).toBeLessThan(2e-5);
    });

    it('runs the blocked algorithm batched, a failing entry leaving the others intact', async () => {
      const batch = 3;
      const n = 200;
      expect(useBlocked(n, batch)).toBe(true);
      const a = randomSpd(batch, n, 10);
      a[n * n + 150 * n + 150] = -1000; // entry 1 fails at pivot 151 (inside a later diagonal block)
      a[2 * n * n + 1 * n + 3] = NaN; // NaN in the upper triangle is never read
      const { got, info } = await factor(a, [batch, n, n]);
      expect(Array.from(info)).toEqual([0, 151, 0]);
      for (const e of [0, 2]) {
        const ref = refCholesky(a, n, e);
        expect(relError(got.subarray(e * n * n, (e + 1) * n * n), ref.l)).toBeLessThan(2e-5);
      }
      expect(upperIsZero(got, n, batch)).toBe(true);
    });

    it('reports the first failing pivot (LAPACK info) and throws on read', async () => {
      const a = dev.matrix([1, 0, 0, 0, 0, 2, 0, 0, 0, 0, -1, 0, 0, 0, 0, 4], [4, 4]);
      const l = dev.cholesky(a);
      expect(Array.from(await dev.readInfo(l))).toEqual([3]);
      await expect(dev.read(l)).rejects.toBeInstanceOf(NotPositiveDefiniteError);
      const data = await dev.read(l, { allowFailed: true });
      expect(data.length).toBe(16);
      // a shift that makes it positive definite
      const l2 = dev.cholesky(a, { shift: 1.5 });
      expect(Array.from(await dev.readInfo(l2))).toEqual([0]);
      expect(Array.from(await dev.read(l2))).toEqual(
        [1.5811388, 0, 0, 0, 0, 1.8708287, 0, 0, 0, 0, 0.70710677, 0, 0, 0, 0, 2.3452079].map(Math.fround),
      );
      for (const m of [a, l, l2]) m.dispose();
    });

    it('isolates a failing entry inside a batch of good ones (one workgroup per matrix)', async () => {
      const batch = 32;
      const n = 24;
      expect(useBlocked(n, batch)).toBe(false);
      const a = randomSpd(batch, n, 11);
      const bad = 13;
      for (let j = 0; j < n; j++) a[bad * n * n + 5 * n + j] = a[bad * n * n + j * n + 5] = 0;
      a[bad * n * n + 5 * n + 5] = -2; // pivot 6 fails
      const zero = 20;
      a[zero * n * n] = 0; // pivot 1 is exactly 0
      const { got, info } = await factor(a, [batch, n, n]);
      const want = new Array(batch).fill(0);
      want[bad] = 6;
      want[zero] = 1;
      expect(Array.from(info)).toEqual(want);
      for (let e = 0; e < batch; e++) {
        if (e === bad || e === zero) continue;
        expect(relError(got.subarray(e * n * n, (e + 1) * n * n), refCholesky(a, n, e).l)).toBeLessThan(2e-5);
      }
    });

    it('never returns NaN silently: NaN or Inf input gives a non-zero info', async () => {
      for (const n of [5, 300]) {
        const a = randomSpd(2, n, 12);
        a[Math.floor(n / 2) * n + 1] = NaN; // lower triangle of entry 0
        a[n * n + (n - 1) * n + (n - 1)] = Infinity; // last pivot of entry 1
        const m = dev.matrix(a, [2, n, n]);
        const l = dev.cholesky(m);
        const info = await dev.readInfo(l);
        expect(info[0]).toBe(Math.floor(n / 2) + 1);
        expect(info[1]).toBe(n);
        await expect(dev.read(l)).rejects.toBeInstanceOf(NotPositiveDefiniteError);
        const b = dev.matrix(randn(2 * n, 13), [2, n, 1]);
        const x = dev.choleskySolve(m, b);
        await expect(dev.read(x)).rejects.toBeInstanceOf(NotPositiveDefiniteError);
        for (const h of [m, l, b, x]) h.dispose();
      }
    });

    it.skipIf(inBrowser)('splits batches beyond 65535 workgroups per dimension (factor and solve)', async () => {
      const batch = 70_000;
      const n = 2;
      const a = new Float32Array(batch * 4);
      const b = new Float32Array(batch * 2);
      for (let e = 0; e < batch; e++) {
        a.set([4 + (e % 7), 0, 1 + (e % 3) * 0.5, 3], e * 4);
        b.set([1, e % 5], e * 2);
      }
      a[69_999 * 4 + 3] = -1; // the last entry (second dispatch chunk) fails at pivot 2
      const am = dev.matrix(a, [batch, n, n]);
      const bm = dev.matrix(b, [batch, n, 1]);
      const l = dev.cholesky(am);
      const x = dev.choleskySolve(am, bm);
      const info = await dev.readInfo(l);
      expect(info[69_999]).toBe(2);
      expect(info.subarray(0, 69_999).every((v) => v === 0)).toBe(true);
      const got = await dev.read(x, { allowFailed: true });
      for (const e of [0, 65_534, 65_535, 65_536, 69_998]) {
        expect(solveResidual(a, got, b, n, 1, e, 0)).toBeLessThan(1e-6);
      }
      for (const m of [am, bm, l, x]) m.dispose();
    });

    it('property: L·Lᵀ ≈ A + shift·I for random SPD batches', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 40 }),
          fc.integer({ min: 1, max: 4 }),
          fc.double({ min: 0, max: 2, noNaN: true }),
          fc.integer({ min: 0, max: 1e6 }),
          async (n, batch, shift, seed) => {
            const a = randomSpd(batch, n, seed, 0.2);
            const { got, info } = await factor(a, [batch, n, n], shift);
            expect(Array.from(info)).toEqual(new Array(batch).fill(0));
            expect(upperIsZero(got, n, batch)).toBe(true);
            for (let e = 0; e < batch; e++) expect(reconstructionError(got, a, n, e, shift)).toBeLessThan(2e-5);
          },
        ),
        { numRuns: 8 },
      );
    });
  });

  describe('triangular solve', () => {
    const solve = async (l: Float32Array, lShape: number[], b: Float32Array, bShape: number[], transpose: boolean) => {
      const lm = dev.matrix(l, lShape);
      const bm = dev.matrix(b, bShape);
      const x = dev.triangularSolve(lm, bm, { transpose });
      const got = await dev.read(x);
      const shape = x.shape;
      for (const m of [lm, bm, x]) m.dispose();
      return { got, shape };
    };

    for (const n of [1, 7, 16, 65, 257]) {
      for (const nrhs of [1, 5, 33]) {
        it(`solves n=${n} nrhs=${nrhs}, L and Lᵀ, batch 3`, async () => {
          const batch = 3;
          const l = randomLower(batch, n, 200 + n);
          const b = randn(batch * n * nrhs, 300 + nrhs);
          for (const transpose of [false, true]) {
            const { got } = await solve(l, [batch, n, n], b, [batch, n, nrhs], transpose);
            for (let e = 0; e < batch; e++) {
              const want = refTrsm(l, b, n, nrhs, transpose, e * n * n, e * n * nrhs);
              expect(relError(got.subarray(e * n * nrhs, (e + 1) * n * nrhs), want)).toBeLessThan(2e-5);
            }
          }
        });
      }
    }

    it('broadcasts one L over a batch of B, and one B over a batch of L', async () => {
      const n = 40;
      const k = 3;
      const batch = 5;
      const l1 = randomLower(1, n, 20);
      const bs = randn(batch * n * k, 21);
      for (const transpose of [false, true]) {
        const r1 = await solve(l1, [n, n], bs, [batch, n, k], transpose);
        expect(r1.shape).toEqual([batch, n, k]);
        for (let e = 0; e < batch; e++) {
          const want = refTrsm(l1, bs, n, k, transpose, 0, e * n * k);
          expect(relError(r1.got.subarray(e * n * k, (e + 1) * n * k), want)).toBeLessThan(2e-5);
        }
        const ls = randomLower(batch, n, 22);
        const b1 = randn(n * k, 23);
        const r2 = await solve(ls, [batch, n, n], b1, [n, k], transpose);
        expect(r2.shape).toEqual([batch, n, k]);
        for (let e = 0; e < batch; e++) {
          const want = refTrsm(ls, b1, n, k, transpose, e * n * n, 0);
          expect(relError(r2.got.subarray(e * n * k, (e + 1) * n * k), want)).toBeLessThan(2e-5);
        }
      }
    });

    it('solves a large batch of small systems with one right-hand side (FNGD shape)', async () => {
      const n = 33;
      const batch = 300;
      const l = randomLower(batch, n, 24);
      const b = randn(batch * n, 25);
      const { got } = await solve(l, [batch, n, n], b, [batch, n, 1], true);
      for (const e of [0, 150, 299]) {
        const want = refTrsm(l, b, n, 1, true, e * n * n, e * n);
        expect(relError(got.subarray(e * n, (e + 1) * n), want)).toBeLessThan(2e-5);
      }
    });

    it('solves n=600 with the blocked algorithm (nrhs 70, broadcast B) and with the sweep (nrhs 1)', async () => {
      const n = 600;
      const l = randomLower(2, n, 26);
      expect(trsmUsesBlocked(n, 70)).toBe(true);
      expect(trsmUsesBlocked(n, 1)).toBe(false);
      for (const nrhs of [70, 1]) {
        const b = randn(n * nrhs, 27);
        for (const transpose of [false, true]) {
          const { got } = await solve(l, [2, n, n], b, [n, nrhs], transpose);
          for (let e = 0; e < 2; e++) {
            const want = refTrsm(l, b, n, nrhs, transpose, e * n * n, 0);
            expect(relError(got.subarray(e * n * nrhs, (e + 1) * n * nrhs), want)).toBeLessThan(5e-5);
          }
        }
      }
    });

    it('accepts the same matrix as L and B', async () => {
      const n = 9;
      const l = randomLower(1, n, 28);
      const m = dev.matrix(l, [n, n]);
      const x = dev.triangularSolve(m, m, { transpose: true });
      const want = refTrsm(l, l, n, n, true);
      expect(relError(await dev.read(x), want)).toBeLessThan(1e-4);
      m.dispose();
      x.dispose();
    });

    it('property: L·X = B holds for random lower-triangular systems', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 48 }),
          fc.integer({ min: 1, max: 20 }),
          fc.integer({ min: 1, max: 3 }),
          fc.boolean(),
          fc.integer({ min: 0, max: 1e6 }),
          async (n, nrhs, batch, transpose, seed) => {
            const l = randomLower(batch, n, seed);
            const b = randn(batch * n * nrhs, seed + 1);
            const { got } = await solve(l, [batch, n, n], b, [batch, n, nrhs], transpose);
            for (let e = 0; e < batch; e++) {
              const want = refTrsm(l, b, n, nrhs, transpose, e * n * n, e * n * nrhs);
              expect(relError(got.subarray(e * n * nrhs, (e + 1) * n * nrhs), want)).toBeLessThan(2e-5);
            }
          },
        ),
        { numRuns: 8 },
      );
    });
  });

  describe('cholesky solve', () => {
    const cases: [number, number, number, number][] = [
      // [batch, n, nrhs, shift]
      [16, 65, 3, 0.5],
      [64, 16, 1, 0.01],
      [1, 600, 1, 0.1],
      [2, 300, 5, 0],
    ];
    for (const [batch, n, nrhs, shift] of cases) {
      it(`solves (A + ${shift}·I)·X = B for batch ${batch}, n=${n}, nrhs=${nrhs}`, async () => {
        const a = randomSpd(batch, n, 30 + n, 0.5);
        const b = randn(batch * n * nrhs, 31);
        const am = dev.matrix(a, [batch, n, n]);
        const bm = dev.matrix(b, [batch, n, nrhs]);
        const x: Matrix = dev.choleskySolve(am, bm, { shift });
        const got = await dev.read(x);
        expect(Array.from(await dev.readInfo(x))).toEqual(new Array(batch).fill(0));
        for (let e = 0; e < batch; e += Math.max(1, batch >> 2)) {
          expect(solveResidual(a, got, b, n, nrhs, e, shift)).toBeLessThan(1e-6);
        }
        for (const m of [am, bm, x]) m.dispose();
      });
    }
  });
});
