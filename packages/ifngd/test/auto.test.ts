import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  autoDecision,
  emptyAutoState,
  modelledEfficiency,
  observe,
  checkAutoState,
  optimalCycle,
  pairedPrice,
  recordTiming,
  refreshPrice,
  splitPrice,
  resolveAuto,
  reuseEfficiency,
  autoLengthRatio,
  type AutoState,
} from '../src/auto.js';
import { shiftSignal } from '../src/drift.js';
import { decodeCheckpoint, encodeCheckpoint } from '../src/checkpoint.js';
import { mulberry32 } from '../src/internal.js';
import { CheckpointError, fngd, InvalidArgumentError, type CacheEntry, type FngdOptimizer, type HostTree } from '../src/index.js';
import { batches, deviceFactors, forwardBackward, initParams, makeData, weightedGradient, type Mlp } from './support/mlp.js';

/** Seeded uniform numbers in [-1, 1) (the repository's generator). */
function rand(seed: number): () => number {
  const u = mulberry32(seed);
  return () => u() * 2 - 1;
}

function gramOf(blocks: Float64Array[][]): Float32Array {
  const n = (blocks[0] as Float64Array[]).length;
  const g = new Float32Array(blocks.length * n * n);
  blocks.forEach((J, l) => {
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        const ri = J[i] as Float64Array;
        const rj = J[j] as Float64Array;
        for (let k = 0; k < ri.length; k++) s += (ri[k] as number) * (rj[k] as number);
        g[l * n * n + i * n + j] = s;
      }
  });
  return g;
}

describe('auto: reuse efficiency — held-out value', () => {
  it('matches a float64 reference built from explicit per-sample gradients (global and layer-wise, n not a tile multiple)', () => {
    for (const [n, d, layers, lambda] of [
      [5, 7, 1, 0.1],
      [13, 9, 1, 3],
      [7, 11, 3, 0.5],
      [33, 4, 2, 0.01],
    ] as const) {
      const r = rand(n * 31 + d);
      // a shared mean gradient plus per-sample noise, so that the held-out slopes are positive
      const mean = Array.from({ length: layers }, () => Float64Array.from({ length: d }, r));
      const blocks = mean.map((m) => Array.from({ length: n }, () => Float64Array.from(m, (x) => x + 0.5 * r())));
      const a = Array.from({ length: layers * n }, () => 1 + 0.5 * r());
      const b = a.map((x) => x + 0.6 * r());
      const got = reuseEfficiency(gramOf(blocks), n, Float32Array.from(a), Float32Array.from(b), lambda);
      // layer-wise: slopes and M-norms add over layers
      let hc = 0;
      let hf = 0;
      let cc = 0;
      let ff = 0;
      blocks.forEach((J, l) => {
        const al = a.slice(l * n, (l + 1) * n);
        const bl = b.slice(l * n, (l + 1) * n);
        const e = referenceInner(J, al, bl, lambda);
        cc += e.uu;
        ff += e.vv;
        hc += referenceHeldOut(J, al);
        hf += referenceHeldOut(J, bl);
      });
      expect(hf).toBeGreaterThan(0);
      const want = hc <= 0 ? 0 : Math.min(2, (hc * hc * ff) / (hf * hf * cc));
      expect(got).not.toBeNull();
      expect(got as number).toBeCloseTo(want, 5);
    }
  });

  it('is 1 for the same coefficients (and any positive multiple), 0 for opposite or vanishing ones; in [0, 2] or null always (property)', () => {
    const r = rand(7);
    const n = 6;
    const J = Array.from({ length: n }, () => Float64Array.from({ length: 5 }, () => 1 + r()));
    const g = gramOf([J]);
    const a = Float32Array.from({ length: n }, () => 1 + 0.5 * r());
    expect(reuseEfficiency(g, n, a, a, 0.3)).toBeCloseTo(1, 6);
    expect(reuseEfficiency(g, n, a.map((x) => 3 * x), a, 0.3)).toBeCloseTo(1, 6); // scale-free
    expect(reuseEfficiency(g, n, a.map((x) => -x), a, 0.3)).toBe(0);
    expect(reuseEfficiency(g, n, new Float32Array(n), a, 0.3)).toBe(0);
    fc.assert(
      fc.property(
        fc.array(fc.float({ min: -10, max: 10, noNaN: true }), { minLength: n, maxLength: n }),
        fc.array(fc.float({ min: -10, max: 10, noNaN: true }), { minLength: n, maxLength: n }),
        fc.double({ min: 1e-6, max: 1e3 }),
        (c, f, lambda) => {
          const e = reuseEfficiency(g, n, Float32Array.from(c), Float32Array.from(f), lambda);
          return e === null || (Number.isFinite(e) && e >= 0 && e <= 2);
        },
      ),
    );
  });

  it('null when there is nothing held out to compare against: one sample, or per-sample gradients that share nothing', () => {
    const one = gramOf([[Float64Array.from([1, 2, 3])]]);
    expect(reuseEfficiency(one, 1, Float32Array.from([1]), Float32Array.from([2]), 0.1)).toBeNull();
    // orthogonal per-sample gradients: each sample's gradient says nothing about the others' — no held-out slope
    const n = 4;
    const eye = Array.from({ length: n }, (_, i) => Float64Array.from({ length: n }, (_, k) => (k === i ? 1 + i : 0)));
    expect(reuseEfficiency(gramOf([eye]), n, Float32Array.from([1, 2, 3, 4]), Float32Array.from([1, 1, 1, 1]), 0.1)).toBeNull();
  });

  it('does not credit the fresh direction for fitting its own batch: a cached direction the in-sample cos²_M ranks low is worth as much held out', () => {
    // two groups of samples that agree within the group and are orthogonal across; the fresh coefficients weight
    // one sample heavily (its own gradient dominates the in-sample slope); the cached ones weight the groups evenly
    const n = 4;
    const J = [Float64Array.from([1, 0]), Float64Array.from([1, 0]), Float64Array.from([0, 1]), Float64Array.from([0, 1])];
    const g = gramOf([J]);
    const fresh = Float32Array.from([5, 1, 1, 1]);
    const cached = Float32Array.from([1, 1, 1, 1]);
    const ref = referenceInner(J, [...cached], [...fresh], 0.1);
    const cos2 = (ref.uv * ref.uv) / (ref.uu * ref.vv);
    expect(cos2).toBeLessThan(0.9);
    // held out, the even weighting is worth more: slopes 4 vs 8, ‖·‖²_M 4.8 vs 24 → (4/8)² · 24/4.8 = 1.25
    expect(reuseEfficiency(g, n, cached, fresh, 0.1)).toBeCloseTo(1.25, 6);
  });
});

/** float64 reference of the held-out slope Σᵢ aᵢ Σ_{j≠i} ⟨gᵢ, gⱼ⟩ (the common 1/(n − 1) left out). */
function referenceHeldOut(J: Float64Array[], a: number[]): number {
  let h = 0;
  J.forEach((gi, i) =>
    J.forEach((gj, j) => {
      if (i !== j) h += (a[i] as number) * gi.reduce((s, x, k) => s + x * (gj[k] as number), 0);
    }),
  );
  return h;
}

/** float64 reference: ⟨Jᵀa, Jᵀb⟩, ‖Jᵀa‖², ‖Jᵀb‖² in the metric JᵀJ/n + λI, from an explicit J (n×d). */
function referenceInner(J: Float64Array[], a: number[], b: number[], lambda: number): { uv: number; uu: number; vv: number } {
  const d = (J[0] as Float64Array).length;
  const n = J.length;
  const dir = (c: number[]) => Array.from({ length: d }, (_, k) => J.reduce((s, row, i) => s + (c[i] as number) * (row[k] as number), 0));
  const u = dir(a);
  const v = dir(b);
  const inner = (x: number[], y: number[]) => {
    let f = 0;
    for (const row of J) {
      let rx = 0;
      let ry = 0;
      for (let k = 0; k < d; k++) {
        rx += (row[k] as number) * (x[k] as number);
        ry += (row[k] as number) * (y[k] as number);
      }
      f += rx * ry;
    }
    return f / n + lambda * x.reduce((s, t, k) => s + t * (y[k] as number), 0);
  };
  return { uv: inner(u, v), uu: inner(u, u), vv: inner(v, v) };
}

describe('auto: the return-on-investment rule', () => {
  const o = resolveAuto({ price: 0.25, warmup: 2, smoothing: 0.5 });

  it('optimal cycle: refresh every visit when reuse is worthless, never (up to the bound) when it is free; longer when refreshes cost more', () => {
    expect(optimalCycle(50, 0.2).cycle).toBe(1);
    expect(optimalCycle(0, 0.2).cycle).toBe(1024);
    expect(optimalCycle(0, 0.2, 10).cycle).toBe(10);
    fc.assert(
      fc.property(fc.double({ min: 0, max: 5, noNaN: true }), fc.double({ min: 0, max: 4, noNaN: true }), fc.double({ min: 0, max: 4, noNaN: true }), (rate, p1, p2) => {
        const [lo, hi] = p1 <= p2 ? [p1, p2] : [p2, p1];
        const a = optimalCycle(rate, lo);
        const b = optimalCycle(rate, hi);
        return Number.isFinite(a.rate) && a.cycle <= b.cycle && a.rate >= b.rate - 1e-12;
      }),
    );
  });

  it('the rule is the renewal optimum: refresh exactly when one more reuse is worth less than the best rate', () => {
    const rate = 0.3;
    const price = 0.5;
    const { rate: best, cycle } = optimalCycle(rate, price);
    // the first age whose modelled efficiency falls below the best rate is the optimal cycle length
    let firstBelow = 1;
    while (modelledEfficiency(rate, firstBelow) >= best) firstBelow++;
    expect(firstBelow).toBe(cycle);
  });

  it('warm-up: refresh until enough observations; then the model decides', () => {
    let s = emptyAutoState();
    expect(autoDecision(s, 0, o).reason).toBe('warmup');
    expect(autoDecision(s, 1, o).reason).toBe('warmup');
    s = observe(s, 2, 0.95, o);
    expect(autoDecision(s, 1, o).reason).toBe('warmup');
    s = observe(s, 2, 0.95, o);
    expect(s.observations).toBe(2);
    expect(s.rate).toBeCloseTo(-Math.log(0.95) / 2, 12);
    expect(autoDecision(s, 0, o).reason).toBe(null); // cheap to keep: e(1) ≈ 0.97
  });

  it('refreshes when the benefit jumps and stops when it is gone (synthetic efficiency trace)', () => {
    let s = emptyAutoState();
    s = observe(observe(s, 2, 0.98, o), 2, 0.98, o); // reuse nearly free
    // ages at which the return-on-investment rule keeps the coefficients (exploration aside)
    const reuseAges = (st: AutoState) => [0, 1, 2, 3, 5, 8].filter((k) => autoDecision(st, k, o).reason !== 'roi').length;
    const before = reuseAges(s);
    expect(before).toBeGreaterThanOrEqual(4);
    // curvature starts moving: reused directions keep 20 % of the step after 2 visits
    for (let i = 0; i < 4; i++) s = observe(s, 2, 0.2, o);
    expect(autoDecision(s, 0, o).reason).toBe('roi');
    expect(reuseAges(s)).toBe(0);
    // …and settles again: the policy goes back to reusing
    for (let i = 0; i < 12; i++) s = observe(s, 3, 0.99, o);
    expect(reuseAges(s)).toBeGreaterThanOrEqual(before);
  });

  it('never NaN and deterministic given the trace (property over random traces)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ age: fc.integer({ min: 1, max: 50 }), e: fc.double({ min: -1, max: 2, noNaN: false }), t: fc.double({ min: -5, max: 1e4 }) }), { maxLength: 40 }),
        (trace) => {
          const run = () => {
            let s = emptyAutoState();
            const out: string[] = [];
            for (const x of trace) {
              s = observe(s, x.age, x.e, o);
              s = recordTiming(s, x.age % 2 ? 'cachedPeriods' : 'freshPeriods', x.t);
              const d = autoDecision(s, x.age, resolveAuto({ warmup: 1 }));
              if (Number.isNaN(d.price) || (d.threshold !== null && Number.isNaN(d.threshold))) throw new Error('NaN');
              out.push(`${d.reason}:${d.price}`);
            }
            if (s.rate !== null && !(Number.isFinite(s.rate) && s.rate >= -Math.log(2) - 1e-12)) throw new Error(`rate ${s.rate}`);
            return out.join(',');
          };
          return run() === run();
        },
      ),
    );
  });

  it('price: fixed, or measured as the larger of the split median and the pair median; 1 with no timing', () => {
    const m = resolveAuto({});
    let s = emptyAutoState();
    expect(refreshPrice(s, m)).toBe(1);
    expect(splitPrice(10, 30)).toBeCloseTo(10 / 20, 12);
    expect(splitPrice(10, 10)).toBe(null); // a clock that did not move past the computation
    expect(splitPrice(NaN, 30)).toBe(null);
    s = recordTiming(recordTiming(s, 'freshPeriods', 30), 'splits', 0.5);
    expect(refreshPrice(s, m)).toBeCloseTo(0.5, 12); // one computed step timed: its split
    expect(pairedPrice(s)).toBe(null);
    // each period pairs, as it is recorded, with the latest of the other kind
    for (const t of [20, 21, 19, 500 /* an evaluation pause */]) s = recordTiming(s, 'cachedPeriods', t);
    s = recordTiming(recordTiming(s, 'freshPeriods', 31), 'freshPeriods', 29);
    // pairs: 30/20, 30/21, 30/19, 30/500, 31/500, 29/500 (each − 1): median of the six = (30/21 + 31/500) / 2 − 1
    expect(s.pairs).toHaveLength(6);
    expect(pairedPrice(s)).toBeCloseTo((30 / 21 + 31 / 500) / 2 - 1, 12);
    expect(refreshPrice(s, m)).toBeCloseTo(0.5, 12); // the split is the floor
    for (let i = 0; i < 12; i++) s = recordTiming(recordTiming(s, 'cachedPeriods', 10), 'freshPeriods', 25);
    expect(pairedPrice(s)).toBeCloseTo(1.5, 12);
    expect(refreshPrice(s, m)).toBeCloseTo(1.5, 12);
    expect(refreshPrice(s, o)).toBe(0.25);
    // the pairs and splits keep their 31 most recent; the latest periods carry their ordinals
    for (let i = 0; i < 100; i++) s = recordTiming(s, 'cachedPeriods', 15);
    expect(s.pairs.length).toBe(31);
    expect(s.periods).toBe(4 + 4 + 24 + 100 - 1);
    expect(s.lastCached).toEqual({ ms: 15, at: s.periods - 1 });
    for (const bad of [NaN, -1, Infinity]) expect(recordTiming(s, 'splits', bad)).toBe(s);
  });

  it('pairs only timings taken close together: a cached step timed under another load cannot drive the price to 0', () => {
    const m = resolveAuto({});
    let s = emptyAutoState();
    // epoch 2 under heavy load: cached steps take 100 ms
    for (let i = 0; i < 8; i++) s = recordTiming(s, 'cachedPeriods', 100);
    // later, the load is gone: 40 computed steps of 30 ms whose curvature takes 10 ms (split 0.5); the first 32
    // pair with the last 100 ms cached step (−0.7 each), the rest are too far from any cached step to pair
    for (let i = 0; i < 40; i++) s = recordTiming(recordTiming(s, 'freshPeriods', 30), 'splits', 0.5);
    expect(s.pairs).toHaveLength(31);
    expect(pairedPrice(s)).toBeCloseTo(-0.7, 12);
    // unpaired medians would read 30 / 100 − 1 < 0 → 0: the split keeps the price at its lower bound
    expect(refreshPrice(s, m)).toBeCloseTo(0.5, 12);
    // cached steps timed under today's load pair with today's computed steps
    for (let i = 0; i < 40; i++) s = recordTiming(recordTiming(s, 'cachedPeriods', 20), 'freshPeriods', 30);
    expect(pairedPrice(s)).toBeCloseTo(0.5, 12);
  });

  it('long reuse cycles keep their pairs: one computed step in 30 still measures the price', () => {
    const m = resolveAuto({});
    let s = emptyAutoState();
    for (let cycle = 0; cycle < 40; cycle++) {
      for (let i = 0; i < 29; i++) s = recordTiming(s, 'cachedPeriods', 10);
      s = recordTiming(recordTiming(s, 'freshPeriods', 20), 'splits', 0.3);
    }
    expect(pairedPrice(s)).toBeCloseTo(1, 12);
    expect(refreshPrice(s, m)).toBeCloseTo(1, 12);
  });

  it('shift test: a jump past 1.5× the previous visit and the running mean loss; noise near 0 is not a shift', () => {
    const entry = { lastLoss: 0.005 } as CacheEntry;
    expect(shiftSignal(entry, 0.009, 1.5, null)).toBe(true); // ratio alone: 1.8× — a false alarm
    expect(shiftSignal(entry, 0.009, 1.5, 0.01)).toBe(false); // under 1.5× the mean batch loss
    expect(shiftSignal(entry, 0.05, 1.5, 0.01)).toBe(true); // a real shift
    expect(shiftSignal(entry, 0.05, null, 0.01)).toBe(false);
    expect(shiftSignal({ lastLoss: null } as CacheEntry, 5, 1.5, 0.01)).toBe(false);
  });

  it('options are validated with typed errors naming the value', () => {
    for (const bad of [{ price: -1 }, { price: NaN }, { price: 'flops' }, { warmup: 0 }, { smoothing: 0 }, { smoothing: 2 }, { maxAge: 0.5 }, { lengthRatio: 0 }, { lossRatio: 1 }, { clock: 3 }]) {
      expect(() => resolveAuto(bad as never)).toThrow(InvalidArgumentError);
    }
    expect(resolveAuto({ maxAge: 4, lossRatio: null }).lossRatio).toBe(null);
    expect(() => resolveAuto({ lengthRatio: Infinity })).toThrow(InvalidArgumentError);
  });

  it('length test: off by default under the reuse guard (a capped update is no longer than the fresh one), 2 without it', () => {
    expect(autoLengthRatio(resolveAuto({}).lengthRatio, true)).toBe(Infinity);
    expect(autoLengthRatio(resolveAuto({}).lengthRatio, false)).toBe(2);
    expect(autoLengthRatio(resolveAuto({ lengthRatio: 3 }).lengthRatio, true)).toBe(3);
    expect(autoLengthRatio(resolveAuto({ lengthRatio: null }).lengthRatio, false)).toBe(Infinity);
  });

  it('explores: the model is not trusted past twice the oldest age observed; each exploring refresh doubles the bound', () => {
    const m = resolveAuto({ price: 0.5, warmup: 2 });
    let s = emptyAutoState();
    s = observe(observe(s, 1, 1, m), 1, 1, m); // warm-up at age 1: reuse looks free
    expect(s.oldest).toBe(1);
    expect(autoDecision(s, 0, m).reason).toBe(null); // age 1
    expect(autoDecision(s, 1, m).reason).toBe('explore'); // age 2 = 2 × 1: one age says nothing about the decay
    s = observe(s, 2, 1, m);
    expect(s.oldest).toBe(2);
    expect(autoDecision(s, 2, m).reason).toBe(null); // age 3
    expect(autoDecision(s, 3, m).reason).toBe('explore'); // age 4
    s = observe(s, 4, 1, m);
    expect(autoDecision(s, 6, m).reason).toBe(null); // age 7
    expect(autoDecision(s, 7, m).reason).toBe('explore'); // age 8
    // …and what the exploring refresh measures decides: value gone at age 7 → the rule refreshes earlier
    s = observe(observe(s, 7, 0.01, m), 7, 0.01, m);
    expect(autoDecision(s, 3, m).reason).toBe('roi');
    // a fixed maxAge still wins first
    expect(autoDecision(s, 3, resolveAuto({ price: 0.5, warmup: 2, maxAge: 3 })).reason).toBe('max-age');
  });

  it('one near-zero observation moves the running retention by its weight, not by its logarithm', () => {
    const m = resolveAuto({ smoothing: 0.25 });
    let s = emptyAutoState();
    for (let i = 0; i < 8; i++) s = observe(s, 1, 1, m);
    expect(s.rate).toBe(0);
    s = observe(s, 1, 0, m);
    expect(s.rate).toBeCloseTo(-Math.log(0.75), 12); // a mean of logarithms would have jumped to ≈ 3.45
    s = observe(s, 2, 0.81, m); // per-visit retention 0.9, over two visits: the weight of two observations
    const w2 = 1 - 0.75 ** 2;
    expect(s.rate).toBeCloseTo(-Math.log(0.75 + w2 * (0.9 - 0.75)), 12);
    // …so one exploring observation at age 4 that finds the value gone moves the model as four one-visit ones
    let t = emptyAutoState();
    for (let i = 0; i < 8; i++) t = observe(t, 1, 1, m);
    t = observe(t, 4, 0.01, m);
    expect(Math.exp(-(t.rate as number))).toBeCloseTo(1 - (1 - 0.75 ** 4) * (1 - 0.01 ** 0.25), 12);
  });

  it('ratios above 1 count (up to 2): noise around 1 leaves the rate near 0 instead of biasing it upwards; the model caps e at 1', () => {
    const m = resolveAuto({ price: 0.5, warmup: 2, smoothing: 0.25 });
    let s = emptyAutoState();
    for (const e of [0.8, 1.2, 0.8, 1.2, 0.8, 1.2, 0.8, 1.2]) s = observe(s, 1, e, m);
    expect(Math.abs(s.rate as number)).toBeLessThan(0.05); // cut at 1 the mean would be ≈ 0.9: rate ≈ 0.1
    for (let i = 0; i < 20; i++) s = observe(s, 1, 5, m); // capped at 2
    expect(s.rate).toBeCloseTo(-Math.log(2), 2);
    expect(s.last?.efficiency).toBe(2);
    expect(modelledEfficiency(s.rate as number, 3)).toBe(1);
    expect(autoDecision(s, 0, m).reason).toBe(null);
    // a negative rate survives a checkpoint; one below −ln 2 is not a state this code writes
    expect(checkAutoState(JSON.parse(JSON.stringify(s)))).toEqual(s);
    expect(checkAutoState({ ...s, rate: -1 })).toBe(null);
  });
});

describe('auto policy in the optimizer', () => {
  let dev: LinalgDevice;
  beforeAll(async () => {
    dev = await createDevice({ backend: 'cpu' });
  });
  afterAll(() => dev.destroy());

  const model: Mlp = { din: 4, hidden: 6, dout: 3, loss: 'ce' };
  const data = batches(model, makeData(model, 40, 3), 8); // 5 batches

  async function epoch(opt: FngdOptimizer, params: HostTree, e: number): Promise<{ params: HostTree; computed: number }> {
    let computed = 0;
    for (let k = 0; k < data.length; k++) {
      const b = data[k]!;
      const pass = forwardBackward(model, params, b);
      const c = await opt.coefficients({ batchKey: k, epoch: e, n: b.n, factors: () => deviceFactors(dev, pass) });
      if (c.fresh) computed++;
      params = opt.step(weightedGradient(pass, c.alpha), params, { coefficients: c, loss: pass.meanLoss });
    }
    return { params, computed };
  }

  it('warms up, measures efficiencies, and its state survives a checkpoint: the restored twin decides identically', async () => {
    const make = () => fngd({ device: dev, learningRate: 0.2, damping: 0.5, momentum: 0, refresh: { auto: { price: 0.3, warmup: 3 } } });
    const opt = make();
    let params = initParams(model, 2);
    opt.init(params);
    const computed: number[] = [];
    for (let e = 0; e < 3; e++) {
      const r = await epoch(opt, params, e);
      params = r.params;
      computed.push(r.computed);
    }
    expect(computed[0]).toBe(5); // misses
    // warm-up refreshes (each an observation) until 3 observations; then the model decides
    const st = opt.stats;
    expect(st.auto.refreshes.warmup).toBe(3);
    expect(computed[1]! + computed[2]!).toBe(3 + st.auto.refreshes.roi);
    expect(st.auto.observations).toBe(computed[1]! + computed[2]!);
    expect(st.auto.rate).not.toBeNull();
    expect(st.auto.last!.age).toBeGreaterThanOrEqual(1);
    expect(st.auto.last!.efficiency).toBeGreaterThan(0);
    expect(st.auto.last!.efficiency).toBeLessThanOrEqual(1);
    expect(st.auto.price).toBe(0.3);

    const twin = make();
    twin.init(params);
    twin.restore(opt.serialize());
    expect(twin.stats.auto).toEqual(opt.stats.auto);
    let p1 = params;
    let p2 = params;
    for (let e = 3; e < 6; e++) {
      const a = await epoch(opt, p1, e);
      const b = await epoch(twin, p2, e);
      expect(b.computed).toBe(a.computed);
      p1 = a.params;
      p2 = b.params;
    }
    expect(twin.stats.auto).toEqual(opt.stats.auto);
    expect(twin.stats.factorizations).toBe(opt.stats.factorizations); // restored counters included
  });

  it('a measured price follows the injected clock: expensive refreshes are made rarer', async () => {
    const run = async (extra: number): Promise<number> => {
      let now = 0;
      let computing = false;
      // the curvature computation (after the factors are captured) takes `extra`: the clock's second reading
      // after a capture is `extra` later than its first
      let phase = 0;
      const clock = (): number => {
        if (phase === 1) phase = 2;
        else if (phase === 2) {
          phase = 0;
          now += extra;
        }
        return now;
      };
      const opt = fngd({
        device: dev,
        learningRate: 0.2,
        damping: 0.5,
        momentum: 0,
        refresh: { auto: { warmup: 2, clock } },
      });
      let params = initParams(model, 3);
      opt.init(params);
      let total = 0;
      for (let e = 0; e < 24; e++) {
        for (let k = 0; k < data.length; k++) {
          const b = data[k]!;
          const pass = forwardBackward(model, params, b);
          const c = await opt.coefficients({
            batchKey: k,
            epoch: e,
            n: b.n,
            factors: () => {
              computing = true;
              phase = 1;
              return deviceFactors(dev, pass);
            },
          });
          if (computing) total++;
          computing = false;
          params = opt.step(weightedGradient(pass, c.alpha), params, { coefficients: c, loss: pass.meanLoss });
          now += 10; // a cached step's cost
        }
      }
      expect(opt.stats.auto.price).toBeCloseTo(extra / 10, 6);
      return total;
    };
    const cheap = await run(0.5);
    const dear = await run(100);
    expect(dear).toBeLessThan(cheap);
  });

  it('no request is served from the cache only to time it: worthless reuse is refused from the first decision', () => {
    const m = resolveAuto({});
    let s = emptyAutoState();
    s = observe(observe(observe(observe(s, 1, 0.01, m), 1, 0.01, m), 1, 0.01, m), 1, 0.01, m); // reuse worthless
    expect(autoDecision(s, 0, m).reason).toBe('roi'); // no timing at all: price 1
    s = recordTiming(s, 'splits', 0.05);
    expect(autoDecision(s, 0, m).reason).toBe('roi');
    expect(autoDecision(s, 0, resolveAuto({ price: 0.1 })).reason).toBe('roi');
  });

  it('a checkpoint of another policy restores into auto with a fresh auto state', async () => {
    const other = fngd({ device: dev, learningRate: 0.2, damping: 0.5, refresh: 'drift' });
    const params = initParams(model, 4);
    other.init(params);
    await epoch(other, params, 0);
    const auto = fngd({ device: dev, learningRate: 0.2, damping: 0.5, refresh: 'auto' });
    auto.init(params);
    auto.restore(other.serialize());
    expect(auto.stats.auto.observations).toBe(0);
    const r = await epoch(auto, params, 1);
    // a fresh model warms up: the first 4 cached batches (warmup 4) are refreshed, each refresh an efficiency
    // observation; then the model decides — no batch is served from the cache only to time it
    const a = auto.stats.auto;
    expect(a.refreshes.warmup).toBe(4);
    expect(r.computed).toBe(4 + a.refreshes.roi + a.refreshes.explore);
    expect(a.observations).toBe(r.computed);
  });

  it('a state saved before the paired price keeps its learned model and drops its unpairable timings', () => {
    const old = { rate: 0.2, observations: 7, last: { age: 2, efficiency: 0.7 }, cachedPeriods: [10, 11], freshPeriods: [14], work: [3], sinceCachedTiming: 4, meanLoss: 0.5 };
    expect(checkAutoState(old)).toEqual({ ...emptyAutoState(), rate: 0.2, observations: 7, last: { age: 2, efficiency: 0.7 }, oldest: 2, meanLoss: 0.5 });
    expect(checkAutoState({ ...old, work: [-1] })).toBe(null);
    expect(checkAutoState({ ...old, sinceCachedTiming: 1.5 })).toBe(null);
    // the current form round-trips; the latest periods' ordinals precede `periods`; a pair price is ≥ −1
    let s = emptyAutoState();
    for (const t of [10, 12]) s = recordTiming(recordTiming(s, 'cachedPeriods', t), 'freshPeriods', t + 5);
    expect(checkAutoState(JSON.parse(JSON.stringify(s)))).toEqual(s);
    expect(checkAutoState({ ...s, lastFresh: { ms: 3, at: 4 } })).toBe(null);
    expect(checkAutoState({ ...s, lastCached: { ms: -3, at: 0 } })).toBe(null);
    expect(checkAutoState({ ...s, periods: 2 })).toBe(null);
    expect(checkAutoState({ ...s, pairs: [-2] })).toBe(null);
  });

  it('a checkpoint whose auto state is corrupt is refused with CheckpointError and changes nothing', async () => {
    const opt = fngd({ device: dev, learningRate: 0.2, damping: 0.5, momentum: 0, refresh: { auto: { price: 0.3, warmup: 1 } } });
    let params = initParams(model, 5);
    opt.init(params);
    for (let e = 0; e < 3; e++) params = (await epoch(opt, params, e)).params;
    const good = opt.serialize();
    const before = opt.stats;
    for (const corrupt of [{ rate: -1 }, { pairs: [1, NaN] }, { meanLoss: 'x' }, { periods: 1.5 }, { splits: [-1] }, { lastCached: { ms: 1, at: 0 } }, { oldest: -1 }, { oldest: 1.5 }]) {
      const payload = decodeCheckpoint(good) as { core: { auto: Record<string, unknown> } };
      payload.core.auto = { ...payload.core.auto, ...corrupt };
      expect(() => opt.restore(encodeCheckpoint(payload))).toThrow(CheckpointError);
      expect(opt.stats).toEqual(before);
      expect(opt.serialize()).toEqual(good);
    }
  });

  it('a checkpoint from before exploration (no `oldest`, refresh counts without `explore`) restores and continues', async () => {
    const opt = fngd({ device: dev, learningRate: 0.2, damping: 0.5, momentum: 0, refresh: { auto: { price: 0.3, warmup: 1 } } });
    let params = initParams(model, 6);
    opt.init(params);
    for (let e = 0; e < 3; e++) params = (await epoch(opt, params, e)).params;
    const payload = decodeCheckpoint(opt.serialize()) as {
      core: { auto: Record<string, unknown> };
      stats: { auto: { refreshes: Record<string, number> } };
    };
    const { oldest: _oldest, ...oldAuto } = payload.core.auto;
    payload.core.auto = oldAuto;
    const { explore, ...oldRefreshes } = payload.stats.auto.refreshes;
    payload.stats.auto.refreshes = oldRefreshes;
    const restored = fngd({ device: dev, learningRate: 0.2, damping: 0.5, momentum: 0, refresh: { auto: { price: 0.3, warmup: 1 } } });
    restored.init(params);
    restored.restore(encodeCheckpoint(payload));
    expect(restored.stats.auto.refreshes).toEqual({ ...oldRefreshes, explore: 0 });
    expect(Object.keys(restored.stats.auto.refreshes)).toEqual(['warmup', 'roi', 'explore', 'maxAge']);
    expect(explore).toBeGreaterThanOrEqual(0);
    await epoch(restored, params, 3); // and it trains on
  });

  it('rejects bad auto options at creation with InvalidArgumentError', () => {
    expect(() => fngd({ device: dev, refresh: { auto: { price: -0.1 } } })).toThrow(InvalidArgumentError);
    expect(() => fngd({ device: dev, refresh: { auto: { warmup: 1.5 } } })).toThrow(/warmup/);
  });
});
