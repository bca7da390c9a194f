/**
 * The public device contract on every available backend: shapes and broadcasting, typed errors that name
 * the shapes and change nothing, disposal, device mixing, factorization status reporting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createDevice,
  DeviceMismatchError,
  DisposedError,
  InvalidArgumentError,
  LinalgDevice,
  Matrix,
  NotPositiveDefiniteError,
  ShapeError,
} from '../src/index.js';
import { backends } from './devices.js';
import { randn, randomSpd, refGemm, relError } from './reference.js';

describe.each(await backends())('device contract on %s', (backend) => {
  let dev: LinalgDevice;
  beforeAll(async () => {
    dev = await createDevice({ backend });
  });
  afterAll(() => dev.destroy());

  it('reports its backend and limits', () => {
    expect(dev.backend).toBe(backend);
    expect(dev.info.backend).toBe(backend);
    expect(dev.info.maxElements).toBeGreaterThan(1 << 20);
    expect(dev.info.maxBindingElements).toBeGreaterThan(1 << 20);
    expect(dev.info.maxBindingElements).toBeLessThanOrEqual(dev.info.maxElements);
    expect(dev.info.description.length).toBeGreaterThan(0);
  });

  it('round-trips data and exposes shapes', async () => {
    const data = randn(2 * 3 * 5, 1);
    const m = dev.matrix(data, [2, 3, 5]);
    expect(m).toBeInstanceOf(Matrix);
    expect(m.shape).toEqual([2, 3, 5]);
    expect([m.batch, m.rows, m.cols, m.size]).toEqual([2, 3, 5, 30]);
    expect(await dev.read(m)).toEqual(data);
    const v = dev.matrix([1, 2, 3], [3, 1]);
    expect(v.shape).toEqual([3, 1]);
    expect(Array.from(await dev.read(v))).toEqual([1, 2, 3]);
    m.dispose();
    v.dispose();
  });

  it('gemm keeps 2-D results 2-D and broadcasts a batch of 1', async () => {
    const a = dev.matrix(randn(3 * 4, 2), [3, 4]);
    const b = dev.matrix(randn(5 * 4 * 2, 3), [5, 4, 2]);
    const c = dev.gemm(a, b);
    expect(c.shape).toEqual([5, 3, 2]);
    const got = await dev.read(c);
    const ad = await dev.read(a);
    const bd = await dev.read(b);
    for (let e = 0; e < 5; e++) {
      const want = refGemm(ad, bd, 3, 2, 4, {}, 0, e * 8);
      expect(relError(got.subarray(e * 6, e * 6 + 6), want)).toBeLessThan(1e-6);
    }
    const d = dev.gemm(a, a, { transB: true });
    expect(d.shape).toEqual([3, 3]);
    for (const m of [a, b, c, d]) m.dispose();
  });

  it('element-wise ops, batch sums and reshape views', async () => {
    const x = dev.matrix([1, 2, 3, 4, 5, 6], [2, 1, 3]);
    const y = dev.matrix([10, 20, 30], [1, 3]);
    expect(Array.from(await dev.read(dev.add(x, y, { alpha: 2, beta: -1 })))).toEqual([-8, -16, -24, -2, -10, -18]);
    expect(Array.from(await dev.read(dev.mul(x, y, { alpha: 0.5, shiftA: 1 })))).toEqual([10, 30, 60, 25, 60, 105]);
    expect(Array.from(await dev.read(dev.scale(y, 2, 1)))).toEqual([21, 41, 61]);
    expect(Array.from(await dev.read(dev.sumBatch(x)))).toEqual([5, 7, 9]);
    const r = dev.reshape(x, [3, 2]);
    expect(r.shape).toEqual([3, 2]);
    x.dispose(); // the view keeps the storage alive
    expect(Array.from(await dev.read(r))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(await dev.read(dev.full([2, 2], 0.5)))).toEqual([0.5, 0.5, 0.5, 0.5]);
  });

  it('choleskySolve solves a batch of SPD systems', async () => {
    const n = 9;
    const aData = randomSpd(3, n, 4);
    const a = dev.matrix(aData, [3, n, n]);
    const ones = dev.full([n, 1], 1);
    const x = dev.choleskySolve(a, ones, { shift: 0.5 });
    expect(x.shape).toEqual([3, n, 1]);
    const xd = await dev.read(x);
    for (let e = 0; e < 3; e++) {
      for (let i = 0; i < n; i++) {
        let s = 0.5 * xd[e * n + i]!;
        for (let j = 0; j < n; j++) s += aData[e * n * n + i * n + j]! * xd[e * n + j]!;
        expect(Math.abs(s - 1)).toBeLessThan(1e-4);
      }
    }
    expect(Array.from(await dev.readInfo(x))).toEqual([0, 0, 0]);
  });

  it('reports a non-positive-definite entry per batch and never returns it silently', async () => {
    const good = [4, 0, 0, 0, 0, 9, 0, 0, 0, 0, 1, 0, 0, 0, 0, 2];
    const bad = [1, 0, 0, 0, 0, 2, 0, 0, 0, 0, -1, 0, 0, 0, 0, 4]; // fails at pivot 3
    const a = dev.matrix([...good, ...bad, ...good], [3, 4, 4]);
    const l = dev.cholesky(a);
    expect(Array.from(await dev.readInfo(l))).toEqual([0, 3, 0]);
    const err = await dev.read(l).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotPositiveDefiniteError);
    expect((err as NotPositiveDefiniteError).failed).toEqual([1]);
    expect(Array.from((err as NotPositiveDefiniteError).info)).toEqual([0, 3, 0]);
    // anything solved through the failed factor inherits the status
    const x = dev.choleskySolve(a, dev.full([4, 1], 1));
    await expect(dev.read(x)).rejects.toBeInstanceOf(NotPositiveDefiniteError);
    const raw = await dev.read(l, { allowFailed: true });
    expect(raw.length).toBe(48);
    expect(Array.from(raw.subarray(0, 16))).toEqual([2, 0, 0, 0, 0, 3, 0, 0, 0, 0, 1, 0, 0, 0, 0, Math.fround(Math.SQRT2)]);
    // a NaN pivot is a failure too
    const nan = dev.cholesky(dev.matrix([1, 0, 0, Number.NaN], [2, 2]));
    expect(Array.from(await dev.readInfo(nan))).toEqual([2]);
  });

  it('throws typed errors that name the shapes and enqueue nothing', async () => {
    const a = dev.matrix(randn(6, 5), [2, 3]);
    const b = dev.matrix(randn(8, 6), [2, 4]);
    expect(() => dev.gemm(a, b)).toThrow(ShapeError);
    expect(() => dev.gemm(a, b)).toThrow(/\[2,3\].*\[2,4\]|2×3.*2×4/);
    expect(() => dev.gemm(dev.matrix(randn(12, 1), [2, 2, 3]), dev.matrix(randn(27, 1), [3, 3, 3]))).toThrow(
      /batch sizes do not broadcast: \[2,2,3\] and \[3,3,3\]/,
    );
    expect(() => dev.gemm(a, a, { transB: true, c: b })).toThrow(ShapeError);
    expect(() => dev.gemm(a, a, { transB: true, alpha: Number.NaN })).toThrow(InvalidArgumentError);
    expect(() => dev.cholesky(a)).toThrow(/square/);
    expect(() => dev.cholesky(dev.matrix([1], [1, 1]), { shift: Infinity })).toThrow(InvalidArgumentError);
    expect(() => dev.triangularSolve(dev.matrix(randn(9, 2), [3, 3]), b)).toThrow(/rows/);
    expect(() => dev.choleskySolve(dev.matrix(randn(9, 2), [3, 3]), b)).toThrow(ShapeError);
    expect(() => dev.add(a, b)).toThrow(ShapeError);
    expect(() => dev.reshape(a, [4, 2])).toThrow(ShapeError);
    expect(() => dev.matrix([1, 2, 3], [2, 2])).toThrow(InvalidArgumentError);
    expect(() => dev.matrix([1, 2], [0, 2])).toThrow(ShapeError);
    expect(() => dev.matrix([1, 2], [2] as unknown as [number, number])).toThrow(ShapeError);
    expect(() => dev.full([2, 2], Number.NaN)).toThrow(InvalidArgumentError);
    // operands are untouched by failed calls
    expect((await dev.read(a)).length).toBe(6);
    expect(await dev.read(a)).toEqual(randn(6, 5));
  });

  it('rejects disposed handles and handles from another device', async () => {
    const a = dev.matrix([1, 2, 3, 4], [2, 2]);
    a.dispose();
    a.dispose(); // idempotent
    expect(a.isDisposed).toBe(true);
    expect(() => dev.gram(a)).toThrow(DisposedError);
    await expect(dev.read(a)).rejects.toBeInstanceOf(DisposedError);
    const other = await createDevice({ backend: 'cpu' });
    const foreign = other.matrix([1, 2, 3, 4], [2, 2]);
    const mine = dev.matrix([1, 0, 0, 1], [2, 2]);
    expect(() => dev.gemm(mine, foreign)).toThrow(DeviceMismatchError);
    expect(() => dev.gemm(mine, foreign)).toThrow(/belongs to device/);
    other.destroy();
    expect(() => other.matrix([1], [1, 1])).toThrow(DisposedError);
    expect(() => other.gram(foreign)).toThrow(DisposedError);
    expect(await dev.read(mine)).toEqual(new Float32Array([1, 0, 0, 1]));
  });
});

describe('fromGpuBuffer on the CPU backend', () => {
  it('is a typed error', async () => {
    const dev = await createDevice({ backend: 'cpu' });
    expect(() => dev.fromGpuBuffer({ size: 16, usage: 4 } as GPUBuffer, [2, 2])).toThrow(/needs the webgpu backend/);
    dev.destroy();
  });
});

describe('createDevice', () => {
  it('rejects an unknown backend name', async () => {
    await expect(createDevice({ backend: 'tpu' as 'cpu' })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
  it("'auto' yields a working device", async () => {
    const dev = await createDevice();
    expect(['cpu', 'webgpu']).toContain(dev.backend);
    const x = dev.gram(dev.matrix([1, 2, 3, 4], [2, 2]));
    expect(Array.from(await dev.read(x))).toEqual([5, 11, 11, 25]);
    dev.destroy();
  });
});
