/**
 * Cholesky, triangular solves (forward, transposed, Cholesky solves; sweep and blocked), the element-wise maps
 * and sumBatch past the storage-binding limit on WebGPU, with the limit lowered through `maxBindingBytes`
 * (4 KiB, and 20 KiB; 512 KiB for the blocked algorithms' GEMM updates): the batch runs in chunks of whole
 * entries (element-wise maps in flat ranges) bound at aligned offsets. Results equal those of an unlimited
 * device exactly (the same kernels compute the same entries), match float64 references, and keep per-entry
 * `info` (failed factorizations, singular diagonals) right in later chunks. One entry that cannot fit a
 * binding is refused with DeviceLimitError and nothing changes.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LinalgDevice } from '../src/device.js';
import { createDevice, DeviceLimitError, type Matrix } from '../src/index.js';
import { WebGpuBackend } from '../src/webgpu/backend.js';
import { encodeCholesky } from '../src/webgpu/cholesky/cholesky.js';
import { encodeTrsm } from '../src/webgpu/trsm/trsm.js';
import { webgpuAvailable } from './devices.js';
import {
  randn,
  randomLower,
  randomSpd,
  refCholesky,
  refTriangularSolve,
  refTrsmInfo,
  relError,
} from './reference.js';

const available = await webgpuAvailable();

/** Bytes of a shape's float32 data. */
const bytes = (shape: readonly number[]) => shape.reduce((p, x) => p * x, 4);

describe.runIf(available)('webgpu unlimited reference device', () => {
  // One device without a lowered limit, shared by the suites below.
  let ref: LinalgDevice;
  beforeAll(async () => {
    ref = await createDevice({ backend: 'webgpu' });
  });
  afterAll(() => ref?.destroy());

  describe.each([4096, 20480])('cholesky, solves and element-wise maps past a %i-byte binding limit', (limit) => {
    let dev: LinalgDevice;
    beforeAll(async () => {
      dev = await createDevice({ backend: 'webgpu', maxBindingBytes: limit });
    });
    afterAll(() => dev?.destroy());

    interface Input {
      readonly data: Float32Array;
      readonly shape: readonly number[];
    }

    /**
     * Runs `op` on the limited device and on the unlimited one with the same inputs; returns the limited
     * device's data and info after checking both are identical.
     */
    async function same(inputs: readonly Input[], op: (d: LinalgDevice, ms: Matrix[]) => Matrix) {
      const results = [];
      for (const d of [dev, ref]) {
        const ms = inputs.map((x) => d.matrix(x.data, x.shape));
        const r = op(d, ms);
        results.push({ data: await d.read(r, { allowFailed: true }), info: await d.readInfo(r) });
        [...ms, r].forEach((m) => m.dispose());
      }
      const [got, want] = results as [(typeof results)[0], (typeof results)[0]];
      expect(got.data).toEqual(want.data);
      expect(Array.from(got.info)).toEqual(Array.from(want.info));
      return got;
    }

    it('reports the lowered limit', () => {
      expect(dev.info.maxBindingElements).toBe(limit / 4);
    });

    it('cholesky: batch chunks, a non-SPD entry in a later chunk, against float64', async () => {
      const [batch, n, shift] = [37, 13, 0.3];
      expect(bytes([batch, n, n])).toBeGreaterThan(limit);
      const a = randomSpd(batch, n, 21);
      a[33 * n * n + 9 * n + 9] = -50; // entry 33 (a later chunk at both limits) fails at pivot 10
      const { data, info } = await same([{ data: a, shape: [batch, n, n] }], (d, [m]) => d.cholesky(m!, { shift }));
      const want = new Array(batch).fill(0);
      want[33] = 10;
      expect(Array.from(info)).toEqual(want);
      for (let e = 0; e < batch; e++) {
        const r = refCholesky(a, n, e, shift);
        expect(r.info).toBe(want[e]);
        if (r.info === 0) expect(relError(data.subarray(e * n * n, (e + 1) * n * n), r.l)).toBeLessThan(2e-5);
      }
    });

    it('cholesky: unbatched within one binding, and many 1×1 entries whose status exceeds a binding', async () => {
      const n = 29; // 3,364 bytes
      const a = randomSpd(1, n, 22);
      const { data } = await same([{ data: a, shape: [n, n] }], (d, [m]) => d.cholesky(m!));
      expect(relError(data, refCholesky(a, n).l)).toBeLessThan(2e-5);
      const batch = limit / 4 + 77; // the status alone is past the limit
      const diag = Float32Array.from({ length: batch }, (_, e) => (e === batch - 3 ? -1 : 1 + (e % 5)));
      const { data: l, info } = await same([{ data: diag, shape: [batch, 1, 1] }], (d, [m]) => d.cholesky(m!));
      expect(Array.from(info)).toEqual(Array.from({ length: batch }, (_, e) => (e === batch - 3 ? 1 : 0)));
      for (let e = 0; e < batch; e++) if (e !== batch - 3) expect(l[e]).toBeCloseTo(Math.sqrt(diag[e]!), 6);
    });

    it('property: cholesky over random batches equals the unlimited device, failures included', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 24 }),
          fc.integer({ min: 1, max: 60 }),
          fc.double({ min: 0, max: 1, noNaN: true }),
          fc.integer({ min: 0, max: 1e6 }),
          async (n, batch, shift, seed) => {
            const a = randomSpd(batch, n, seed, 0.2);
            const bad = seed % batch;
            if (seed % 3 === 0) a[bad * n * n + (n - 1) * (n + 1)] = -100; // fails at pivot n
            const { info } = await same([{ data: a, shape: [batch, n, n] }], (d, [m]) => d.cholesky(m!, { shift }));
            for (let e = 0; e < batch; e++) expect(info[e]).toBe(refCholesky(a, n, e, shift).info);
          },
        ),
        { numRuns: 6 },
      );
    });

    /** A lower-triangular batch whose entry `singular` has a zero diagonal at 1-based index `at`. */
    const lower = (batch: number, n: number, seed: number, singular = -1, at = 1) => {
      const l = randomLower(batch, n, seed, 7);
      if (singular >= 0) l[singular * n * n + (at - 1) * (n + 1)] = 0;
      return l;
    };

    it('triangularSolve: forward and transposed, batched and broadcast, a singular entry in a later chunk', async () => {
      const [batch, n, k] = [50, 11, 3];
      expect(bytes([batch, n, n])).toBeGreaterThan(limit);
      const l = lower(batch, n, 31, 44, 6);
      const l1 = lower(1, n, 32);
      const b = randn(batch * n * k, 33);
      const b1 = randn(n * k, 34);
      for (const transpose of [false, true]) {
        for (const [lData, lShape, bData, bShape] of [
          [l, [batch, n, n], b, [batch, n, k]],
          [l1, [n, n], b, [batch, n, k]], // one L for every entry
          [l, [batch, n, n], b1, [n, k]], // one B for every entry
        ] as const) {
          const { data, info } = await same(
            [{ data: lData, shape: lShape }, { data: bData, shape: bShape }],
            (d, [lm, bm]) => d.triangularSolve(lm!, bm!, { transpose }),
          );
          for (let e = 0; e < batch; e++) {
            const ol = lShape.length === 3 ? e * n * n : 0;
            const ob = bShape.length === 3 ? e * n * k : 0;
            const code = refTrsmInfo(lData, n, ol);
            expect(info[e], `entry ${e}`).toBe(code);
            if (code !== 0) continue;
            const want = refTriangularSolve(lData, bData, n, k, transpose, ol, ob);
            expect(relError(data.subarray(e * n * k, (e + 1) * n * k), want), `entry ${e}`).toBeLessThan(1e-5);
          }
        }
      }
    });

    it('triangularSolve: the blocked regime (in place, with the broadcast copy) in chunks', async () => {
      // forced on the backends of both devices: one diagonal block (n ≤ 256), X = B copied by the kernel
      const [batch, n, k] = [23, 9, 10];
      const l = lower(batch, n, 35, 19, 4);
      const b = randn(n * k, 36);
      const outs = [];
      for (const maxBindingBytes of [limit, undefined]) {
        const backend = await WebGpuBackend.create(maxBindingBytes ? { maxBindingBytes } : {});
        const lb = backend.upload(l);
        const bb = backend.upload(b);
        const out = backend.alloc(batch * n * k);
        const plan = { batch, n, nrhs: k, transpose: true, strideL: n * n, strideB: 0 };
        encodeTrsm(backend.ctx, plan, lb, bb, out, 'blocked');
        outs.push(await backend.read(out, batch * n * k));
        backend.destroy();
      }
      expect(outs[0]).toEqual(outs[1]);
      for (const e of [0, 18, 22]) {
        const want = refTriangularSolve(l, b, n, k, true, e * n * n, 0);
        expect(relError(outs[0]!.subarray(e * n * k, (e + 1) * n * k), want)).toBeLessThan(1e-5);
      }
    });

    it('choleskySolve: batch chunks, a failed factorization in a later chunk', async () => {
      const [batch, n, k] = [45, 12, 2];
      const a = randomSpd(batch, n, 41);
      a[40 * n * n] = -1; // entry 40 fails at pivot 1
      const b = randn(batch * n * k, 42);
      const { data, info } = await same(
        [{ data: a, shape: [batch, n, n] }, { data: b, shape: [batch, n, k] }],
        (d, [am, bm]) => d.choleskySolve(am!, bm!, { shift: 0.1 }),
      );
      expect(Array.from(info)).toEqual(Array.from({ length: batch }, (_, e) => (e === 40 ? 1 : 0)));
      for (const e of [0, 39, 44]) {
        const { l } = refCholesky(a, n, e, 0.1);
        const y = refTriangularSolve(l, b, n, k, false, 0, e * n * k);
        const x = refTriangularSolve(l, y, n, k, true);
        expect(relError(data.subarray(e * n * k, (e + 1) * n * k), x)).toBeLessThan(1e-4);
      }
    });

    it('element-wise maps in flat ranges: batched, broadcast (also an entry beyond a binding), unbatched', async () => {
      const check = async (aShape: number[], bShape: number[] | null, seed: number) => {
        const a = randn(aShape.reduce((p, x) => p * x, 1), seed);
        const b = bShape ? randn(bShape.reduce((p, x) => p * x, 1), seed + 1) : null;
        const rows = aShape.at(-2)!;
        const cols = aShape.at(-1)!;
        const size = rows * cols;
        const batch = Math.max(aShape.length === 3 ? aShape[0]! : 1, bShape?.length === 3 ? bShape[0]! : 1);
        const at = (x: Float32Array, shape: number[], e: number, i: number) => x[(shape.length === 3 && shape[0]! > 1 ? e * size : 0) + i]!;
        const inputs = [{ data: a, shape: aShape }, ...(b ? [{ data: b, shape: bShape! }] : [])];
        const ops: [string, (d: LinalgDevice, ms: Matrix[]) => Matrix, (x: number, y: number) => number][] = [
          ['scale', (d, [m]) => d.scale(m!, -1.5, 0.25), (x) => -1.5 * x + 0.25],
        ];
        if (b) {
          ops.push(['add', (d, [m, n]) => d.add(m!, n!, { alpha: 2, beta: -0.5 }), (x, y) => 2 * x - 0.5 * y]);
          ops.push(['mul', (d, [m, n]) => d.mul(m!, n!, { alpha: 3, shiftA: 0.5 }), (x, y) => 3 * (x + 0.5) * y]);
        }
        for (const [name, op, f] of ops) {
          const { data } = await same(inputs, op);
          const entries = name === 'scale' ? a.length / size : batch; // scale reads A alone
          const want = new Float64Array(entries * size);
          for (let e = 0; e < entries; e++) {
            for (let i = 0; i < size; i++) want[e * size + i] = f(at(a, aShape, e, i), b ? at(b, bShape!, e, i) : 0);
          }
          expect(relError(data, want), `${name} ${aShape.join('×')} ${bShape?.join('×') ?? ''}`).toBeLessThan(1e-6);
        }
      };
      await check([7, 13, 17], [7, 13, 17], 51); // 6,188 bytes each
      await check([75, 75], [75, 75], 52); // unbatched, 22,500 bytes
      await check([3, 75, 75], [75, 75], 53); // the broadcast B's one entry is beyond the binding
      await check([1, 5, 7], [300, 5, 7], 54); // broadcast A against a long batch
    });

    it('sumBatch: entry chunks that accumulate, and column blocks when one entry is beyond a binding', async () => {
      for (const [batch, rows, cols, seed] of [
        [211, 3, 5, 61], // entries of 60 bytes, 12,660 in all
        [3, 75, 75, 62], // one entry of 22,500 bytes
        [1, 80, 70, 63], // a batch of one
      ] as const) {
        const a = randn(batch * rows * cols, seed);
        const { data } = await same([{ data: a, shape: [batch, rows, cols] }], (d, [m]) => d.sumBatch(m!));
        const want = new Float64Array(rows * cols);
        for (let e = 0; e < batch; e++) for (let i = 0; i < rows * cols; i++) want[i] = want[i]! + a[e * rows * cols + i]!;
        expect(relError(data, want)).toBeLessThan(1e-5);
      }
    });

    it('property: element-wise maps and sums over random shapes equal the unlimited device', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 40 }),
          fc.integer({ min: 1, max: 60 }),
          fc.integer({ min: 1, max: 60 }),
          fc.constantFrom('both', 'a', 'b'),
          fc.integer({ min: 0, max: 1e6 }),
          async (batch, rows, cols, batched, seed) => {
            const shapeA = batched === 'b' ? [rows, cols] : [batch, rows, cols];
            const shapeB = batched === 'a' ? [rows, cols] : [batch, rows, cols];
            const inputs = [
              { data: randn(bytes(shapeA) / 4, seed), shape: shapeA },
              { data: randn(bytes(shapeB) / 4, seed + 1), shape: shapeB },
            ];
            await same(inputs, (d, [a, b]) => d.add(a!, b!, { alpha: 0.5, beta: 2 }));
            await same(inputs, (d, [a, b]) => d.mul(a!, b!, { shiftA: -0.25 }));
            await same(inputs.slice(1), (d, [b]) => d.sumBatch(b!));
          },
        ),
        { numRuns: 8 },
      );
    });

    /** Expects `op` to throw DeviceLimitError naming `pattern`, and nothing to have changed. */
    async function expectRefused(op: () => unknown, inputs: Matrix[], pattern: RegExp) {
      const before = await Promise.all(inputs.map((m) => dev.read(m)));
      const stats = dev.stats();
      expect(() => op()).toThrow(DeviceLimitError);
      expect(() => op()).toThrow(pattern);
      const after = dev.stats();
      expect(after.liveStorages).toBe(stats.liveStorages);
      expect(after.gpuBuffers - after.pooledBuffers).toBe(stats.gpuBuffers - stats.pooledBuffers); // none in use
      await dev.sync(); // nothing half-recorded fails later
      for (let i = 0; i < inputs.length; i++) expect(await dev.read(inputs[i]!)).toEqual(before[i]);
    }

    it('refuses one entry beyond a binding, changing nothing', async () => {
      const n = Math.ceil(Math.sqrt(limit / 4)) + 1; // one n×n entry is past the limit
      const a = dev.matrix(randomSpd(2, n, 71), [2, n, n]);
      const one = dev.matrix(randomSpd(1, n, 72), [n, n]);
      const b = dev.matrix(randn(2 * n * 2, 73), [2, n, 2]);
      await expectRefused(() => dev.cholesky(a), [a], new RegExp(`cholesky: one batch entry of A \\(${n * n} elements`));
      await expectRefused(() => dev.cholesky(one), [one], /cholesky: one batch entry of A/);
      await expectRefused(() => dev.triangularSolve(a, b), [a, b], /triangularSolve: one batch entry of L/);
      await expectRefused(() => dev.triangularSolve(one, b, { transpose: true }), [one, b], /triangularSolve: one batch entry of L/);
      await expectRefused(() => dev.choleskySolve(a, b), [a, b], /choleskySolve: one batch entry of L/);
      // L fits, one entry of B (and X) does not: the solve refuses before the factorization is recorded
      const small = dev.matrix(randomSpd(1, 4, 74), [4, 4]);
      const wide = dev.matrix(randn(4 * (limit / 16 + 3), 75), [4, limit / 16 + 3]);
      await expectRefused(() => dev.triangularSolve(small, wide), [small, wide], /triangularSolve: one batch entry of B/);
      await expectRefused(() => dev.choleskySolve(small, wide), [small, wide], /choleskySolve: one batch entry of B/);
      [a, one, b, small, wide].forEach((m) => m.dispose());
    });
  });

  describe('blocked algorithms with their GEMM updates past a 512 KiB binding limit', () => {
    const limit = 512 * 1024;
    let dev: LinalgDevice;
    beforeAll(async () => {
      dev = await createDevice({ backend: 'webgpu', maxBindingBytes: limit });
    });
    afterAll(() => dev?.destroy());

    it('cholesky n=130 (blocked) in chunks of entries, a failure in a later chunk', async () => {
      const [batch, n] = [9, 130]; // 67,600 bytes an entry: chunks of 7
      expect(bytes([batch, n, n])).toBeGreaterThan(limit);
      const a = randomSpd(batch, n, 81);
      a[8 * n * n + 100 * (n + 1)] = -1e4; // entry 8 fails at pivot 101, in the fourth diagonal block
      const got = [];
      for (const d of [dev, ref]) {
        const m = d.matrix(a, [batch, n, n]);
        const l = d.cholesky(m);
        got.push({ data: await d.read(l, { allowFailed: true }), info: await d.readInfo(l) });
        m.dispose();
        l.dispose();
      }
      expect(got[0]!.data).toEqual(got[1]!.data);
      expect(Array.from(got[0]!.info)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 101]);
      for (const e of [0, 6, 7]) {
        expect(relError(got[0]!.data.subarray(e * n * n, (e + 1) * n * n), refCholesky(a, n, e).l)).toBeLessThan(5e-5);
      }
    });

    it('blocked triangular solves n=300 (two diagonal blocks and a GEMM update) one entry per chunk', async () => {
      const [batch, n, k] = [3, 300, 9]; // L entries of 360,000 bytes
      const l = randomLower(batch, n, 82);
      const b = randn(batch * n * k, 83);
      for (const transpose of [false, true]) {
        const outs = [];
        for (const d of [dev, ref]) {
          const lm = d.matrix(l, [batch, n, n]);
          const bm = d.matrix(b, [batch, n, k]);
          const x = d.triangularSolve(lm, bm, { transpose });
          outs.push(await d.read(x));
          [lm, bm, x].forEach((m) => m.dispose());
        }
        expect(outs[0]).toEqual(outs[1]);
        for (let e = 0; e < batch; e++) {
          const want = refTriangularSolve(l, b, n, k, transpose, e * n * n, e * n * k);
          expect(relError(outs[0]!.subarray(e * n * k, (e + 1) * n * k), want)).toBeLessThan(1e-4);
        }
      }
    });

    it('forced blocked cholesky of small entries (n=47, two blocks) in chunks, against the unlimited backend', async () => {
      const [batch, n] = [400, 47]; // 8,836 bytes an entry (chunks of 59, not aligned), 3.5 MB in all
      const a = randomSpd(batch, n, 84);
      a[350 * n * n + 40 * (n + 1)] = -1e3; // entry 350 fails at pivot 41, in the second block
      const results = [];
      for (const maxBindingBytes of [limit, undefined]) {
        const backend = await WebGpuBackend.create(maxBindingBytes ? { maxBindingBytes } : {});
        const d = new LinalgDevice(backend);
        const ab = backend.upload(a);
        const out = backend.alloc(batch * n * n);
        const info = backend.allocInfo(batch);
        encodeCholesky(backend.ctx, { batch, n, shift: 0 }, ab, out, info, 'blocked');
        results.push({ data: await backend.read(out, batch * n * n), info: await backend.readInfo(info, batch) });
        d.destroy();
      }
      expect(results[0]!.data).toEqual(results[1]!.data);
      expect(Array.from(results[0]!.info)).toEqual(Array.from(results[1]!.info));
      expect(results[0]!.info[350]).toBe(41);
    });
  });
});
