import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { logGrid, OPTIMIZERS, sampleTrials, SPACES, spaceOf } from '../src/search.js';
import { protocolMismatch, readTuned, tunedOptimizers, tunedPath, type Protocol, type TunedFile } from '../src/tuned.js';

describe('search spaces', () => {
  it('every learning-rate grid spans at least three decades in half-decade steps', () => {
    for (const grid of [SPACES.sgd.learningRate, SPACES.adam.learningRate, SPACES.fngd.learningRate, SPACES.kfac.learningRate]) {
      const l = grid.map((v) => Math.log10(v));
      expect(l.at(-1)! - l[0]!).toBeGreaterThanOrEqual(3 - 1e-9);
      for (let i = 1; i < l.length; i++) expect(l[i]! - l[i - 1]!).toBeCloseTo(0.5, 3);
    }
    expect(SPACES.fngd.damping.length).toBeGreaterThanOrEqual(4);
    // KFAC's λ grid covers the reference implementations' range and all of FNGD's (same Fisher units)
    expect(SPACES.kfac.damping).toEqual([0.0001, 0.001, 0.01, 0.1, 1, 10, 100]);
    for (const l of SPACES.fngd.damping) expect(SPACES.kfac.damping).toContain(l);
    expect(SPACES.kfac.learningRate).toHaveLength(SPACES.sgd.learningRate.length);
    expect(OPTIMIZERS).toContain('kfac');
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

  it('with K = grid size covers the whole learning-rate grid (SGD and Adam: grid search); KFAC’s adaptive mode its λ grid', () => {
    for (const o of OPTIMIZERS) {
      const g = spaceOf(o).learningRate;
      if (!g) {
        const d = spaceOf(o).damping!;
        const trials = sampleTrials(o, d.length);
        expect(new Set(trials.map((t) => t.damping))).toEqual(new Set(d));
        expect(trials.every((t) => t.learningRate === undefined)).toBe(true);
        continue;
      }
      expect(new Set(sampleTrials(o, g.length).map((t) => t.learningRate))).toEqual(new Set(g));
    }
  });

  it('is stratified: one learning rate from each contiguous stratum, λ and mode balanced', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (k, seed) => {
        const trials = sampleTrials('fngd-always', k, seed);
        const g = SPACES.fngd.learningRate;
        const idx = trials.map((t) => g.indexOf(t.learningRate!)).sort((a, b) => a - b);
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
    // the two adaptive KFACs share one sample (a paired comparison of their quadratic models)
    for (const k of [1, 8, 13]) expect(sampleTrials('kfac-gn', k)).toEqual(sampleTrials('kfac-adaptive', k));
    expect(sampleTrials('kfac-gn', 8)).not.toEqual(sampleTrials('shampoo', 8));
    // the KFACs with a tuned learning rate share another: fixed λ (either Fisher) and λ adapted (kfac-jax's recipe)
    for (const k of [1, 8, 13]) expect(sampleTrials('kfac-lm', k)).toEqual(sampleTrials('kfac', k));
  });

  it('KFAC: learning rates stratified, damping balanced, no mode; its own sample', () => {
    for (const k of [1, 3, 8, 11]) {
      const trials = sampleTrials('kfac', k);
      for (const t of trials) {
        expect(SPACES.kfac.learningRate).toContain(t.learningRate);
        expect(SPACES.kfac.damping).toContain(t.damping);
        expect(t).not.toHaveProperty('mode');
      }
      const counts = SPACES.kfac.damping.map((d) => trials.filter((t) => t.damping === d).length);
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    }
    expect(new Set(sampleTrials('kfac', 8).map((t) => t.learningRate))).toEqual(new Set(SPACES.kfac.learningRate));
  });

  it("adding KFAC left every other optimizer's sample as the committed tuned files hold it", () => {
    const f = readTuned(tunedPath('classifier', 128));
    for (const o of ['sgd', 'adam', 'fngd', 'fngd-drift', 'fngd-always'] as const) {
      const want = sampleTrials(o, f.trialsPerOptimizer);
      for (const t of f.trials.filter((x) => x.optimizer === o)) expect(t.config).toEqual(want[t.index]);
    }
  });

  it('rejects a trial count that is not a positive integer', () => {
    for (const k of [0, -1, 1.5, NaN]) expect(() => sampleTrials('sgd', k)).toThrow(/positive integer/);
  });
});

/** Optimizers that joined the protocol after the first tuned files. */
const LATER: readonly string[] = ['kfac-sampled', 'kfac-adaptive', 'kfac-gn', 'kfac-lm', 'adamw', 'muon', 'shampoo'];

describe('tuned files across protocol versions', () => {
  // a file tuned before KFAC joined: the committed batch-512 file without the spaces, trials and best settings of
  // KFAC and of the optimizers that joined after it
  const committed = (): TunedFile => {
    const f = readTuned(tunedPath('classifier', 512));
    const later = new Set(['kfac', ...LATER]);
    const keep = <V>(o: Record<string, V>): Record<string, V> => Object.fromEntries(Object.entries(o).filter(([k]) => !later.has(k)));
    return {
      ...f,
      search: { ...f.search, spaces: keep(f.search.spaces as Record<string, unknown>) },
      trials: f.trials.filter((t) => !later.has(t.optimizer)),
      best: keep(f.best) as TunedFile['best'],
    };
  };
  const current = (f: TunedFile): Protocol => ({ ...f, search: { ...f.search, spaces: SPACES } });

  it('a protocol that only adds optimizers (KFAC) resumes a committed file; a changed space does not', () => {
    const f = committed();
    expect(Object.keys(f.search.spaces as object)).not.toContain('kfac');
    expect(protocolMismatch(f, current(f))).toEqual([]);
    const changed: Protocol = { ...f, search: { ...f.search, spaces: { ...SPACES, sgd: { learningRate: [0.1] } } } };
    expect(protocolMismatch(f, changed)).toEqual(['search']);
    const dropped: Protocol = { ...f, search: { ...f.search, spaces: { adam: SPACES.adam, fngd: SPACES.fngd } } };
    expect(protocolMismatch(f, dropped)).toEqual(['search']);
    expect(protocolMismatch(f, { ...current(f), epochs: 3 })).toEqual(['epochs']);
  });

  it('tunedOptimizers: runs the tuned ones, lists those the file never tried and those that all diverged', () => {
    // the committed file without its fngd-auto trials (tuned files gain optimizers over time)
    const c = committed();
    const f: TunedFile = {
      ...c,
      trials: c.trials.filter((t) => t.optimizer !== 'fngd-auto'),
      best: Object.fromEntries(Object.entries(c.best).filter(([k]) => k !== 'fngd-auto')),
    };
    const diverged: TunedFile = {
      ...f,
      trials: [...f.trials, { ...f.trials[0]!, optimizer: 'fngd-auto', score: null, diverged: 'boom' }],
    };
    expect(tunedOptimizers(diverged, OPTIMIZERS)).toEqual({
      run: OPTIMIZERS.filter((o) => ['fngd', 'fngd-drift', 'fngd-always', 'adam', 'sgd'].includes(o) || (LATER.includes(o) && c.best[o])),
      absent: OPTIMIZERS.filter((o) => o === 'kfac' || (LATER.includes(o) && !c.best[o])),
      diverged: ['fngd-auto'],
    });
    expect(tunedOptimizers(f, ['kfac', 'sgd'])).toEqual({ run: ['sgd'], absent: ['kfac'], diverged: [] });
  });

  it('a committed file that holds KFAC trials matches the current protocol and runs every optimizer it was tuned with', () => {
    for (const b of [128, 1024]) {
      const f = readTuned(tunedPath('classifier', b));
      expect(protocolMismatch(f, current(f))).toEqual([]);
      expect(f.trials.filter((t) => t.optimizer === 'kfac')).toHaveLength(f.trialsPerOptimizer);
      // KFAC's sampled Fisher, AdamW and Muon joined the protocol later: a file tuned before holds none of their trials
      const later = OPTIMIZERS.filter((o) => LATER.includes(o) && !f.trials.some((t) => t.optimizer === o));
      expect(tunedOptimizers(f, OPTIMIZERS)).toEqual({ run: OPTIMIZERS.filter((o) => !later.includes(o)), absent: later, diverged: [] });
    }
  });
});
