/**
 * KFAC's schedules on the CPU backend: running averages (first-step initialisation, decay β) against float64
 * averages of explicitly summed batch factors; factors requested only every `factorEvery` steps; damped
 * inverses refreshed every `inverseEvery` steps, kept bit for bit in between, and equal to the π-rule damped
 * factors' inverses.
 */
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, kfac, type HostTree, type KfacOptions } from '../src/index.js';
import { ema, referenceDamped, referenceFactors, type HostLayer } from './support/kfac-reference.js';
import {
  deviceFactors,
  disposeFactors,
  forwardBackward,
  initParams,
  makeData,
  weightedGradient,
  type Mlp,
  KFAC_LAYERS,
} from './support/mlp.js';
import { relativeError } from './support/reference.js';

const MLP: Mlp = { din: 6, hidden: 5, dout: 3, loss: 'mse' };
const LAYERS = KFAC_LAYERS;

let dev: LinalgDevice;
beforeAll(async () => {
  dev = await createDevice({ backend: 'cpu' });
});
afterAll(() => dev.destroy());

/** Batch t at `params`: host layers (float32-rounded like the device's), mean gradients, a counted factor source. */
function batch(params: HostTree, t: number, calls: number[]) {
  const pass = forwardBackward(MLP, params, makeData(MLP, 11, 500 + t));
  const round = (x: Float64Array): Float64Array => Float64Array.from(Float32Array.from(x));
  const host: HostLayer[] = pass.layers.map((f) => ({
    A: round(f.A),
    D: round(f.D),
    p: f.din,
    q: f.dout,
    n: pass.n,
    T: 1,
    bias: true,
  }));
  const grads = weightedGradient(pass, new Float64Array(pass.n).fill(1 / pass.n));
  let made: ReturnType<typeof deviceFactors> = [];
  const factors = (): ReturnType<typeof deviceFactors> => {
    calls.push(t);
    made = deviceFactors(dev, pass);
    return made;
  };
  return { host, grads, factors, release: () => disposeFactors(made) };
}

async function run(
  options: Partial<KfacOptions>,
  steps: number,
  each?: (t: number, opt: ReturnType<typeof kfac>, host: HostLayer[]) => void,
) {
  const opt = kfac({ device: dev, layers: LAYERS, learningRate: 0.05, momentum: 0, damping: 0.1, ...options });
  let params = initParams(MLP, 1);
  opt.init(params);
  const calls: number[] = [];
  for (let t = 0; t < steps; t++) {
    const b = batch(params, t, calls);
    params = await opt.step(b.grads, params, { factors: b.factors }).finally(b.release);
    each?.(t, opt, b.host);
  }
  return { opt, calls };
}

describe('running averages', () => {
  it('first-step initialisation, then M ← βM + (1 − β)M̂ every step (β = 0.7)', async () => {
    const avg: { A: Float64Array | null; G: Float64Array | null }[] = [
      { A: null, G: null },
      { A: null, G: null },
    ];
    const { opt } = await run({ decay: 0.7 }, 4, (t, o, host) => {
      host.forEach((h, l) => {
        const f = referenceFactors(h);
        const r = avg[l]!;
        r.A = ema(r.A, f.A, 0.7);
        r.G = ema(r.G, f.G, 0.7);
        const s = o.layerState(l);
        if (t === 0) expect(relativeError(s.a!, f.A), 'A₁ = Â₁').toBeLessThan(1e-6);
        expect(relativeError(s.a!, r.A), `A, step ${t}, layer ${l}`).toBeLessThan(1e-6);
        expect(relativeError(s.g!, r.G), `G, step ${t}, layer ${l}`).toBeLessThan(1e-6);
      });
    });
    expect(opt.stats.factorUpdates).toBe(4);
  });

  it('factorEvery = 2: factors are requested on steps 0, 2, 4 only, and only those batches are averaged', async () => {
    let A: Float64Array | null = null;
    const due: boolean[] = [];
    const { opt, calls } = await run({ decay: 0.5, factorEvery: 2, inverseEvery: 1 }, 5, (t, o, host) => {
      if (t % 2 === 0) A = ema(A, referenceFactors(host[0]!).A, 0.5);
      expect(relativeError(o.layerState(0).a!, A!), `step ${t}`).toBeLessThan(1e-6);
      due.push(o.factorsDue);
    });
    expect(calls).toEqual([0, 2, 4]);
    expect(due).toEqual([false, true, false, true, false]); // after step t: is step t + 1 due?
    expect(opt.stats).toMatchObject({ steps: 5, factorUpdates: 3, inverseRefreshes: 5 });
  });

  it('a step that is not due needs no factors; one that is due rejects their absence', async () => {
    const opt = kfac({ device: dev, layers: LAYERS, factorEvery: 2, momentum: 0 });
    let params = initParams(MLP, 1);
    opt.init(params);
    await expect(opt.step(batch(params, 0, []).grads, params)).rejects.toBeInstanceOf(InvalidArgumentError);
    const b = batch(params, 0, []);
    params = await opt.step(b.grads, params, { factors: b.factors }).finally(b.release);
    expect(opt.factorsDue).toBe(false);
    params = await opt.step(batch(params, 1, []).grads, params);
    expect(opt.stats).toMatchObject({ steps: 2, factorUpdates: 1 });
  });
});

describe('inverse refresh', () => {
  it('every inverseEvery = 3 steps (0, 3, 6), kept bit for bit in between, = (A + π√λI)⁻¹, (G + √λ/πI)⁻¹', async () => {
    const seen: { aInv: Float32Array; gInv: Float32Array }[] = [];
    const inverseDue: boolean[] = [];
    const { opt } = await run({ inverseEvery: 3, decay: 0.9 }, 7, (t, o) => {
      const s = o.layerState(1);
      seen.push({ aInv: s.aInv!, gInv: s.gInv! });
      inverseDue.push(o.inverseDue);
      if (t % 3 === 0) {
        const { Ad, Gd, pi } = referenceDamped(s.a!, MLP.hidden + 1, s.g!, MLP.dout, 0.1);
        expect(s.pi).toBeCloseTo(pi, 10);
        expect(productError(Ad, s.aInv!, MLP.hidden + 1)).toBeLessThan(1e-5);
        expect(productError(Gd, s.gInv!, MLP.dout)).toBeLessThan(1e-5);
        expect(o.stats.lastRefreshStep).toBe(t);
      }
    });
    for (let t = 1; t < 7; t++) {
      const same =
        seen[t]!.aInv.every((v, i) => Object.is(v, seen[t - 1]!.aInv[i])) &&
        seen[t]!.gInv.every((v, i) => Object.is(v, seen[t - 1]!.gInv[i]));
      expect(same, `step ${t}`).toBe(t % 3 !== 0);
    }
    expect(inverseDue).toEqual([false, false, true, false, false, true, false]);
    expect(opt.stats).toMatchObject({ steps: 7, factorUpdates: 7, inverseRefreshes: 3, lastRefreshStep: 6 });
    expect(opt.stats.pi.every((p) => p !== null && p > 0)).toBe(true);
  });
});

/** max |M·X − I| for M float64 and X float32, both `[m, m]`. */
function productError(M: Float64Array, X: Float32Array, m: number): number {
  let worst = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let k = 0; k < m; k++) s += (M[i * m + k] as number) * (X[k * m + j] as number);
      worst = Math.max(worst, Math.abs(s - (i === j ? 1 : 0)));
    }
  }
  return worst;
}
