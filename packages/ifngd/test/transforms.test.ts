import { describe, expect, it } from 'vitest';
import {
  applyIfFinite,
  chain,
  clipByGlobalNorm,
  constantSchedule,
  cosineSchedule,
  hostTreeOps,
  identity,
  InvalidArgumentError,
  momentum,
  scaleByFngd,
  scaleByKfac,
  scaleByLearningRate,
  stepSchedule,
  warmup,
  weightDecay,
  type GradientTransformation,
  type HostTree,
  type StepExtras,
} from '../src/index.js';

const params: HostTree = { a: new Float32Array([1, -2, 3]), b: new Float32Array([0.5]) };
const grads: HostTree = { a: new Float32Array([0.1, 0.2, -0.3]), b: new Float32Array([4]) };
const extras: StepExtras = { fngd: { damping: 0.5 }, kfac: { vg: 2 } };
const copy = (t: HostTree): HostTree => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.slice()]));

// The contract every transformation meets: pure init/update, same tree structure out, state reusable.
const table: [string, GradientTransformation<any>][] = [
  ['identity', identity()],
  ['momentum', momentum({ decay: 0.9 })],
  ['nesterov', momentum({ decay: 0.9, nesterov: true })],
  ['weightDecay', weightDecay(0.01)],
  ['clipByGlobalNorm', clipByGlobalNorm(1)],
  ['scaleByLearningRate', scaleByLearningRate(cosineSchedule(0.1, 10))],
  ['scaleByFngd', scaleByFngd()],
  ['scaleByKfac', scaleByKfac({ klClip: 0.001, learningRate: 0.1 })],
  ['applyIfFinite(momentum)', applyIfFinite(momentum({ decay: 0.5 }))],
  ['chain', chain(scaleByFngd(), momentum({ decay: 0.9 }), weightDecay(0.1), scaleByLearningRate(0.1))],
];

describe.each(table)('contract: %s', (_name, t) => {
  it('is pure and keeps the tree structure', () => {
    const p = copy(params);
    const g = copy(grads);
    const s0 = t.init(p);
    const s0copy = structuredClone(s0);
    const r1 = t.update(g, s0, p, extras);
    const r2 = t.update(g, s0, p, extras);
    expect(p).toEqual(params);
    expect(g).toEqual(grads);
    expect(s0).toEqual(s0copy);
    expect(r1).toEqual(r2);
    expect(hostTreeOps.spec(r1.updates)).toEqual(hostTreeOps.spec(grads));
    expect(hostTreeOps.allFinite(r1.updates)).toBe(1);
    const r3 = t.update(r1.updates, r1.state, p, extras);
    expect(hostTreeOps.spec(r3.updates)).toEqual(hostTreeOps.spec(grads));
  });
});

describe('transformations', () => {
  it('momentum: heavy ball and Nesterov', () => {
    const hb = momentum({ decay: 0.5 });
    const one = { x: new Float32Array([1]) };
    let s = hb.init(one);
    let r = hb.update(one, s, one, {});
    r = hb.update(one, r.state, one, {});
    expect(r.updates.x![0]).toBeCloseTo(1.5);
    const nv = momentum({ decay: 0.5, nesterov: true });
    s = nv.init(one);
    expect(nv.update(one, s, one, {}).updates.x![0]).toBeCloseTo(1.5);
    expect(() => momentum({ decay: 1 })).toThrow(InvalidArgumentError);
  });

  it('clipByGlobalNorm, weightDecay, scaleByLearningRate, scaleByFngd', () => {
    const c = clipByGlobalNorm(1).update({ x: new Float32Array([3, 4]) }, { clipped: 0 }, params, {});
    expect(Array.from(c.updates.x!)).toEqual([Math.fround(0.6), Math.fround(0.8)]);
    expect(c.state.clipped).toBe(1);
    const w = weightDecay(0.1).update({ x: new Float32Array([1]) }, {}, { x: new Float32Array([10]) }, {});
    expect(w.updates.x![0]).toBeCloseTo(2);
    const lr = scaleByLearningRate(stepSchedule(1, 2, 0.5));
    let st = lr.init(params);
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = lr.update({ x: new Float32Array([1]) }, st, params, {});
      seen.push(r.updates.x![0]!);
      st = r.state;
    }
    expect(seen).toEqual([-1, -1, -0.5, -0.5, -0.25]);
    const f = scaleByFngd();
    const capped = f.update({ x: new Float32Array([6, 8]) }, f.init(params), params, { fngd: { damping: 0.5, maxNorm: 1 } });
    expect(capped.state).toEqual({ capped: 1, lastNorm: 5, lastScale: 0.2 });
    expect(Array.from(capped.updates.x!)).toEqual([Math.fround(0.6), Math.fround(0.8)]);
    expect(() => f.update(grads, f.init(params), params, {})).toThrow(InvalidArgumentError);
  });

  it('applyIfFinite skips non-finite updates, keeps the inner state and counts', () => {
    const t = applyIfFinite(momentum({ decay: 0.9 }));
    const s = t.init(params);
    const bad = { ...grads, b: new Float32Array([NaN]) };
    const r = t.update(bad, s, params, {});
    expect(r.state.inner).toBe(s.inner);
    expect(r.state).toMatchObject({ skipped: 1, consecutive: 1, lastApplied: false });
    expect(hostTreeOps.norm2(r.updates)).toBe(0);
    const ok = t.update(grads, r.state, params, {});
    expect(ok.state).toMatchObject({ skipped: 1, consecutive: 0, lastApplied: true });
  });

  it('schedules', () => {
    expect(constantSchedule(0.3)(100)).toBe(0.3);
    const cos = cosineSchedule(1, 10, 0.1);
    expect(cos(0)).toBeCloseTo(1);
    expect(cos(5)).toBeCloseTo(0.55);
    expect(cos(10)).toBeCloseTo(0.1);
    expect(cos(50)).toBeCloseTo(0.1);
    const w = warmup(constantSchedule(1), 4);
    expect([0, 1, 2, 3, 4, 9].map(w)).toEqual([0, 0.25, 0.5, 0.75, 1, 1]);
    expect(() => stepSchedule(1, 0, 0.5)).toThrow(InvalidArgumentError);
    expect(() => constantSchedule(NaN)).toThrow(InvalidArgumentError);
  });
});
