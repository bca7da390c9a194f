/**
 * The embedding's token-equality Gram against its definition, as a property over random batches: for random n, T,
 * d, vocabulary sizes (many repeats to none) and Δ, `tokenGram` equals J·Jᵀ of the explicit per-sample gradients
 * `Jᵢ = Σₜ e_{idᵢₜ} δᵢₜᵀ` built over the whole vocabulary in float64.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tokenGram } from '../src/sites/embedding.js';

function reference(ids: Int32Array, delta: Float32Array, n: number, t: number, d: number, vocab: number): Float64Array {
  const j = Array.from({ length: n }, () => new Float64Array(vocab * d));
  for (let p = 0; p < n * t; p++) {
    const row = j[Math.floor(p / t)] as Float64Array;
    const id = ids[p] as number;
    for (let k = 0; k < d; k++) row[id * d + k]! += delta[p * d + k] as number;
  }
  const g = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    for (let b = 0; b < n; b++) {
      let s = 0;
      const ra = j[a] as Float64Array;
      const rb = j[b] as Float64Array;
      for (let k = 0; k < ra.length; k++) s += (ra[k] as number) * (rb[k] as number);
      g[a * n + b] = s;
    }
  }
  return g;
}

describe('tokenGram', () => {
  it('equals J·Jᵀ of the explicit per-sample gradients (property over random batches)', () => {
    fc.assert(
      fc.property(
        fc.record({ n: fc.integer({ min: 1, max: 7 }), t: fc.integer({ min: 1, max: 6 }), d: fc.integer({ min: 1, max: 5 }), vocab: fc.integer({ min: 1, max: 9 }), seed: fc.integer() }),
        ({ n, t, d, vocab, seed }) => {
          let s = seed >>> 0 || 1;
          const rand = (): number => ((s = (s * 1664525 + 1013904223) >>> 0), s / 2 ** 32);
          const ids = Int32Array.from({ length: n * t }, () => Math.floor(rand() * vocab));
          const delta = Float32Array.from({ length: n * t * d }, () => rand() * 2 - 1);
          const got = tokenGram(ids, delta, n, t, d);
          const want = reference(ids, delta, n, t, d, vocab);
          const scale = Math.max(1e-12, ...Array.from(want, Math.abs));
          want.forEach((v, i) => expect(Math.abs((got[i] as number) - v) / scale).toBeLessThan(1e-6));
          // symmetric
          for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) expect(got[a * n + b]).toBe(got[b * n + a]);
        },
      ),
      { numRuns: 200 },
    );
  });
});
