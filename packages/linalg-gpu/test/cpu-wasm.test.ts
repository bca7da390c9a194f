import { afterAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/cpu/backend.js';
import { rng } from './reference.js';
import { GemmEngine, gemmKernel, setGemmKernel, type GemmKernelKind, type MatrixView } from '../src/cpu/gemm.js';
import { sleb, uleb } from '../src/cpu/wasm-asm.js';
import { WasmGemm, detectWasmSimd, gemmModuleBytes, wasmSimdSupported, type WasmApi } from '../src/cpu/wasm-gemm.js';

/** The runtime's WebAssembly object (the DOM lib with its typings is not part of this project). */
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const initialKernel = gemmKernel();
afterAll(() => setGemmKernel(initialKernel));


function random64(count: number, seed: number): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = r() * 2 - 1;
  return out;
}

function randomF32(count: number, seed: number): Float32Array {
  return Float32Array.from(random64(count, seed));
}

/** op(A)·op(B)·alpha + beta·C with one engine and the given kernel; float64 storage throughout. */
function product(
  kind: GemmKernelKind,
  m: number, n: number, k: number, transA: boolean, transB: boolean, alpha: number, beta: number, lowerOnly: boolean,
  a: Float64Array, b: Float64Array, c: Float64Array,
): Float64Array {
  setGemmKernel(kind);
  const out = new Float64Array(m * n).fill(Number.NaN);
  const av: MatrixView = transA ? { data: a, offset: 0, rowStride: 1, colStride: m } : { data: a, offset: 0, rowStride: k, colStride: 1 };
  const bv: MatrixView = transB ? { data: b, offset: 0, rowStride: 1, colStride: k } : { data: b, offset: 0, rowStride: n, colStride: 1 };
  new GemmEngine().multiply(m, n, k, av, bv, { data: out, offset: 0, ld: n, alpha, beta, c, cOffset: 0, cld: n, lowerOnly });
  return out;
}

function refProduct(
  m: number, n: number, k: number, transA: boolean, transB: boolean, alpha: number, beta: number,
  a: Float64Array, b: Float64Array, c: Float64Array,
): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += (transA ? a[p * m + i]! : a[i * k + p]!) * (transB ? b[j * k + p]! : b[p * n + j]!);
      out[i * n + j] = alpha * s + beta * c[i * n + j]!;
    }
  return out;
}

function maxAbsDiff(x: Float64Array, y: Float64Array, lowerN = 0): number {
  let d = 0;
  for (let i = 0; i < x.length; i++) {
    if (lowerN > 0 && i % lowerN > Math.floor(i / lowerN)) continue;
    d = Math.max(d, Math.abs(x[i]! - y[i]!));
  }
  return d;
}

describe('WebAssembly assembler', () => {
  it('encodes LEB128', () => {
    expect(uleb(0)).toEqual([0]);
    expect(uleb(127)).toEqual([0x7f]);
    expect(uleb(128)).toEqual([0x80, 0x01]);
    expect(uleb(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(sleb(-1)).toEqual([0x7f]);
    expect(sleb(63)).toEqual([0x3f]);
    expect(sleb(64)).toEqual([0xc0, 0x00]);
    expect(sleb(-123456)).toEqual([0xc0, 0xbb, 0x78]);
    expect(sleb(-(2 ** 30))).toEqual([0x80, 0x80, 0x80, 0x80, 0x7c]);
  });

  it('emits a SIMD module that this runtime validates, for several tile shapes', () => {
    expect(wasmSimdSupported).toBe(true);
    for (const [mr, nr, u] of [[4, 4, 1], [2, 8, 2], [6, 4, 1]] as const) {
      expect(WA.validate(gemmModuleBytes(mr, nr, u))).toBe(true);
    }
  });

  it('falls back when validation fails or WebAssembly is missing', () => {
    const bytes = gemmModuleBytes();
    expect(detectWasmSimd(undefined, bytes)).toBe(false);
    const api = { Module: WA.Module, Instance: WA.Instance };
    expect(detectWasmSimd({ ...api, validate: () => false }, bytes)).toBe(false);
    expect(detectWasmSimd({ ...api, validate: () => { throw new Error('no SIMD'); } }, bytes)).toBe(false);
    // A corrupted SIMD opcode does not validate.
    const bad = bytes.slice();
    const at = bad.indexOf(0xfd);
    bad[at + 1] = 0xff;
    bad[at + 2] = 0xff;
    expect(WA.validate(bad)).toBe(false);
    expect(() => setGemmKernel('js')).not.toThrow();
  });

  it('computes one register tile and accumulates into it', () => {
    const w = new WasmGemm();
    const f = w.reserve(1024);
    const kc = 5;
    for (let i = 0; i < 4 * kc; i++) {
      f[i] = i + 1;
      f[100 + i] = (i % 7) - 3;
    }
    f.fill(1, 200, 216);
    w.block(kc, 4, 4, 0, 100, 200, 4, true, -(2 ** 30));
    for (let r = 0; r < 4; r++)
      for (let c = 0; c < 4; c++) {
        let s = 1;
        for (let p = 0; p < kc; p++) s += f[p * 4 + r]! * f[100 + p * 4 + c]!;
        expect(f[200 + r * 4 + c]).toBe(s);
      }
  });

  it('grows its memory on demand', () => {
    const w = new WasmGemm();
    const before = w.f64.length;
    const view = w.reserve(before * 3 + 1);
    expect(view.length).toBeGreaterThan(before * 3);
    expect(w.f64).toBe(view);
  });
});

describe('wasm GEMM kernel vs JavaScript kernel', () => {
  const sizes = [1, 7, 65, 257];
  const cases: [number, number, number][] = [];
  for (const m of sizes) for (const n of sizes) for (const k of sizes) cases.push([m, n, k]);

  it.each(cases)('m=%i n=%i k=%i: identical results, all transposes', (m, n, k) => {
    const a = random64(m * k, m * 131 + k);
    const b = random64(k * n, n * 17 + k * 3);
    const c = random64(m * n, m + n + k);
    for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      if (m * n * k > 65 * 65 * 257 && (transA || transB)) continue; // keep the suite fast
      const js = product('js', m, n, k, transA, transB, 0.75, -0.5, false, a, b, c);
      const wa = product('wasm', m, n, k, transA, transB, 0.75, -0.5, false, a, b, c);
      // Same blocking depth and summation order, no fused operations: bit-identical.
      expect(maxAbsDiff(wa, js)).toBe(0);
      if (m * n * k <= 65 * 65 * 65) {
        const want = refProduct(m, n, k, transA, transB, 0.75, -0.5, a, b, c);
        expect(maxAbsDiff(wa, want)).toBeLessThan(1e-12 * Math.max(1, k));
      }
    }
  });

  it.each([7, 65, 257, 300, 600])('lower-triangle products n=%i, k=301', (n) => {
    const k = 301;
    const a = random64(n * k, n);
    const c = random64(n * n, n + 1);
    const js = product('js', n, n, k, false, true, -1, 1, true, a, a, c);
    const wa = product('wasm', n, n, k, false, true, -1, 1, true, a, a, c);
    expect(maxAbsDiff(wa, js, n)).toBe(0);
    const want = refProduct(n, n, k, false, true, -1, 1, a, a, c);
    expect(maxAbsDiff(wa, want, n)).toBeLessThan(1e-11);
    // Nothing strictly above the diagonal is written.
    let written = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (!Number.isNaN(wa[i * n + j]!)) written++;
    expect(written).toBe(0);
  });

  it.each(['js', 'wasm'] as const)('%s kernel accumulates in float64: 2²⁵ + 1 − 2²⁵ = 1 exactly', (kind) => {
    // Large enough for the packed path; the three terms straddle a KC = 256 block boundary and also sit
    // inside one block (row 1).
    const m = 65, n = 66, k = 600;
    const a = new Float32Array(m * k);
    const b = new Float32Array(k * n).fill(1);
    a[0 * k + 255] = 2 ** 25;
    a[0 * k + 256] = 1;
    a[0 * k + 257] = -(2 ** 25);
    a[1 * k + 10] = 2 ** 25;
    a[1 * k + 11] = 1;
    a[1 * k + 12] = -(2 ** 25);
    setGemmKernel(kind);
    const be = new CpuBackend();
    const out = be.alloc(m * n) as Float32Array;
    be.gemm({ batch: 1, m, n, k, transA: false, transB: false, alpha: 1, beta: 0, strideA: 0, strideB: 0, strideC: 0 }, a, b, null, out);
    for (let j = 0; j < n; j++) {
      expect(out[j]).toBe(1);
      expect(out[n + j]).toBe(1);
      expect(out[2 * n + j]).toBe(0);
    }
    // Gram (lower-triangle path): the dot product of rows x = (…, 2²⁵, 1, −2²⁵, …) and y = (1, 1, …, 1).
    const d = 700;
    const g = new Float32Array(40 * d);
    g[5 * d + 255] = 2 ** 25;
    g[5 * d + 256] = 1;
    g[5 * d + 257] = -(2 ** 25);
    for (let p = 0; p < d; p++) g[30 * d + p] = 1;
    const gout = be.alloc(40 * 40) as Float32Array;
    be.gram({ batch: 1, n: 40, d }, g, gout);
    expect(gout[30 * 40 + 5]).toBe(1);
    expect(gout[5 * 40 + 30]).toBe(1);
    be.destroy();
  });
});

describe('CPU backend operations on both kernels', () => {
  function spd(n: number, seed: number): Float32Array {
    const m = random64(n * n, seed);
    const a = new Float32Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let p = 0; p < n; p++) s += m[i * n + p]! * m[j * n + p]!;
        a[i * n + j] = a[j * n + i] = s / n + (i === j ? 1 : 0);
      }
    return a;
  }

  function runAll(kind: GemmKernelKind): Float32Array[] {
    setGemmKernel(kind);
    const be = new CpuBackend();
    const n = 257;
    const x = randomF32(65 * 513, 9);
    const gram = be.alloc(65 * 65) as Float32Array;
    be.gram({ batch: 1, n: 65, d: 513 }, x, gram);
    const a = spd(n, 4);
    const l = be.alloc(n * n) as Float32Array;
    const info = be.allocInfo(1) as Int32Array;
    be.cholesky({ batch: 1, n, shift: 0 }, a, l, info);
    expect(info[0]).toBe(0);
    const rhs = randomF32(n * 65, 5);
    const x1 = be.alloc(n * 65) as Float32Array;
    const x2 = be.alloc(n * 65) as Float32Array;
    be.triangularSolve({ batch: 1, n, nrhs: 65, transpose: false, strideL: 0, strideB: 0 }, l, rhs, x1);
    be.triangularSolve({ batch: 1, n, nrhs: 65, transpose: true, strideL: 0, strideB: 0 }, l, rhs, x2);
    be.destroy();
    return [gram, l, x1, x2];
  }

  it('gram, cholesky and triangular solves agree bit for bit between kernels', () => {
    const js = runAll('js');
    const wa = runAll('wasm');
    for (let i = 0; i < js.length; i++) expect(wa[i]).toEqual(js[i]);
  });
});
