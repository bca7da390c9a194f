/**
 * `stack` (concatenate along the batch) and `take` (gather batch entries) on every available backend:
 * exact values (NaN/±∞ included, each in its own entry), shapes, 2-D / batch-of-1 operands, factorization
 * status travelling with the entries, and typed errors that change nothing.
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
import { randn, randomSpd } from './reference.js';

describe.each(await backends())('stack / take on %s', (backend) => {
  let dev: LinalgDevice;
  beforeAll(async () => {
    dev = await createDevice({ backend });
  });
  afterAll(() => dev.destroy());

  const entries = (data: Float32Array, size: number): Float32Array[] =>
    Array.from({ length: data.length / size }, (_, b) => data.slice(b * size, (b + 1) * size));

  it('stack concatenates 2-D and 3-D operands along the batch, exactly', async () => {
    const [r, c] = [3, 5];
    const a = randn(r * c, 1); // 2-D
    const b = randn(4 * r * c, 2); // [4,r,c]
    const d = randn(r * c, 3); // [1,r,c]
    const ma = dev.matrix(a, [r, c]);
    const mb = dev.matrix(b, [4, r, c]);
    const md = dev.matrix(d, [1, r, c]);
    const s = dev.stack([ma, mb, md, ma]);
    expect(s.shape).toEqual([7, r, c]);
    expect(s).toBeInstanceOf(Matrix);
    const got = await dev.read(s);
    const want = new Float32Array([...a, ...b, ...d, ...a]);
    expect(got).toEqual(want);
    // a single operand is a copy, always 3-D, independent of its source
    const one = dev.stack([ma]);
    expect(one.shape).toEqual([1, r, c]);
    ma.dispose();
    expect(await dev.read(one)).toEqual(a);
    [mb, md, s, one].forEach((m) => m.dispose());
  });

  it('take gathers entries in the given order, with duplicates, and 2-D sources', async () => {
    const [n, r, c] = [5, 2, 3];
    const data = randn(n * r * c, 4);
    const m = dev.matrix(data, [n, r, c]);
    const per = entries(data, r * c);
    for (const idx of [[0], [4, 3, 2, 1, 0], [1, 2, 3], [2, 2, 0, 2], [0, 1, 2, 3, 4], [3, 4, 0, 1]]) {
      const t = dev.take(m, idx);
      expect(t.shape).toEqual([idx.length, r, c]);
      expect(await dev.read(t)).toEqual(new Float32Array(idx.flatMap((i) => [...per[i]!])));
      t.dispose();
    }
    const flat = dev.matrix(per[1]!, [r, c]);
    const rep = dev.take(flat, [0, 0, 0]);
    expect(rep.shape).toEqual([3, r, c]);
    expect(await dev.read(rep)).toEqual(new Float32Array([...per[1]!, ...per[1]!, ...per[1]!]));
    [m, flat, rep].forEach((x) => x.dispose());
  });

  it('non-finite values stay in their own entry', async () => {
    const a = dev.matrix([1, 2, 3, 4], [2, 2]);
    const bad = dev.matrix([NaN, 0, Infinity, -Infinity], [2, 2]);
    const s = dev.stack([a, bad, a]);
    const got = await dev.read(s);
    expect(Array.from(got)).toEqual([1, 2, 3, 4, NaN, 0, Infinity, -Infinity, 1, 2, 3, 4]);
    const t = dev.take(s, [2, 0]);
    expect(Array.from(await dev.read(t))).toEqual([1, 2, 3, 4, 1, 2, 3, 4]);
    [a, bad, s, t].forEach((x) => x.dispose());
  });

  it('orders with the work around it (operands produced and consumed in one chain)', async () => {
    const x = dev.matrix(randn(2 * 3 * 3, 5), [2, 3, 3]);
    const y = dev.scale(x, 2, 1); // enqueued, not yet run
    const s = dev.stack([y, x]);
    const t = dev.take(s, [3, 0]);
    const z = dev.add(t, t); // consumes the copy in the same chain
    const xd = await dev.read(x);
    const yd = xd.map((v) => 2 * v + 1);
    const want = new Float32Array([...xd.subarray(9, 18), ...yd.subarray(0, 9)]).map((v) => v + v);
    expect(Array.from(await dev.read(z))).toEqual(Array.from(want));
    [x, y, s, t, z].forEach((m) => m.dispose());
  });

  it('factorization status travels with the entries', async () => {
    const n = 3;
    const spd = randomSpd(2, n, 6);
    const indefinite = new Float32Array(n * n);
    for (let i = 0; i < n; i++) indefinite[i * n + i] = i === 1 ? -1 : 1;
    const a = dev.matrix(new Float32Array([...spd.subarray(0, n * n), ...indefinite, ...spd.subarray(n * n)]), [3, n, n]);
    const l = dev.cholesky(a); // entry 1 fails at pivot 2
    expect(Array.from(await dev.readInfo(l))).toEqual([0, 2, 0]);
    const good = dev.take(l, [2, 0]);
    expect(Array.from(await dev.readInfo(good))).toEqual([0, 0]);
    await expect(dev.read(good)).resolves.toBeInstanceOf(Float32Array);
    const withBad = dev.take(l, [1, 1, 0]);
    expect(Array.from(await dev.readInfo(withBad))).toEqual([2, 2, 0]);
    await expect(dev.read(withBad)).rejects.toThrow(NotPositiveDefiniteError);
    const plain = dev.matrix(randn(2 * n * n, 7), [2, n, n]);
    const s = dev.stack([plain, l, good]);
    expect(Array.from(await dev.readInfo(s))).toEqual([0, 0, 0, 2, 0, 0, 0]);
    await expect(dev.read(s)).rejects.toThrow(NotPositiveDefiniteError);
    expect(Array.from((await dev.read(s, { allowFailed: true })).subarray(0, 2 * n * n))).toEqual(
      Array.from(await dev.read(plain)),
    );
    // a broadcast factor solved against a batch: its one status covers every entry
    const l0 = dev.cholesky(dev.matrix(indefinite, [n, n]));
    const x = dev.triangularSolve(l0, dev.matrix(randn(2 * n, 8), [2, n, 1]));
    const sx = dev.take(x, [1, 0, 1]);
    expect(Array.from(await dev.readInfo(sx))).toEqual([2, 2, 2]);
    const noInfo = dev.stack([plain, plain]);
    expect(Array.from(await dev.readInfo(noInfo))).toEqual([0, 0, 0, 0]);
    [a, l, good, withBad, plain, s, l0, x, sx, noInfo].forEach((m) => m.dispose());
  });

  it('rejects bad operands with typed errors and changes nothing', async () => {
    const data = randn(3 * 2 * 2, 9);
    const m = dev.matrix(data, [3, 2, 2]);
    const wide = dev.matrix(randn(6, 10), [2, 3]);
    const tall = dev.matrix(randn(6, 11), [3, 2]);
    // stack
    expect(() => dev.stack([])).toThrow(InvalidArgumentError);
    expect(() => dev.stack(null as unknown as Matrix[])).toThrow(InvalidArgumentError);
    expect(() => dev.stack([m, 'x' as unknown as Matrix])).toThrow(InvalidArgumentError);
    expect(() => dev.stack([m, wide])).toThrow(ShapeError);
    expect(() => dev.stack([wide, tall])).toThrow(/\[2,3\], \[3,2\]/);
    // take
    expect(() => dev.take(m, [])).toThrow(InvalidArgumentError);
    expect(() => dev.take(m, null as unknown as number[])).toThrow(InvalidArgumentError);
    for (const bad of [-1, 3, 1.5, NaN, Infinity, '1' as unknown as number]) {
      expect(() => dev.take(m, [0, bad])).toThrow(InvalidArgumentError);
    }
    expect(() => dev.take(m, [0, 3])).toThrow(/entries\[1\] = 3 .*\[0, 3\)/);
    expect(() => dev.take(wide, [1])).toThrow(InvalidArgumentError);
    // another device, disposed handles, destroyed device
    const other = await createDevice({ backend: 'cpu' });
    const foreign = other.matrix([1, 2, 3, 4], [2, 2]);
    expect(() => dev.stack([m, foreign])).toThrow(DeviceMismatchError);
    expect(() => dev.take(foreign, [0])).toThrow(DeviceMismatchError);
    const gone = dev.matrix([1, 2, 3, 4], [2, 2]);
    gone.dispose();
    expect(() => dev.stack([m, gone])).toThrow(DisposedError);
    expect(() => dev.take(gone, [0])).toThrow(DisposedError);
    other.destroy();
    expect(() => other.stack([foreign])).toThrow(DisposedError);
    expect(() => other.take(foreign, [0])).toThrow(DisposedError);
    // nothing changed: operands intact, the device still works
    expect(await dev.read(m)).toEqual(data);
    const t = dev.take(m, [2]);
    expect(await dev.read(t)).toEqual(data.subarray(8, 12));
    [m, wide, tall, t].forEach((x) => x.dispose());
  });
});
