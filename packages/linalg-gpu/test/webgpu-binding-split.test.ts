/**
 * Work past the storage-binding limit on WebGPU, with the limit lowered to 4 KiB (1,024 floats) through
 * `maxBindingBytes`: GEMM and Gram split over batch chunks and row blocks bound at aligned offsets and match
 * float64 references (scalar and vec4 kernels, C, transposes, broadcasting); what cannot split — one entry of B,
 * one entry of A used transposed, one entry of a Cholesky or solve operand — is refused with DeviceLimitError
 * and nothing changes; element-wise maps and sumBatch of such operands split; copies are not limited by
 * bindings. (Cholesky, solves and element-wise maps in chunks: webgpu-binding-split-batched.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDevice, DeviceLimitError, InvalidArgumentError, type LinalgDevice, type Matrix } from '../src/index.js';
import { webgpuAvailable } from './devices.js';
import { randn, refGemm, relError } from './reference.js';

const available = await webgpuAvailable();
const LIMIT = 4096;

describe.runIf(available)('webgpu work past the binding limit', () => {
  let dev: LinalgDevice;
  beforeAll(async () => {
    dev = await createDevice({ backend: 'webgpu', maxBindingBytes: LIMIT });
  });
  afterAll(() => dev.destroy());

  /** gemm on the device against float64, every batch entry (`bBatch` 1 broadcasts B). */
  async function checkGemm(
    batch: number,
    m: number,
    n: number,
    k: number,
    o: { transA?: boolean; transB?: boolean; withC?: boolean; bBatch?: number; alpha?: number; beta?: number },
    seed: number,
  ) {
    const bBatch = o.bBatch ?? batch;
    const a = randn(batch * m * k, seed);
    const b = randn(bBatch * k * n, seed + 1);
    const c = o.withC ? randn(batch * m * n, seed + 2) : undefined;
    const shape = (rows: number, cols: number, e: number) => (e === 1 && batch === 1 ? [rows, cols] : [e, rows, cols]);
    const am = dev.matrix(a, o.transA ? shape(k, m, batch) : shape(m, k, batch));
    const bm = dev.matrix(b, o.transB ? shape(n, k, bBatch) : shape(k, n, bBatch));
    const cm = c ? dev.matrix(c, shape(m, n, batch)) : undefined;
    const opts = { transA: o.transA ?? false, transB: o.transB ?? false, alpha: o.alpha ?? 1, beta: o.beta ?? 1, ...(cm ? { c: cm } : {}) };
    const out = dev.gemm(am, bm, opts);
    const got = await dev.read(out);
    for (let e = 0; e < batch; e++) {
      const want = refGemm(a, b, m, n, k, { ...opts, c }, e * m * k, bBatch === 1 ? 0 : e * k * n, e * m * n);
      expect(relError(got.subarray(e * m * n, (e + 1) * m * n), want), `entry ${e}`).toBeLessThan(1e-5);
    }
    [am, bm, out, ...(cm ? [cm] : [])].forEach((x) => x.dispose());
  }

  it('reports the lowered limit', () => {
    expect(dev.info.maxBindingElements).toBe(LIMIT / 4);
    expect(dev.info.maxElements).toBeGreaterThan(1 << 20);
  });

  it('gemm: batch chunks when every entry fits a binding but the batch does not', async () => {
    await checkGemm(6, 20, 25, 30, {}, 1); // A entries 2,400 bytes, whole A 14,400
    await checkGemm(5, 17, 9, 13, { transA: true, withC: true, beta: -0.5 }, 2); // A used transposed, entries fit
    await checkGemm(7, 12, 20, 16, { transB: true, alpha: 2 }, 3); // vec4 kernel
  });

  it('gemm: row blocks when one entry is larger than a binding', async () => {
    await checkGemm(1, 100, 20, 30, { withC: true, beta: 0.25 }, 4); // A 12,000 bytes, C 8,000
    await checkGemm(1, 128, 16, 32, { transB: true }, 5); // vec4 kernel, out 8 KiB
    await checkGemm(3, 70, 11, 9, { bBatch: 1 }, 6); // a batch of large entries against one broadcast B
    await checkGemm(2, 333, 3, 1, {}, 7); // a column result of 333 rows from rank-1 factors
  });

  it('gram: batch chunks and row blocks, exactly symmetric', async () => {
    for (const [batch, n, d] of [
      [4, 12, 30], // each out entry fits, the batch does not
      [2, 45, 20], // out entry 45×45 = 8,100 bytes: row blocks over a full product
      [1, 64, 16], // vec4 kernel
    ] as const) {
      const a = randn(batch * n * d, n + d);
      const am = dev.matrix(a, [batch, n, d]);
      const g = dev.gram(am);
      const got = await dev.read(g);
      for (let e = 0; e < batch; e++) {
        const want = refGemm(a, a, n, n, d, { transB: true }, e * n * d, e * n * d);
        const entry = got.subarray(e * n * n, (e + 1) * n * n);
        expect(relError(entry, want)).toBeLessThan(1e-5);
        for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) expect(entry[i * n + j]).toBe(entry[j * n + i]);
      }
      am.dispose();
      g.dispose();
    }
  });

  /** Expects `op` to throw DeviceLimitError and to leave storages, GPU buffers and `inputs` as they were. */
  async function expectRefused(op: () => unknown, inputs: Matrix[], pattern: RegExp) {
    const before = await Promise.all(inputs.map((m) => dev.read(m)));
    const stats = dev.stats();
    let thrown: unknown;
    try {
      op();
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(DeviceLimitError);
    expect((thrown as Error).message).toMatch(pattern);
    expect(dev.stats().liveStorages).toBe(stats.liveStorages);
    await dev.sync(); // nothing half-recorded fails later
    for (let i = 0; i < inputs.length; i++) expect(await dev.read(inputs[i]!)).toEqual(before[i]);
  }

  it('refuses what cannot split, changing nothing', async () => {
    const bigB = dev.matrix(randn(40 * 30, 8), [40, 30]); // one entry of B: 4,800 bytes
    const a = dev.matrix(randn(5 * 40, 9), [5, 40]);
    await expectRefused(() => dev.gemm(a, bigB), [a, bigB], /one entry of B \(40×30 stored\)/);
    const bigAt = dev.matrix(randn(40 * 30, 10), [40, 30]); // used transposed: 30×40 op(A), stored 40×30
    const b = dev.matrix(randn(40 * 2, 11), [40, 2]);
    await expectRefused(() => dev.gemm(bigAt, b, { transA: true }), [bigAt, b], /one entry of A used transposed/);
    await expectRefused(() => dev.gram(bigB), [bigB], /one entry of B/); // a Gram reads its whole entry as B
    // one 40×40 entry (6,400 bytes) of a factorization or a solve cannot split
    const spd = dev.matrix(randn(40 * 40, 12), [40, 40]);
    await expectRefused(() => dev.cholesky(spd), [spd], /cholesky: one batch entry of A \(1600 elements/);
    await expectRefused(() => dev.choleskySolve(spd, b), [spd, b], /choleskySolve: one batch entry of L \(1600/);
    await expectRefused(() => dev.triangularSolve(spd, b), [spd, b], /triangularSolve: one batch entry of L \(1600/);
    [bigB, a, bigAt, b, spd].forEach((m) => m.dispose());
  });

  it('element-wise maps and sumBatch of the same operands (refused before) split and match float64', async () => {
    const data = randn(40 * 40, 12);
    const spd = dev.matrix(data, [40, 40]);
    const sum = dev.add(spd, spd);
    const scaled = dev.scale(spd, 2);
    const prod = dev.mul(spd, spd);
    const want2x = Array.from(data, (x) => 2 * x);
    expect(relError(await dev.read(sum), want2x)).toBeLessThan(1e-7);
    expect(relError(await dev.read(scaled), want2x)).toBeLessThan(1e-7);
    expect(relError(await dev.read(prod), Array.from(data, (x) => x * x))).toBeLessThan(1e-6);
    const stacked = randn(3 * 20 * 20, 13);
    const stackable = dev.matrix(stacked, [3, 20, 20]);
    const total = dev.sumBatch(stackable);
    const want = Array.from({ length: 400 }, (_, i) => stacked[i]! + stacked[400 + i]! + stacked[800 + i]!);
    expect(relError(await dev.read(total), want)).toBeLessThan(1e-6);
    [spd, sum, scaled, prod, stackable, total].forEach((m) => m.dispose());
  });

  it('copies go past the binding limit: matrix, stack, take, reshape, read', async () => {
    const data = randn(3 * 30 * 30, 15); // 10,800 bytes
    const m = dev.matrix(data, [3, 30, 30]);
    const s = dev.stack([m, m]);
    const t = dev.take(s, [4, 0]);
    const r = dev.reshape(t, [60, 30]);
    const got = await dev.read(r);
    expect(got.subarray(0, 900)).toEqual(data.subarray(900, 1800));
    expect(got.subarray(900)).toEqual(data.subarray(0, 900));
    // and feeds gemm, which splits it into row blocks
    const bd = randn(30 * 8, 16);
    const p = dev.gemm(r, dev.matrix(bd, [30, 8]));
    expect(relError(await dev.read(p), refGemm(got, bd, 60, 8, 30, {}))).toBeLessThan(1e-5);
    [m, s, t, r, p].forEach((x) => x.dispose());
  });

  it('rejects an invalid cap', async () => {
    for (const bad of [100, 1000, -16, 1.5e3 + 0.5]) {
      await expect(createDevice({ backend: 'webgpu', maxBindingBytes: bad })).rejects.toBeInstanceOf(InvalidArgumentError);
    }
  });
});
