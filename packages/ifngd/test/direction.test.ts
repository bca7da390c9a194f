import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fngd, type FngdMode } from '../src/index.js';
import { deviceFactors, disposeFactors, flatten, forwardBackward, initParams, jacobian, makeData, weightedGradient, type Mlp } from './support/mlp.js';
import { dampedNaturalGradient, relativeError } from './support/reference.js';

let dev: LinalgDevice;
beforeAll(async () => {
  dev = await createDevice({ backend: 'cpu' });
});
afterAll(() => dev.destroy());

const model: Mlp = { din: 5, hidden: 8, dout: 3, loss: 'ce' };

describe.each<FngdMode>(['global', 'layerwise'])('one FNGD step (%s) equals the float64 damped NGD reference', (mode) => {
  it.each([1, 7, 64])('n = %i', async (n) => {
    const damping = 0.05;
    const lr = 0.5;
    const params = initParams(model, 3);
    const batch = makeData(model, n, 11);
    const pass = forwardBackward(model, params, batch);
    const opt = fngd({ device: dev, learningRate: lr, damping, mode, guard: false });
    opt.init(params);
    const fs = deviceFactors(dev, pass);
    const c = await opt.coefficients({ batchKey: 'b', epoch: 1, n, factors: () => fs });
    disposeFactors(fs);
    expect(c.fresh).toBe(true);
    expect(c.alpha.length).toBe(mode === 'global' ? n : 2 * n);
    const next = opt.step(weightedGradient(pass, c.alpha), params, { coefficients: c });
    const before = flatten(params);
    const update = flatten(next).map((v, i) => v - (before[i] as number));
    const { J, d, blocks } = jacobian(pass);
    const ref = dampedNaturalGradient(J, n, d, damping, mode === 'global' ? [[0, d]] : blocks).map((v) => -lr * v);
    expect(relativeError(update, ref)).toBeLessThan(1e-4);
    expect(opt.stats.factorizations).toBe(1);
  });
});

it('the direction tends to the mean gradient as λ grows (SGD scale)', async () => {
  const n = 16;
  const params = initParams(model, 5);
  const pass = forwardBackward(model, params, makeData(model, n, 6));
  const opt = fngd({ device: dev, learningRate: 1, damping: 1e6 });
  opt.init(params);
  const fs = deviceFactors(dev, pass);
  const c = await opt.coefficients({ batchKey: 0, epoch: 0, n, factors: () => fs });
  disposeFactors(fs);
  const dir = flatten(weightedGradient(pass, c.alpha)).map((v) => v * c.damping);
  const mean = flatten(weightedGradient(pass, new Float64Array(n).fill(1 / n)));
  expect(relativeError(dir, mean)).toBeLessThan(1e-3);
});
