/**
 * `scaleByKfac`, the KL clip: ν = min(1, √(κ / (lr²·Σ⟨V, ∇W⟩))) on the whole direction, with the learning
 * rate of the schedule position it keeps in step with `scaleByLearningRate`.
 */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, scaleByKfac, stepSchedule, type HostTree } from '../src/index.js';

const u: HostTree = { w: new Float32Array([3, -4]), b: new Float32Array([1]) };

describe('scaleByKfac', () => {
  it('scales by ν = √(κ/(lr²·vg)) when that is below 1, and counts the clip', () => {
    const t = scaleByKfac({ klClip: 0.01, learningRate: 0.5 });
    const r = t.update(u, t.init(u), u, { kfac: { vg: 4 } }); // ν = √(0.01 / (0.25·4)) = 0.1
    expect(Array.from(r.updates.w!)).toEqual([Math.fround(0.3), Math.fround(-0.4)]);
    expect(r.updates.b![0]).toBeCloseTo(0.1, 7);
    expect(r.state).toEqual({ count: 1, clipped: 1, lastScale: expect.closeTo(0.1, 12), lastVg: 4 });
  });

  it('leaves the direction alone when ν ≥ 1, vg ≤ 0, or clipping is off', () => {
    for (const [klClip, vg] of [
      [1, 4],
      [0.01, 0],
      [0.01, -1],
      [null, 1e9],
    ] as const) {
      const t = scaleByKfac({ klClip, learningRate: 0.5 });
      const r = t.update(u, t.init(u), u, { kfac: { vg } });
      expect(r.updates).toBe(u);
      expect(r.state.lastScale).toBe(1);
      expect(r.state.clipped).toBe(0);
    }
  });

  it('follows the learning-rate schedule position', () => {
    const t = scaleByKfac({ klClip: 0.02, learningRate: stepSchedule(1, 1, 0.1) });
    let s = t.init(u);
    const scales: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = t.update(u, s, u, { kfac: { vg: 1 } }); // lr = 1, 0.1, 0.01 → ν = √0.02, 1, 1
      scales.push(r.state.lastScale);
      s = r.state;
    }
    expect(scales[0]).toBeCloseTo(Math.sqrt(0.02), 12);
    expect(scales.slice(1)).toEqual([1, 1]);
  });

  it('rejects a bad klClip and a step without extras.kfac (InvalidArgumentError)', () => {
    for (const k of [0, -1, NaN, Infinity])
      expect(() => scaleByKfac({ klClip: k, learningRate: 1 })).toThrow(InvalidArgumentError);
    const t = scaleByKfac({ klClip: 0.1, learningRate: 1 });
    expect(() => t.update(u, t.init(u), u, {})).toThrow(InvalidArgumentError);
  });
});
