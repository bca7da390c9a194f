import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { logGrid, OPTIMIZERS, sampleTrials, SPACES, spaceOf } from '../src/search.js';

describe('search spaces', () => {
  it('every learning-rate grid spans at least three decades in half-decade steps', () => {
    for (const grid of [SPACES.sgd.learningRate, SPACES.adam.learningRate, SPACES.fngd.learningRate]) {
      const l = grid.map((v) => Math.log10(v));
      expect(l.at(-1)! - l[0]!).toBeGreaterThanOrEqual(3 - 1e-9);
      for (let i = 1; i < l.length; i++) expect(l[i]! - l[i - 1]!).toBeCloseTo(0.5, 3);
    }
    expect(SPACES.fngd.damping.length).toBeGreaterThanOrEqual(4);
    expect([...SPACES.fngd.mode]).toEqual(['global', 'layerwise']);
  });

  it('logGrid rounds to 4 significant digits and includes both ends', () => {
    expect(logGrid(-1, 1, 1)).toEqual([0.1, 1, 10]);
    expect(logGrid(-3.5, -3, 0.5)).toEqual([0.0003162, 0.001]);
  });
});

describe('sampleTrials', () => {
  it('gives every optimizer the same number of trials', () => {
    for (const k of [1, 2, 5, 8, 13]) for (const o of OPTIMIZERS) expect(sampleTrials(o, k)).toHaveLength(k);
  });

  it('with K = grid size covers the whole learning-rate grid (SGD and Adam: grid search)', () => {
    for (const o of OPTIMIZERS) {
      const g = spaceOf(o).learningRate;
      expect(new Set(sampleTrials(o, g.length).map((t) => t.learningRate))).toEqual(new Set(g));
    }
  });

  it('is stratified: one learning rate from each contiguous stratum, λ and mode balanced', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (k, seed) => {
        const trials = sampleTrials('fngd-always', k, seed);
        const g = SPACES.fngd.learningRate;
        const idx = trials.map((t) => g.indexOf(t.learningRate)).sort((a, b) => a - b);
        expect(idx.every((i) => i >= 0)).toBe(true);
        if (k <= g.length) {
          idx.forEach((i, s) => {
            expect(i).toBeGreaterThanOrEqual(Math.floor((s * g.length) / k));
            expect(i).toBeLessThan(Math.max(Math.floor((s * g.length) / k) + 1, Math.floor(((s + 1) * g.length) / k)));
          });
        }
        const count = (v: unknown): number => trials.filter((t) => t.damping === v).length;
        const counts = SPACES.fngd.damping.map(count);
        expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
        const g1 = trials.filter((t) => t.mode === 'global').length;
        expect(Math.abs(2 * g1 - k)).toBeLessThanOrEqual(1);
      }),
      { numRuns: 60 },
    );
  });

  it('is deterministic, shared by the three FNGD variants, and different across seeds', () => {
    expect(sampleTrials('fngd', 8)).toEqual(sampleTrials('fngd', 8));
    expect(sampleTrials('fngd-drift', 8)).toEqual(sampleTrials('fngd-always', 8));
    expect(sampleTrials('fngd', 8, 1)).not.toEqual(sampleTrials('fngd', 8, 2));
    expect(sampleTrials('adam', 3)[0]).not.toHaveProperty('damping');
  });

  it('rejects a trial count that is not a positive integer', () => {
    for (const k of [0, -1, 1.5, NaN]) expect(() => sampleTrials('sgd', k)).toThrow(/positive integer/);
  });
});
