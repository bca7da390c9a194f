import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fngd } from '../src/index.js';
import { batches, initParams, makeData, type Mlp } from './support/mlp.js';
import { train } from './support/train.js';

let dev: LinalgDevice;
beforeAll(async () => {
  dev = await createDevice({ backend: 'cpu' });
});
afterAll(() => dev.destroy());

const model: Mlp = { din: 4, hidden: 6, dout: 3, loss: 'ce' };
const data = batches(model, makeData(model, 32, 3), 8);

it.each([
  ['a cautious step (ρ ≈ 1) lowers λ', 0.05, 'decreases'],
  ['an overshooting step (ρ < ¼) raises λ', 400, 'increases'],
] as const)('adaptive damping: %s', async (_name, lr, counter) => {
  const opt = fngd({ device: dev, learningRate: lr, damping: 0.1, momentum: 0, refresh: 'always', adaptiveDamping: { factor: 2 } });
  const params = initParams(model, 1);
  opt.init(params);
  await train(dev, model, opt, params, data, { epochs: 1, observeLoss: true });
  const s = opt.stats.damping;
  expect(s[counter]).toBeGreaterThan(0);
  expect(s.lastRho).not.toBeNull();
  expect(counter === 'decreases' ? s.current < 0.1 : s.current > 0.1).toBe(true);
});
