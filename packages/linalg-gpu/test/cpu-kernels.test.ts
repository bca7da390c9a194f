import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { CpuBackend } from '../src/cpu/backend.js';
import { randn, rng } from './reference.js';

// ---------------------------------------------------------------------------------------------------------
// Helpers: deterministic data and straightforward float64 references.
// ---------------------------------------------------------------------------------------------------------


const randomF32 = randn;

/** Symmetric positive definite n×n (float32-representable): M·Mᵀ/n + I. */
function randomSpd(n: number, seed: number): Float32Array {
  const m = randomF32(n * n, seed);
  const a = new Float32Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let p = 0; p < n; p++) s += m[i * n + p]! * m[j * n + p]!;
      const v = s / n + (i === j ? 1 : 0);
      a[i * n + j] = v;
      a[j * n + i] = v;
    }
  return a;
}

function at(x: ArrayLike<number>, i: number): number {
  const v = x[i];
  if (v === undefined) throw new Error(`index ${i} out of range`);
  return v;
}

function refGemm(
  m: number, n: number, k: number, transA: boolean, transB: boolean, alpha: number, beta: number,
  a: Float32Array, aOff: number, b: Float32Array, bOff: number, c: Float32Array | null, cOff: number,
): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        const av = transA ? at(a, aOff + p * m + i) : at(a, aOff + i * k + p);
        const bv = transB ? at(b, bOff + j * k + p) : at(b, bOff + p * n + j);
        s += av * bv;
      }
      out[i * n + j] = alpha * s + (c ? beta * at(c, cOff + i * n + j) : 0);
    }
  return out;
}

function norm(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += at(x, i) ** 2;
  return Math.sqrt(s);
}

/** ‖got − want‖ / max(‖want‖, tiny), computed over `want.length` entries of got from `offset`. */
function relErr(got: ArrayLike<number>, want: ArrayLike<number>, offset = 0): number {
  let d = 0;
  for (let i = 0; i < want.length; i++) d += (at(got, offset + i) - at(want, i)) ** 2;
  return Math.sqrt(d) / Math.max(norm(want), 1e-30);
}

function cholRef(a: Float32Array, n: number, shift: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = at(a, j * n + j) + shift;
    for (let p = 0; p < j; p++) d -= at(l, j * n + p) ** 2;
    const ljj = Math.sqrt(d);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = at(a, i * n + j);
      for (let p = 0; p < j; p++) s -= at(l, i * n + p) * at(l, j * n + p);
      l[i * n + j] = s / ljj;
    }
  }
  return l;
}

/** Float64 residual ‖op(L)·X − B‖ / (‖L‖·‖X‖) for a stored float32 L. */
function solveResidual(l: Float32Array, lOff: number, x: Float32Array, xOff: number, b: Float32Array, bOff: number, n: number, nrhs: number, transpose: boolean): number {
  let d = 0;
  let ln = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) ln += at(l, lOff + i * n + j) ** 2;
  let xn = 0;
  for (let i = 0; i < n * nrhs; i++) xn += at(x, xOff + i) ** 2;
  for (let i = 0; i < n; i++)
    for (let r = 0; r < nrhs; r++) {
      let s = 0;
      for (let p = 0; p < n; p++) {
        // op(L)(i, p): L(i, p) below/on the diagonal, or Lᵀ(i, p) = L(p, i).
        const lv = transpose ? (p >= i ? at(l, lOff + p * n + i) : 0) : p <= i ? at(l, lOff + i * n + p) : 0;
        s += lv * at(x, xOff + p * nrhs + r);
      }
      d += (s - at(b, bOff + i * nrhs + r)) ** 2;
    }
  return Math.sqrt(d) / Math.max(Math.sqrt(ln) * Math.sqrt(xn), 1e-30);
}

/** Well-conditioned lower-triangular n×n with garbage (NaN) in the strictly upper part. */
function randomLower(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const l = new Float32Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      if (j < i) l[i * n + j] = (r() * 2 - 1) / Math.sqrt(n);
      else if (j === i) l[i * n + j] = 1 + r();
      else l[i * n + j] = Number.NaN; // must never be read
    }
  return l;
}

const TOL = 1e-5;
const be = new CpuBackend();

async function runGemm(opts: {
  batch: number; m: number; n: number; k: number; transA: boolean; transB: boolean; alpha: number; beta: number;
  broadcastA?: boolean; broadcastB?: boolean; withC?: boolean; broadcastC?: boolean; seed: number;
}): Promise<void> {
  const { batch, m, n, k, transA, transB, alpha, beta, seed } = opts;
  const strideA = opts.broadcastA ? 0 : m * k;
  const strideB = opts.broadcastB ? 0 : k * n;
  const strideC = opts.broadcastC ? 0 : m * n;
  const aData = randomF32(Math.max(strideA * batch, m * k), seed);
  const bData = randomF32(Math.max(strideB * batch, k * n), seed + 1);
  const cData = opts.withC ? randomF32(Math.max(strideC * batch, m * n), seed + 2) : null;
  const a = be.upload(aData);
  const b = be.upload(bData);
  const c = cData ? be.upload(cData) : null;
  const out = be.alloc(batch * m * n);
  be.gemm({ batch, m, n, k, transA, transB, alpha, beta, strideA, strideB, strideC }, a, b, c, out);
  const got = await be.read(out, batch * m * n);
  for (let e = 0; e < batch; e++) {
    const want = refGemm(m, n, k, transA, transB, alpha, beta, aData, e * strideA, bData, e * strideB, cData, e * strideC);
    expect(relErr(got, want, e * m * n)).toBeLessThan(TOL);
  }
}

// ---------------------------------------------------------------------------------------------------------

describe('CpuBackend basics', () => {
  it('reports kind, limits and description', () => {
    expect(be.kind).toBe('cpu');
    expect(be.limits.maxElements).toBeGreaterThanOrEqual(2 ** 28);
    expect(be.description).toMatch(/CPU/);
  });

  it('upload copies, read returns a copy of the first elements, allocInfo is zeroed', async () => {
    const src = new Float32Array([1, 2, 3, 4]);
    const s = be.upload(src);
    src[0] = 99;
    const r = await be.read(s, 3);
    expect(Array.from(r)).toEqual([1, 2, 3]);
    r[1] = 42;
    expect(Array.from(await be.read(s, 4))).toEqual([1, 2, 3, 4]);
    expect(Array.from(await be.readInfo(be.allocInfo(3), 3))).toEqual([0, 0, 0]);
  });
});

describe('gemm', () => {
  const sizes: [number, number, number][] = [
    [1, 1, 1], [7, 7, 7], [16, 16, 16], [65, 65, 65], [1, 257, 7], [257, 1, 65], [7, 65, 257], [65, 16, 1], [257, 257, 257],
  ];
  for (const [m, n, k] of sizes)
    for (const transA of [false, true])
      for (const transB of [false, true])
        it(`m=${m} n=${n} k=${k} transA=${transA} transB=${transB}`, async () => {
          await runGemm({ batch: 1, m, n, k, transA, transB, alpha: 1, beta: 0, seed: m * 31 + n * 7 + k });
        });

  it('1000×1000×1000 (not a tile multiple)', async () => {
    const m = 1000, n = 1000, k = 1000;
    const aData = randomF32(m * k, 5);
    const bData = randomF32(k * n, 6);
    const out = be.alloc(m * n);
    be.gemm({ batch: 1, m, n, k, transA: false, transB: true, alpha: 1, beta: 0, strideA: 0, strideB: 0, strideC: 0 }, be.upload(aData), be.upload(bData), null, out);
    const got = await be.read(out, m * n);
    // Spot-check 2000 random entries against float64 dot products.
    const r = rng(9);
    let d = 0, w = 0;
    for (let t = 0; t < 2000; t++) {
      const i = Math.floor(r() * m), j = Math.floor(r() * n);
      let s = 0;
      for (let p = 0; p < k; p++) s += at(aData, i * k + p) * at(bData, j * k + p);
      d += (at(got, i * n + j) - s) ** 2;
      w += s * s;
    }
    expect(Math.sqrt(d / w)).toBeLessThan(TOL);
  });

  it('alpha and beta with C, all transposes', async () => {
    for (const transA of [false, true])
      for (const transB of [false, true])
        await runGemm({ batch: 2, m: 33, n: 70, k: 29, transA, transB, alpha: -1.5, beta: 0.75, withC: true, seed: 11 });
  });

  it('beta is ignored without C', async () => {
    await runGemm({ batch: 1, m: 9, n: 13, k: 5, transA: false, transB: false, alpha: 2, beta: 3, seed: 12 });
  });

  it('batched with broadcast operands (stride 0)', async () => {
    await runGemm({ batch: 3, m: 40, n: 23, k: 67, transA: false, transB: false, alpha: 1, beta: 1, withC: true, broadcastA: true, seed: 13 });
    await runGemm({ batch: 3, m: 40, n: 23, k: 67, transA: true, transB: false, alpha: 1, beta: -2, withC: true, broadcastB: true, broadcastC: true, seed: 14 });
    await runGemm({ batch: 4, m: 5, n: 6, k: 3, transA: false, transB: true, alpha: 0.5, beta: 0, broadcastA: true, broadcastB: true, seed: 15 });
  });

  it('k = 0 gives beta·C', async () => {
    await runGemm({ batch: 2, m: 4, n: 3, k: 0, transA: false, transB: false, alpha: 1, beta: 2, withC: true, seed: 16 });
  });

  it('accumulates in float64 (cancellation exact where float32 accumulation is not)', async () => {
    const k = 3;
    const a = be.upload(new Float32Array([1, 1, 1]));
    const b = be.upload(new Float32Array([2 ** 25, 1, -(2 ** 25)]));
    const out = be.alloc(1);
    be.gemm({ batch: 1, m: 1, n: 1, k, transA: false, transB: false, alpha: 1, beta: 0, strideA: 0, strideB: 0, strideC: 0 }, a, b, null, out);
    expect((await be.read(out, 1))[0]).toBe(1);
  });
});

describe('gram', () => {
  for (const [n, d] of [[1, 1], [7, 3], [16, 16], [65, 9], [257, 65], [33, 1000]] as const)
    it(`n=${n} d=${d}, batch 2, symmetric`, async () => {
      const batch = 2;
      const aData = randomF32(batch * n * d, n + d);
      const out = be.alloc(batch * n * n);
      be.gram({ batch, n, d }, be.upload(aData), out);
      const got = await be.read(out, batch * n * n);
      for (let e = 0; e < batch; e++) {
        const want = refGemm(n, n, d, false, true, 1, 0, aData, e * n * d, aData, e * n * d, null, 0);
        expect(relErr(got, want, e * n * n)).toBeLessThan(TOL);
        for (let i = 0; i < n; i++)
          for (let j = 0; j < i; j++) expect(at(got, e * n * n + j * n + i)).toBe(at(got, e * n * n + i * n + j));
      }
    });
});

describe('cholesky', () => {
  for (const n of [1, 7, 16, 65, 257])
    it(`n=${n} matches a float64 reference and zeroes the upper triangle`, async () => {
      const batch = 2;
      const aData = new Float32Array(batch * n * n);
      for (let e = 0; e < batch; e++) aData.set(randomSpd(n, 100 + n + e), e * n * n);
      // Garbage in the strictly upper part must be ignored.
      for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) aData[i * n + j] = Number.NaN;
      const out = be.alloc(batch * n * n);
      const info = be.allocInfo(batch);
      be.cholesky({ batch, n, shift: 0 }, be.upload(aData), out, info);
      expect(Array.from(await be.readInfo(info, batch))).toEqual(new Array(batch).fill(0));
      const got = await be.read(out, batch * n * n);
      for (let e = 0; e < batch; e++) {
        const want = cholRef(aData.subarray(e * n * n, (e + 1) * n * n), n, 0);
        expect(relErr(got, want, e * n * n)).toBeLessThan(TOL);
        for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) expect(at(got, e * n * n + i * n + j)).toBe(0);
      }
    });

  it('applies the diagonal shift', async () => {
    const n = 40;
    const aData = randomSpd(n, 7);
    const shift = 2.5;
    const out = be.alloc(n * n);
    const info = be.allocInfo(1);
    be.cholesky({ batch: 1, n, shift }, be.upload(aData), out, info);
    expect((await be.readInfo(info, 1))[0]).toBe(0);
    expect(relErr(await be.read(out, n * n), cholRef(aData, n, shift))).toBeLessThan(TOL);
  });

  it('reports the first failing pivot (1-based) per batch entry and zeroes successful info', async () => {
    const n = 100;
    const good = randomSpd(n, 21);
    // Indefinite: diagonal 1 except a −1 at index 70 on an otherwise identity-like matrix → pivot 71 fails.
    const bad = new Float32Array(n * n);
    for (let i = 0; i < n; i++) bad[i * n + i] = i === 70 ? -1 : 1;
    // Zero pivot at index 0.
    const zero = new Float32Array(n * n);
    // NaN on the diagonal at index 5.
    const nan = randomSpd(n, 22);
    nan[5 * n + 5] = Number.NaN;
    // Indefinite dense matrix whose failing pivot is computed by the reference (at index > NB = 64).
    const dense = randomSpd(n, 23);
    for (let i = 80; i < n; i++) dense[i * n + i] = at(dense, i * n + i) - 50;
    let expectedDense = 0;
    {
      const l = new Float64Array(n * n);
      for (let j = 0; j < n && expectedDense === 0; j++) {
        let d = at(dense, j * n + j);
        for (let p = 0; p < j; p++) d -= at(l, j * n + p) ** 2;
        if (!(d > 0)) { expectedDense = j + 1; break; }
        l[j * n + j] = Math.sqrt(d);
        for (let i = j + 1; i < n; i++) {
          let s = at(dense, i * n + j);
          for (let p = 0; p < j; p++) s -= at(l, i * n + p) * at(l, j * n + p);
          l[i * n + j] = s / at(l, j * n + j);
        }
      }
    }
    expect(expectedDense).toBeGreaterThan(80);
    const all = new Float32Array(5 * n * n);
    [good, bad, zero, nan, dense].forEach((m, e) => all.set(m, e * n * n));
    const info = be.allocInfo(5);
    // Pre-fill info with garbage to check that successful entries are zeroed.
    const infoArr = info as Int32Array;
    infoArr.fill(-7);
    const out = be.alloc(5 * n * n);
    be.cholesky({ batch: 5, n, shift: 0 }, be.upload(all), out, info);
    expect(Array.from(await be.readInfo(info, 5))).toEqual([0, 71, 1, 6, expectedDense]);
  });

  it('flags an infinite pivot', async () => {
    const a = be.upload(new Float32Array([4, 0, 0, Number.POSITIVE_INFINITY]));
    const info = be.allocInfo(1);
    be.cholesky({ batch: 1, n: 2, shift: 0 }, a, be.alloc(4), info);
    expect((await be.readInfo(info, 1))[0]).toBe(2);
  });

  it('property: L·Lᵀ ≈ A for random SPD A', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 150 }), fc.integer({ min: 1, max: 2 ** 30 }), async (n, seed) => {
        const aData = randomSpd(n, seed);
        const out = be.alloc(n * n);
        const info = be.allocInfo(1);
        be.cholesky({ batch: 1, n, shift: 0 }, be.upload(aData), out, info);
        expect((await be.readInfo(info, 1))[0]).toBe(0);
        const l = await be.read(out, n * n);
        const llt = refGemm(n, n, n, false, true, 1, 0, l, 0, l, 0, null, 0);
        expect(relErr(aData, llt)).toBeLessThan(1e-5);
      }),
      { numRuns: 25 },
    );
  });
});

describe('triangularSolve', () => {
  const cases: [number, number][] = [[1, 1], [7, 3], [16, 16], [65, 1], [65, 40], [257, 7], [257, 65], [300, 300]];
  for (const [n, nrhs] of cases)
    for (const transpose of [false, true])
      it(`n=${n} nrhs=${nrhs} transpose=${transpose}`, async () => {
        const batch = 2;
        const lData = new Float32Array(batch * n * n);
        for (let e = 0; e < batch; e++) lData.set(randomLower(n, 300 + n + e), e * n * n);
        const bData = randomF32(batch * n * nrhs, 400 + nrhs);
        const out = be.alloc(batch * n * nrhs);
        be.triangularSolve({ batch, n, nrhs, transpose, strideL: n * n, strideB: n * nrhs }, be.upload(lData), be.upload(bData), out);
        const x = await be.read(out, batch * n * nrhs);
        for (let e = 0; e < batch; e++) {
          expect(solveResidual(lData, e * n * n, x, e * n * nrhs, bData, e * n * nrhs, n, nrhs, transpose)).toBeLessThan(TOL);
        }
      });

  it('matches a float64 reference solution (forward and Lᵀ) with broadcast L and B', async () => {
    const n = 90, nrhs = 12, batch = 3;
    const lData = randomLower(n, 77);
    const bData = randomF32(n * nrhs, 78);
    for (const transpose of [false, true]) {
      const out = be.alloc(batch * n * nrhs);
      be.triangularSolve({ batch, n, nrhs, transpose, strideL: 0, strideB: 0 }, be.upload(lData), be.upload(bData), out);
      const x = await be.read(out, batch * n * nrhs);
      // float64 reference
      const ref = new Float64Array(n * nrhs);
      const order = transpose ? [...Array(n).keys()].reverse() : [...Array(n).keys()];
      for (const i of order)
        for (let r = 0; r < nrhs; r++) {
          let s = at(bData, i * nrhs + r);
          if (!transpose) for (let p = 0; p < i; p++) s -= at(lData, i * n + p) * at(ref, p * nrhs + r);
          else for (let p = i + 1; p < n; p++) s -= at(lData, p * n + i) * at(ref, p * nrhs + r);
          ref[i * nrhs + r] = s / at(lData, i * n + i);
        }
      for (let e = 0; e < batch; e++) expect(relErr(x, ref, e * n * nrhs)).toBeLessThan(TOL);
    }
  });

  it('property: Cholesky then forward and Lᵀ solves give small residuals for A·X = B', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 120 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 2 ** 30 }), async (n, nrhs, seed) => {
        const aData = randomSpd(n, seed);
        const bData = randomF32(n * nrhs, seed + 1);
        const l = be.alloc(n * n);
        const info = be.allocInfo(1);
        be.cholesky({ batch: 1, n, shift: 0 }, be.upload(aData), l, info);
        expect((await be.readInfo(info, 1))[0]).toBe(0);
        const y = be.alloc(n * nrhs);
        be.triangularSolve({ batch: 1, n, nrhs, transpose: false, strideL: 0, strideB: 0 }, l, be.upload(bData), y);
        const x = be.alloc(n * nrhs);
        be.triangularSolve({ batch: 1, n, nrhs, transpose: true, strideL: 0, strideB: 0 }, l, y, x);
        const xv = await be.read(x, n * nrhs);
        const ax = refGemm(n, nrhs, n, false, false, 1, 0, aData, 0, xv, 0, null, 0);
        // Backward-stable solve: ‖A·X − B‖ is at float32 level relative to ‖A‖·‖X‖.
        let d = 0;
        for (let i = 0; i < n * nrhs; i++) d += (at(ax, i) - at(bData, i)) ** 2;
        expect(Math.sqrt(d) / (norm(aData) * norm(xv))).toBeLessThan(1e-5);
      }),
      { numRuns: 25 },
    );
  });
});

describe('elementwise and sumBatch', () => {
  it('axpby with and without b, broadcasting', async () => {
    const batch = 3, size = 37;
    const aData = randomF32(size, 1);
    const bData = randomF32(batch * size, 2);
    const out = be.alloc(batch * size);
    be.elementwise({ op: 'axpby', batch, size, alpha: 2, beta: -0.5, gamma: 0.25, strideA: 0, strideB: size }, be.upload(aData), be.upload(bData), out);
    const got = await be.read(out, batch * size);
    const want = new Float64Array(batch * size);
    for (let e = 0; e < batch; e++) for (let i = 0; i < size; i++) want[e * size + i] = 2 * at(aData, i) - 0.5 * at(bData, e * size + i) + 0.25;
    expect(relErr(got, want)).toBeLessThan(TOL);

    const out2 = be.alloc(batch * size);
    be.elementwise({ op: 'axpby', batch, size, alpha: -3, beta: 99, gamma: 1, strideA: 0, strideB: 0 }, be.upload(aData), null, out2);
    const got2 = await be.read(out2, batch * size);
    for (let e = 0; e < batch; e++) for (let i = 0; i < size; i++) want[e * size + i] = -3 * at(aData, i) + 1;
    expect(relErr(got2, want)).toBeLessThan(TOL);
  });

  it('mul with broadcast b', async () => {
    const batch = 4, size = 19;
    const aData = randomF32(batch * size, 3);
    const bData = randomF32(size, 4);
    const out = be.alloc(batch * size);
    be.elementwise({ op: 'mul', batch, size, alpha: 1.5, beta: 0, gamma: -0.5, strideA: size, strideB: 0 }, be.upload(aData), be.upload(bData), out);
    const got = await be.read(out, batch * size);
    const want = new Float64Array(batch * size);
    for (let e = 0; e < batch; e++) for (let i = 0; i < size; i++) want[e * size + i] = 1.5 * (at(aData, e * size + i) - 0.5) * at(bData, i);
    expect(relErr(got, want)).toBeLessThan(TOL);
  });

  it('sumBatch sums over the batch in float64', async () => {
    for (const [batch, size] of [[1, 5], [7, 65], [257, 16]] as const) {
      const aData = randomF32(batch * size, batch + size);
      const out = be.alloc(size);
      be.sumBatch({ batch, size }, be.upload(aData), out);
      const got = await be.read(out, size);
      const want = new Float64Array(size);
      for (let e = 0; e < batch; e++) for (let i = 0; i < size; i++) want[i] = at(want, i) + at(aData, e * size + i);
      expect(relErr(got, want)).toBeLessThan(TOL);
    }
    // float64 accumulation: 2^25 + 1 − 2^25 = 1 exactly.
    const out = be.alloc(1);
    be.sumBatch({ batch: 3, size: 1 }, be.upload(new Float32Array([2 ** 25, 1, -(2 ** 25)])), out);
    expect((await be.read(out, 1))[0]).toBe(1);
  });
});
