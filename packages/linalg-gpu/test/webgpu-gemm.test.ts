/**
 * WebGPU GEMM / Gram kernels against float64 references: edge tiles, all transposes, batching and
 * broadcasting, alpha/beta with C, the vec4 and scalar variants, and the strided in-place entry used by the
 * blocked factorizations. Runs on the WebGPU backend only: without an adapter it fails under CI (CI=true or
 * IFNGD_REQUIRE_WEBGPU=1, see devices.ts) and is skipped on a developer machine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LinalgDevice } from '../src/device.js';
import { WebGpuBackend } from '../src/webgpu/backend.js';
import type { GpuContext } from '../src/webgpu/context.js';
import { encodeGemmStrided, type StridedGemm } from '../src/webgpu/gemm/gemm.js';
import { webgpuAvailable } from './devices.js';
import { inBrowser } from './env.js';
import { randn, refGemm, relError } from './reference.js';

/**
 * Relative (∞-norm) tolerance for a float32 product with inner dimension k. Float32 rounding errors of a
 * k-term dot product accumulate like a random walk, so the error relative to the result grows ~√k·2⁻²⁴;
 * 1e-5 covers k ≤ 64 with a wide margin, and we scale it by √(k/64) beyond that (4e-5 at k = 1000).
 */
const tol = (k: number): number => 1e-5 * Math.max(1, Math.sqrt(k / 64));

let backend: WebGpuBackend;
let dev: LinalgDevice;
let ctx: GpuContext;

const available = await webgpuAvailable(); // throws under CI when no adapter exists

beforeAll(async () => {
  if (!available) return;
  backend = await WebGpuBackend.create({});
  dev = new LinalgDevice(backend);
  ctx = backend.ctx;
});

afterAll(() => {
  dev?.destroy();
});

interface Case {
  readonly m: number;
  readonly n: number;
  readonly k: number;
}

/** Stored shape of A / B for the given transposes. */
const shapeA = (c: Case, t: boolean): [number, number] => (t ? [c.k, c.m] : [c.m, c.k]);
const shapeB = (c: Case, t: boolean): [number, number] => (t ? [c.n, c.k] : [c.k, c.n]);

const TRANSPOSES = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
] as const;

describe.runIf(available)('webgpu gemm', () => {
  // Odd sizes take the scalar path; multiples of 4 the vec4 path (for the operands whose layout allows it).
  const cases: Case[] = [
    { m: 1, n: 1, k: 1 },
    { m: 7, n: 7, k: 7 },
    { m: 16, n: 16, k: 16 },
    { m: 65, n: 65, k: 65 },
    { m: 257, n: 7, k: 65 },
    { m: 7, n: 257, k: 33 },
    { m: 64, n: 128, k: 68 },
    { m: 65, n: 20, k: 257 },
  ];
  for (const c of cases) {
    for (const [transA, transB] of TRANSPOSES) {
      it(`m=${c.m} n=${c.n} k=${c.k} transA=${transA} transB=${transB}`, async () => {
        const seed = c.m * 1000 + c.n * 10 + c.k + (transA ? 1 : 0) + (transB ? 2 : 0);
        const a = randn(c.m * c.k, seed);
        const b = randn(c.k * c.n, seed + 1);
        const out = dev.gemm(dev.matrix(a, shapeA(c, transA)), dev.matrix(b, shapeB(c, transB)), { transA, transB });
        const got = await dev.read(out);
        expect(relError(got, refGemm(a, b, c.m, c.n, c.k, { transA, transB }))).toBeLessThan(tol(c.k));
      });
    }
  }

  it('large: 1000×1000 · 1000×36 (scalar and vec4 layouts)', async () => {
    const m = 1000;
    const k = 1000;
    for (const n of [36, 37]) {
      const a = randn(m * k, 7 + n);
      const b = randn(k * n, 8 + n);
      const got = await dev.read(dev.gemm(dev.matrix(a, [m, k]), dev.matrix(b, [n, k]), { transB: true }));
      expect(relError(got, refGemm(a, b, m, n, k, { transB: true }))).toBeLessThan(tol(k));
    }
  });

  it('batched, with a broadcast A or B, all transposes', async () => {
    const batch = 3;
    const c: Case = { m: 33, n: 18, k: 21 };
    for (const [transA, transB] of TRANSPOSES) {
      for (const [ba, bb] of [
        [batch, batch],
        [1, batch],
        [batch, 1],
      ] as const) {
        const a = randn(ba * c.m * c.k, 11 + ba);
        const b = randn(bb * c.k * c.n, 12 + bb);
        const out = dev.gemm(
          dev.matrix(a, [ba, ...shapeA(c, transA)]),
          dev.matrix(b, [bb, ...shapeB(c, transB)]),
          { transA, transB },
        );
        expect(out.shape).toEqual([batch, c.m, c.n]);
        const got = await dev.read(out);
        for (let e = 0; e < batch; e++) {
          const want = refGemm(a, b, c.m, c.n, c.k, { transA, transB }, ba === 1 ? 0 : e * c.m * c.k, bb === 1 ? 0 : e * c.k * c.n);
          const slice = got.subarray(e * c.m * c.n, (e + 1) * c.m * c.n);
          expect(relError(slice, want)).toBeLessThan(tol(c.k));
        }
      }
    }
  });

  it('alpha/beta with C, batched and batch-broadcast C', async () => {
    const batch = 2;
    for (const c of [
      { m: 9, n: 70, k: 5 },
      { m: 64, n: 64, k: 64 },
    ]) {
      for (const cb of [batch, 1]) {
        const a = randn(batch * c.m * c.k, 21);
        const b = randn(batch * c.k * c.n, 22);
        const cc = randn(cb * c.m * c.n, 23);
        const alpha = -0.75;
        const beta = 1.5;
        const out = dev.gemm(dev.matrix(a, [batch, c.m, c.k]), dev.matrix(b, [batch, c.n, c.k]), {
          transB: true,
          alpha,
          beta,
          c: dev.matrix(cc, [cb, c.m, c.n]),
        });
        const got = await dev.read(out);
        for (let e = 0; e < batch; e++) {
          const want = refGemm(
            a,
            b,
            c.m,
            c.n,
            c.k,
            { transB: true, alpha, beta, c: cc },
            e * c.m * c.k,
            e * c.k * c.n,
            cb === 1 ? 0 : e * c.m * c.n,
          );
          expect(relError(got.subarray(e * c.m * c.n, (e + 1) * c.m * c.n), want)).toBeLessThan(tol(c.k));
        }
      }
    }
  });

  it('same matrix as both operands (A·Aᵀ through gemm)', async () => {
    const a = randn(40 * 24, 31);
    const x = dev.matrix(a, [40, 24]);
    const got = await dev.read(dev.gemm(x, x, { transB: true }));
    expect(relError(got, refGemm(a, a, 40, 40, 24, { transB: true }))).toBeLessThan(tol(24));
  });

  it.skipIf(inBrowser)('batches beyond the per-dimension dispatch limit are split', async () => {
    const batch = ctx.limits.maxComputeWorkgroupsPerDimension + 3;
    const a = randn(batch * 2, 41);
    const b = randn(batch * 2, 42);
    const got = await dev.read(dev.gemm(dev.matrix(a, [batch, 1, 2]), dev.matrix(b, [batch, 2, 1])));
    const want = Float64Array.from({ length: batch }, (_, e) => a[2 * e]! * b[2 * e]! + a[2 * e + 1]! * b[2 * e + 1]!);
    expect(relError(got, want)).toBeLessThan(1e-6);
    // The last entries come from the second dispatch.
    expect(got[batch - 1]).toBeCloseTo(want[batch - 1]!, 5);
  });
});

describe.runIf(available)('webgpu gram', () => {
  for (const [batch, n, d] of [
    [1, 1, 1],
    [1, 7, 5],
    [2, 65, 130],
    [3, 130, 33],
    [1, 128, 1000],
  ] as const) {
    it(`batch=${batch} n=${n} d=${d}`, async () => {
      const a = randn(batch * n * d, n + d);
      const got = await dev.read(dev.gram(dev.matrix(a, [batch, n, d])));
      for (let e = 0; e < batch; e++) {
        const g = got.subarray(e * n * n, (e + 1) * n * n);
        expect(relError(g, refGemm(a, a, n, n, d, { transB: true }, e * n * d, e * n * d))).toBeLessThan(tol(d));
        for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) expect(g[j * n + i]).toBe(g[i * n + j]);
      }
    });
  }
});

describe.runIf(available)('webgpu strided gemm (encodeGemmStrided)', () => {
  async function readBuffer(buffer: GPUBuffer, elements: number): Promise<Float32Array> {
    return new Float32Array(await ctx.read(buffer, elements * 4));
  }

  /** Float64 reference of `out = alpha·op(A)·op(B) + beta·out` on strided views over plain arrays. */
  function refStrided(
    g: Omit<StridedGemm, 'a' | 'b' | 'out'>,
    a: { data: Float32Array; offset: number; ld: number; batchStride: number },
    b: { data: Float32Array; offset: number; ld: number; batchStride: number },
    out: { data: Float64Array; offset: number; ld: number; batchStride: number },
  ): void {
    for (let e = 0; e < g.batch; e++) {
      const prod = new Float64Array(g.m * g.n);
      for (let i = 0; i < g.m; i++) {
        for (let j = 0; j < g.n; j++) {
          let s = 0;
          for (let p = 0; p < g.k; p++) {
            const av = a.data[a.offset + e * a.batchStride + (g.transA ? p * a.ld + i : i * a.ld + p)]!;
            const bv = b.data[b.offset + e * b.batchStride + (g.transB ? j * b.ld + p : p * b.ld + j)]!;
            s += av * bv;
          }
          prod[i * g.n + j] = s;
        }
      }
      for (let i = 0; i < g.m; i++) {
        for (let j = 0; j < g.n; j++) {
          if (g.lowerOnly && j > i) continue;
          const o = out.offset + e * out.batchStride + i * out.ld + j;
          out.data[o] = g.alpha * prod[i * g.n + j]! + (g.beta !== 0 ? g.beta * out.data[o]! : 0);
        }
      }
    }
  }

  it('sub-matrix views with offsets and leading dimensions, separate buffers, all transposes', async () => {
    for (const [transA, transB] of TRANSPOSES) {
      for (const aligned of [false, true]) {
        // aligned: offsets/pitches multiples of 4 (vec4 variant); otherwise odd (scalar variant).
        const m = aligned ? 68 : 67;
        const n = aligned ? 72 : 70;
        const k = aligned ? 20 : 19;
        const batch = 2;
        const [ra, ca] = transA ? [k, m] : [m, k];
        const [rb, cb] = transB ? [n, k] : [k, n];
        const av = { offset: aligned ? 8 : 5, ld: ca + (aligned ? 4 : 3), batchStride: 0 };
        const bv = { offset: aligned ? 12 : 3, ld: cb + (aligned ? 8 : 1), batchStride: 0 };
        const ov = { offset: aligned ? 4 : 7, ld: n + (aligned ? 4 : 5), batchStride: 0 };
        // Batch strides leave gaps between entries; multiples of 4 when aligned.
        const pitch = (x: number): number => (aligned ? Math.ceil((x + 1) / 4) * 4 : x + 1);
        const av2 = { ...av, batchStride: pitch(av.offset + ra * av.ld) };
        const bv2 = { ...bv, batchStride: pitch(bv.offset + rb * bv.ld) };
        const ov2 = { ...ov, batchStride: pitch(ov.offset + m * ov.ld) };
        const aData = randn(batch * av2.batchStride, 51);
        const bData = randn(batch * bv2.batchStride, 52);
        const oData = randn(batch * ov2.batchStride, 53);
        const g = { batch, m, n, k, transA, transB, alpha: 0.5, beta: -2 };
        const aBuf = ctx.upload(aData);
        const bBuf = ctx.upload(bData);
        const oBuf = ctx.upload(oData);
        encodeGemmStrided(ctx, {
          ...g,
          a: { buffer: aBuf, ...av2 },
          b: { buffer: bBuf, ...bv2 },
          out: { buffer: oBuf, ...ov2 },
        });
        const got = await readBuffer(oBuf, oData.length);
        const want = Float64Array.from(oData);
        refStrided(g, { data: aData, ...av2 }, { data: bData, ...bv2 }, { data: want, ...ov2 });
        expect(relError(got, want)).toBeLessThan(tol(k));
        // Everything outside the views (padding columns, gaps) is bit-for-bit untouched.
        const inside = new Uint8Array(oData.length);
        for (let e = 0; e < batch; e++) {
          for (let i = 0; i < m; i++) inside.fill(1, ov2.offset + e * ov2.batchStride + i * ov2.ld, ov2.offset + e * ov2.batchStride + i * ov2.ld + n);
        }
        for (let i = 0; i < oData.length; i++) {
          if (!inside[i] && got[i] !== oData[i]) throw new Error(`element ${i} outside the view modified`);
        }
        for (const b of [aBuf, bBuf, oBuf]) ctx.free(b);
      }
    }
  });

  it('broadcast operand (batchStride 0) and beta = 0 overwrites NaN contents', async () => {
    const batch = 3;
    const m = 10;
    const n = 9;
    const k = 11;
    const aData = randn(m * k, 61);
    const bData = randn(batch * k * n, 62);
    const oData = new Float32Array(batch * m * n).fill(Number.NaN);
    const aBuf = ctx.upload(aData);
    const bBuf = ctx.upload(bData);
    const oBuf = ctx.upload(oData);
    encodeGemmStrided(ctx, {
      batch,
      m,
      n,
      k,
      transA: false,
      transB: false,
      alpha: 1,
      beta: 0,
      a: { buffer: aBuf, offset: 0, ld: k, batchStride: 0 },
      b: { buffer: bBuf, offset: 0, ld: n, batchStride: k * n },
      out: { buffer: oBuf, offset: 0, ld: n, batchStride: m * n },
    });
    const got = await readBuffer(oBuf, oData.length);
    for (let e = 0; e < batch; e++) {
      const want = refGemm(aData, bData, m, n, k, {}, 0, e * k * n);
      expect(relError(got.subarray(e * m * n, (e + 1) * m * n), want)).toBeLessThan(tol(k));
    }
    for (const b of [aBuf, bBuf, oBuf]) ctx.free(b);
  });

  for (const lowerOnly of [false, true]) {
    for (const size of [71, 136]) {
      it(`one aliased buffer: A22 -= L21·L21ᵀ in place (N=${size}, lowerOnly=${lowerOnly})`, async () => {
        // A blocked-Cholesky trailing update inside one N×N matrix: panel L21 = rows r…N-1, columns 0…r-1;
        // A22 = rows r…N-1, columns r…N-1. Reads (columns < r) and writes (columns ≥ r) do not overlap.
        const N = size;
        const r = size === 136 ? 64 : 13;
        const batch = 2;
        const data = randn(batch * N * N, 71 + N);
        const buf = ctx.upload(data);
        const m = N - r;
        const g = { batch, m, n: m, k: r, transA: false, transB: true, alpha: -1, beta: 1, lowerOnly };
        const panel = { offset: r * N, ld: N, batchStride: N * N };
        const a22 = { offset: r * N + r, ld: N, batchStride: N * N };
        encodeGemmStrided(ctx, { ...g, a: { buffer: buf, ...panel }, b: { buffer: buf, ...panel }, out: { buffer: buf, ...a22 } });
        const got = await readBuffer(buf, data.length);
        const want = Float64Array.from(data);
        refStrided(g, { data, ...panel }, { data, ...panel }, { data: want, ...a22 });
        expect(relError(got, want)).toBeLessThan(tol(r));
        // Outside A22, and (lowerOnly) strictly above its diagonal, the buffer is bit-for-bit untouched.
        for (let e = 0; e < batch; e++) {
          for (let i = 0; i < N; i++) {
            for (let j = 0; j < N; j++) {
              const inside = i >= r && j >= r && (!lowerOnly || j - r <= i - r);
              const idx = e * N * N + i * N + j;
              if (!inside && got[idx] !== data[idx]) throw new Error(`(${e},${i},${j}) modified`);
            }
          }
        }
        ctx.free(buf);
      });
    }
  }

  it('lowerOnly on a rectangular output writes only i ≥ j', async () => {
    const m = 130;
    const n = 70;
    const k = 9;
    const aData = randn(m * k, 81);
    const bData = randn(k * n, 82);
    const oData = randn(m * n, 83);
    const aBuf = ctx.upload(aData);
    const bBuf = ctx.upload(bData);
    const oBuf = ctx.upload(oData);
    const g = { batch: 1, m, n, k, transA: false, transB: false, alpha: 1, beta: 0.5, lowerOnly: true };
    const av = { offset: 0, ld: k, batchStride: 0 };
    const bv = { offset: 0, ld: n, batchStride: 0 };
    const ov = { offset: 0, ld: n, batchStride: 0 };
    encodeGemmStrided(ctx, { ...g, a: { buffer: aBuf, ...av }, b: { buffer: bBuf, ...bv }, out: { buffer: oBuf, ...ov } });
    const got = await readBuffer(oBuf, m * n);
    const want = Float64Array.from(oData);
    refStrided(g, { data: aData, ...av }, { data: bData, ...bv }, { data: want, ...ov });
    expect(relError(got, want)).toBeLessThan(tol(k));
    for (let i = 0; i < m; i++) for (let j = i + 1; j < n; j++) expect(got[i * n + j]).toBe(oData[i * n + j]);
    for (const b of [aBuf, bBuf, oBuf]) ctx.free(b);
  });
});
