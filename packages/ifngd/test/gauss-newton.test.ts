/**
 * The Gauss–Newton products of the named losses against explicit float64 Hessians of each loss in the outputs
 * (central differences of each loss's exact gradient, softmax cross-entropy's on distribution targets), weighted
 * samples, and the difference step.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { differenceStep, gaussNewtonProducts } from '../src/internal.js';
import type { SampledLoss } from '../src/internal.js';

/** ∂ℓ/∂z of one sample (float64), for targets y. */
function lossGrad(loss: SampledLoss, z: readonly number[], y: readonly number[]): number[] {
  const d = z.length;
  if (loss === 'softmax-cross-entropy') {
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    // ℓ = Σⱼ yⱼ·(lse(z) − zⱼ): ∂ℓ/∂z = (Σⱼ yⱼ)·p − y
    const total = y.reduce((a, b) => a + b, 0);
    return e.map((v, j) => (total * v) / s - (y[j] as number));
  }
  if (loss === 'sigmoid-cross-entropy') return z.map((v, j) => 1 / (1 + Math.exp(-v)) - (y[j] as number));
  return z.map((v, j) => (2 * (v - (y[j] as number))) / d);
}

/** The loss Hessian in the outputs, by central differences of the exact gradient (float64). */
function hessian(loss: SampledLoss, z: readonly number[], y: readonly number[]): number[][] {
  const h = 1e-5;
  return z.map((_, j) => {
    const up = z.map((v, k) => (k === j ? v + h : v));
    const down = z.map((v, k) => (k === j ? v - h : v));
    const gu = lossGrad(loss, up, y);
    const gd = lossGrad(loss, down, y);
    return gu.map((v, k) => (v - (gd[k] as number)) / (2 * h));
  });
}

const LOSSES: SampledLoss[] = ['softmax-cross-entropy', 'sigmoid-cross-entropy', 'mse'];

describe('gaussNewtonProducts', () => {
  it.each(LOSSES)('%s: (1/n)Σᵢ wᵢ·(Jᵢuₐ)ᵀHᵢ(Jᵢuᵦ) against explicit Hessians, k ∈ {1, 2, 3}, uneven sizes (fast-check)', (loss) => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 3 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (n, d, k, weighted, seed) => {
          let s = seed || 1;
          const r = (): number => ((s = (s * 48271) % 2147483647) / 2147483647) * 2 - 1;
          const z = Array.from({ length: n * d }, () => 4 * r());
          const jvps = Array.from({ length: k }, () => Float64Array.from({ length: n * d }, r));
          const w = weighted ? Float64Array.from({ length: n }, () => Math.abs(r())) : null;
          const got = gaussNewtonProducts(loss, Float32Array.from(z), jvps, n, w);
          for (let a = 0; a < k; a++) {
            for (let b = 0; b < k; b++) {
              let want = 0;
              for (let i = 0; i < n; i++) {
                const zi = z.slice(i * d, (i + 1) * d);
                // targets as the named losses take them: a distribution for softmax, anything else for the others
                const H = hessian(loss, zi, loss === 'softmax-cross-entropy' ? new Array(d).fill(1 / d) : new Array(d).fill(0.3));
                let t = 0;
                for (let p = 0; p < d; p++) for (let q = 0; q < d; q++) t += (jvps[a]![i * d + p] as number) * (H[p]![q] as number) * (jvps[b]![i * d + q] as number);
                want += (w ? (w[i] as number) : 1) * t;
              }
              want /= n;
              expect(Math.abs((got[a * k + b] as number) - want)).toBeLessThan(1e-6 * (1 + Math.abs(want)));
            }
          }
          // symmetric, and positive semi-definite on the diagonal
          for (let a = 0; a < k; a++) {
            expect(got[a * k + a]).toBeGreaterThanOrEqual(-1e-12);
            for (let b = 0; b < k; b++) expect(got[a * k + b]).toBe(got[b * k + a]);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('softmax with saturated logits (±80) stays finite; zero-weight samples and an empty batch add nothing', () => {
    const z = Float32Array.from([80, -80, 0, 0, 0, 0]);
    const j = [Float64Array.from([1, 2, 3, 4, 5, 6])];
    const c = gaussNewtonProducts('softmax-cross-entropy', z, j, 2);
    expect(Number.isFinite(c[0])).toBe(true);
    // sample 0 is certain (H ≈ 0); sample 1 uniform over three classes: Σ pⱼaⱼ² − (Σ pⱼaⱼ)²
    const want = ((16 + 25 + 36) / 3 - 25) / 2;
    expect(c[0]).toBeCloseTo(want, 6);
    expect(gaussNewtonProducts('softmax-cross-entropy', z, j, 2, [0, 0])).toEqual([0]);
    expect(gaussNewtonProducts('mse', new Float32Array(0), [new Float64Array(0)], 0)).toEqual([0]);
  });

  it('refuses outputs and directional derivatives that do not form [n, d] rows', () => {
    expect(() => gaussNewtonProducts('mse', new Float32Array(6), [new Float64Array(5)], 2)).toThrow(RangeError);
    expect(() => gaussNewtonProducts('mse', new Float32Array(5), [new Float64Array(5)], 2)).toThrow(RangeError);
  });
});

describe('differenceStep', () => {
  it('∛ε·(1 + ‖θ‖)/‖u‖, and 0 for a zero vector', () => {
    expect(differenceStep(3, 2)).toBeCloseTo((Math.cbrt(2 ** -23) * 4) / 2, 15);
    expect(differenceStep(0, 0)).toBe(0);
  });
});
