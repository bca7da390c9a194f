import { describe, it, expect } from 'vitest';
import { CpuBackend } from '../src/cpu/backend.js';
import { rng } from './reference.js';
import { INNER, UNBLOCKED_MAX, outerBlock } from '../src/cpu/cholesky.js';

// Crossovers of the CPU Cholesky: unblocked kernel (n ≤ UNBLOCKED_MAX), inner blocks of INNER columns,
// outer panels of outerBlock(n) columns (changing at n = 512 / 1536).


/** A well-conditioned SPD matrix (float32), strictly upper part filled with NaN (must be ignored). */
function randomSpd(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) a[i * n + j] = (r() - 0.5) / Math.sqrt(n);
    a[i * n + i] = 2 + r();
    for (let j = i + 1; j < n; j++) a[i * n + j] = Number.NaN;
  }
  return a;
}

/** Float64 unblocked reference: L and the potrf info (1-based first bad pivot, or 0). */
function cholRef(a: Float32Array, n: number, shift: number): { l: Float64Array; info: number } {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j]! + shift;
    for (let p = 0; p < j; p++) d -= l[j * n + p]! ** 2;
    if (!(d > 0 && d < Infinity)) return { l, info: j + 1 };
    const ljj = Math.sqrt(d);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j]!;
      for (let p = 0; p < j; p++) s -= l[i * n + p]! * l[j * n + p]!;
      l[i * n + j] = s / ljj;
    }
  }
  return { l, info: 0 };
}

function maxRelErr(got: Float32Array, want: Float64Array, offset: number, n: number): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < n * n; i++) {
    err = Math.max(err, Math.abs(got[offset + i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return err / scale;
}

const be = new CpuBackend();

function run(batch: number, n: number, data: Float32Array, shift = 0): { out: Float32Array; info: Int32Array } {
  const out = be.alloc(batch * n * n);
  const info = be.allocInfo(batch);
  be.cholesky({ batch, n, shift }, be.upload(data), out, info);
  return { out: out as Float32Array, info: info as Int32Array };
}

const orders = [
  ...new Set([
    2,
    UNBLOCKED_MAX - 1,
    UNBLOCKED_MAX,
    UNBLOCKED_MAX + 1,
    2 * INNER - 1,
    2 * INNER,
    2 * INNER + 1,
    outerBlock(64) + INNER + 3,
    2 * outerBlock(64) + 1,
    511,
    512,
    513,
  ]),
].sort((x, y) => x - y);

describe('cpu cholesky crossovers', () => {
  it('uses the block sizes the cases below are built around', () => {
    expect(outerBlock(512)).toBeGreaterThan(INNER);
    expect(outerBlock(513)).toBeGreaterThanOrEqual(outerBlock(512));
  });

  for (const n of orders)
    it(`n=${n}: matches a float64 reference, zero upper triangle`, () => {
      const a = randomSpd(n, 1000 + n);
      const { out, info } = run(1, n, a, 0.25);
      expect(info[0]).toBe(0);
      const { l } = cholRef(a, n, 0.25);
      expect(maxRelErr(out, l, 0, n)).toBeLessThan(1e-5);
      let nonzeroUpper = 0;
      for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (out[i * n + j] !== 0) nonzeroUpper++;
      expect(nonzeroUpper).toBe(0);
    });

  for (const n of [UNBLOCKED_MAX, 2 * INNER + 1, 128])
    it(`batched 9×${n}: every entry matches`, () => {
      const batch = 9;
      const a = new Float32Array(batch * n * n);
      for (let e = 0; e < batch; e++) a.set(randomSpd(n, 77 * e + n), e * n * n);
      const { out, info } = run(batch, n, a);
      expect(Array.from(info)).toEqual(new Array(batch).fill(0));
      for (let e = 0; e < batch; e++) {
        const { l } = cholRef(a.subarray(e * n * n, (e + 1) * n * n), n, 0);
        expect(maxRelErr(out, l, e * n * n, n)).toBeLessThan(1e-5);
      }
    });

  // Failing pivots inside each path: unblocked kernel, first/second inner block, later outer panel, last column.
  const failures: [number, number][] = [
    [UNBLOCKED_MAX, 0],
    [UNBLOCKED_MAX, UNBLOCKED_MAX - 1],
    [UNBLOCKED_MAX + 1, UNBLOCKED_MAX],
    [2 * INNER + 1, INNER - 1],
    [2 * INNER + 1, INNER],
    [2 * INNER + 1, 2 * INNER],
    [200, outerBlock(200) + INNER + 5],
    [520, outerBlock(520) + 3],
  ];
  for (const [n, k] of failures)
    for (const kind of ['negative', 'nan', 'inf', 'dense'] as const)
      it(`n=${n}: ${kind} pivot at index ${k} → info ${k + 1} (batched with a good matrix)`, () => {
        const bad = randomSpd(n, 5 * n + k);
        if (kind === 'negative') bad[k * n + k] = -1;
        if (kind === 'nan') bad[k * n + k] = Number.NaN;
        if (kind === 'inf') bad[k * n + k] = Number.POSITIVE_INFINITY;
        if (kind === 'dense') {
          // The pivot only turns non-positive after the updates of all earlier columns.
          const { l } = cholRef(bad, n, 0);
          let s = 0;
          for (let p = 0; p < k; p++) s += l[k * n + p]! ** 2;
          bad[k * n + k] = Math.fround(s * 0.999);
        }
        expect(cholRef(bad, n, 0).info).toBe(k + 1);
        const good = randomSpd(n, 3);
        const a = new Float32Array(2 * n * n);
        a.set(bad, 0);
        a.set(good, n * n);
        const { out, info } = run(2, n, a);
        expect(Array.from(info)).toEqual([k + 1, 0]);
        expect(out.subarray(0, n * n).every((v) => v === 0)).toBe(true);
        expect(maxRelErr(out, cholRef(good, n, 0).l, n * n, n)).toBeLessThan(1e-5);
      });
});
