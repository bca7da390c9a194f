import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FNGD_DEFAULTS, fngd, InvalidArgumentError, type FngdOptions, type HostTree } from '../src/index.js';
import { resolveOptions } from '../src/options.js';
import { batches, deviceFactors, disposeFactors, forwardBackward, initParams, makeData, weightedGradient, type Mlp } from './support/mlp.js';

let dev: LinalgDevice;
beforeAll(async () => {
  dev = await createDevice({ backend: 'cpu' });
});
afterAll(() => dev.destroy());

const model: Mlp = { din: 4, hidden: 6, dout: 3, loss: 'ce' };
const data = batches(model, makeData(model, 24, 3), 8);

/** Three steps (two fresh batches, then one reused) from the same start; the parameters after each step. */
async function trajectory(options: FngdOptions): Promise<HostTree[]> {
  const opt = fngd(options);
  let params = initParams(model, 5);
  opt.init(params);
  const out: HostTree[] = [];
  for (const [key, epoch] of [[0, 1], [1, 1], [0, 2]] as const) {
    const pass = forwardBackward(model, params, data[key]!);
    const fs = deviceFactors(dev, pass);
    const c = await opt.coefficients({ batchKey: key, epoch, n: 8, factors: () => fs });
    disposeFactors(fs);
    params = opt.step(weightedGradient(pass, c.alpha), params, { coefficients: c });
    out.push(params);
  }
  return out;
}

describe('FNGD_DEFAULTS', () => {
  it('fngd({ device }) resolves learningRate, damping, momentum and mode to the exported defaults', () => {
    const r = resolveOptions({ device: dev });
    expect(r.learningRate(0)).toBe(FNGD_DEFAULTS.learningRate);
    expect(r.learningRate(10_000)).toBe(FNGD_DEFAULTS.learningRate);
    expect(r.damping).toBe(FNGD_DEFAULTS.damping);
    expect(r.mode).toBe(FNGD_DEFAULTS.mode);
    expect(r.momentum === null ? 0 : r.momentum.decay).toBe(FNGD_DEFAULTS.momentum);
    const opt = fngd({ device: dev });
    expect(opt.damping).toBe(FNGD_DEFAULTS.damping);
    expect(opt.mode).toBe(FNGD_DEFAULTS.mode);
  });

  it('training with no options is bit-identical to training with the defaults spelled out', async () => {
    const { learningRate, damping, momentum, mode } = FNGD_DEFAULTS;
    const implicit = await trajectory({ device: dev });
    const explicit = await trajectory({ device: dev, learningRate, damping, momentum, mode });
    expect(implicit).toEqual(explicit);
    // and the defaults matter: another learning rate gives another trajectory
    expect(await trajectory({ device: dev, learningRate: learningRate / 2 })).not.toEqual(implicit);
  });

  it('an explicit value overrides its default; momentum 0 turns momentum off', () => {
    const r = resolveOptions({ device: dev, learningRate: 0.25, damping: 3, momentum: 0, mode: 'layerwise' });
    expect(r.learningRate(0)).toBe(0.25);
    expect(r.damping).toBe(3);
    expect(r.momentum).toBeNull();
    expect(r.mode).toBe('layerwise');
    expect(resolveOptions({ device: dev, momentum: 0.5 }).momentum).toEqual({ decay: 0.5 });
  });

  it.each([0, -0.1, NaN, Infinity, -Infinity])('an explicit invalid learningRate (%s) → InvalidArgumentError', (learningRate) => {
    expect(() => fngd({ device: dev, learningRate })).toThrow(InvalidArgumentError);
  });

  it.each([0, -1, NaN, Infinity])('an explicit invalid damping (%s) → InvalidArgumentError', (damping) => {
    expect(() => fngd({ device: dev, damping })).toThrow(InvalidArgumentError);
  });

  it.each([-0.5, 1, NaN])('an explicit invalid momentum (%s) → InvalidArgumentError', (momentum) => {
    expect(() => fngd({ device: dev, momentum })).toThrow(InvalidArgumentError);
  });

  it('the defaults are frozen literals', () => {
    expect(Object.isFrozen(FNGD_DEFAULTS)).toBe(true);
    expect(FNGD_DEFAULTS.learningRate).toBeGreaterThan(0);
    expect(FNGD_DEFAULTS.damping).toBeGreaterThan(0);
  });
});
