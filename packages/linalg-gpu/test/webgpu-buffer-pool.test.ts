/**
 * Buffer accounting on WebGPU: 1,000 FNGD-like steps (Kronecker-factored Gram from per-sample factors,
 * Cholesky, two triangular solves, a GEMM, with every per-step matrix created and disposed) leave the number
 * of live GPU buffers and of live storages exactly where it was after a warm-up, and the last step's solution
 * matches a float64 reference.
 */
import { describe, expect, it } from 'vitest';
import { createDevice, type LinalgDevice } from '../src/index.js';
import { webgpuAvailable } from './devices.js';
import { randn, refGemm, refTriangularSolve, relError } from './reference.js';

const available = await webgpuAvailable();

/** Float64 Cholesky (lower) of an n×n SPD matrix. */
function refChol(a: ArrayLike<number>, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j]!;
    for (let p = 0; p < j; p++) d -= l[j * n + p]! ** 2;
    const s = Math.sqrt(d);
    l[j * n + j] = s;
    for (let i = j + 1; i < n; i++) {
      let v = a[i * n + j]!;
      for (let p = 0; p < j; p++) v -= l[i * n + p]! * l[j * n + p]!;
      l[i * n + j] = v / s;
    }
  }
  return l;
}

describe.runIf(available)('webgpu buffer accounting', () => {
  it('1,000 FNGD-like steps: no growth in live GPU buffers or storages after a warm-up', async () => {
    const dev: LinalgDevice = await createDevice({ backend: 'webgpu' });
    const layers = 2;
    const n = 12; // samples (not a multiple of the 16-wide tiles)
    const din = 10;
    const dout = 6;
    const shift = 0.5;
    const ones = dev.full([n, 1], 1);
    /** One step; returns the solution when asked to read it back. */
    async function step(seed: number, readBack: boolean): Promise<{ x: Float32Array; a: Float32Array; g: Float32Array } | null> {
      const a = randn(layers * n * din, seed);
      const g = randn(layers * n * dout, seed + 1);
      const am = dev.matrix(a, [layers, n, din]);
      const gm = dev.matrix(g, [layers, n, dout]);
      const k = dev.gram(am); // [L,n,n]
      const d = dev.gemm(gm, gm, { transB: true }); // the same Gram through GEMM
      const h = dev.mul(k, d, { shiftA: 1 }); // (K + 1)∘D, fisher's dense-layer Gram
      const l = dev.cholesky(h, { shift });
      const y = dev.triangularSolve(l, ones);
      const x = dev.triangularSolve(l, y, { transpose: true });
      const r = dev.gemm(h, x, { c: ones, beta: -1 }); // residual-like GEMM with C
      let out: Float32Array | null = null;
      if (readBack) {
        out = await dev.read(x);
        await dev.read(r);
      }
      for (const m of [am, gm, k, d, h, l, y, x, r]) m.dispose();
      return out ? { x: out, a, g } : null;
    }

    const warmup = 20;
    for (let s = 0; s < warmup; s++) await step(s * 2, true);
    const before = dev.stats();
    expect(before.gpuBuffers).toBeGreaterThan(0);
    expect(before.liveStorages).toBe(1); // `ones`
    let last: { x: Float32Array; a: Float32Array; g: Float32Array } | null = null;
    const peak = { gpuBuffers: 0 };
    for (let s = warmup; s < 1000; s++) {
      // read back every step, except runs of 9 unread steps that pile work into one submission
      last = await step(s * 2, s % 10 === 0 || s === 999);
      peak.gpuBuffers = Math.max(peak.gpuBuffers, dev.stats().gpuBuffers);
    }
    const after = dev.stats();
    expect(after.liveStorages).toBe(before.liveStorages);
    expect(after.gpuBuffers).toBe(before.gpuBuffers);
    expect(peak.gpuBuffers).toBeLessThanOrEqual(before.gpuBuffers + 64); // bounded while steps go unread

    // the accounting sees a leak: an undisposed matrix is one more live storage
    const leaked = dev.scale(ones, 2);
    expect(dev.stats().liveStorages).toBe(before.liveStorages + 1);
    leaked.dispose();
    expect(dev.stats().liveStorages).toBe(before.liveStorages);

    // the last step computed the right thing: x = ((K+1)∘D + shift·I)⁻¹·1 per layer, in float64
    const { x, a, g } = last!;
    for (let e = 0; e < layers; e++) {
      const k = refGemm(a, a, n, n, din, { transB: true }, e * n * din, e * n * din);
      const d = refGemm(g, g, n, n, dout, { transB: true }, e * n * dout, e * n * dout);
      const h = k.map((v, i) => (v + 1) * d[i]! + (i % (n + 1) === 0 ? shift : 0));
      const lref = refChol(h, n);
      const y = refTriangularSolve(lref, new Float64Array(n).fill(1), n, 1, false);
      const want = refTriangularSolve(lref, y, n, 1, true);
      expect(relError(x.subarray(e * n, (e + 1) * n), want)).toBeLessThan(1e-3);
    }
    ones.dispose();
    expect(dev.stats().liveStorages).toBe(0);
    dev.destroy();
  }, 60_000);
});
