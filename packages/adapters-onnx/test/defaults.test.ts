/**
 * "Defaults that train": `OnnxTrainer.create(bytes, { loss })` with no optimizer option trains a 784-64-10 ReLU
 * MLP on real MNIST at least as well as tfjs's `tf.train.adam()` defaults.
 *
 * The Adam figures are floors measured once, not run here: this package does not depend on tfjs. They come from
 * `packages/adapters-tfjs/experiments/defaults-sweep.ts` (setting (a'), `adam` runs, in `defaults-sweep.json`), which
 * trains a tfjs model with exactly this test's initial weights (`mlpSpec(net, seed)`) and digits with
 * `tf.train.adam()` for 90 steps of batch 100, on the batches OnnxTrainer.fit formed when they were measured
 * (consecutive rows, order shuffled by mulberry32(seed)). `fit` now forms its batches by `ifngd`'s batch plan
 * (a seeded permutation of the rows, as the tfjs trainer): same data, weights, batch size and step count, other
 * batch members — the floors compare the optimizers, not one batch sequence.
 */
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { FNGD_DEFAULTS, InvalidArgumentError } from 'ifngd';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMnist } from '../../ifngd/experiments/data.js';
import { OnnxTrainer } from '../src/index.js';
import { buildModel } from '../src/internal.js';
import { mlpNet, mlpSpec } from './mnist-mlp.js';

/** Test accuracy of tf.train.adam() defaults after the same 90 steps, same weights and batches, per seed. */
const ADAM_DEFAULTS_ACCURACY: Readonly<Record<number, number>> = { 1: 0.8795, 2: 0.8915, 3: 0.899 };

let device: LinalgDevice;
beforeAll(async () => {
  device = await createDevice({ backend: 'cpu' });
});
afterAll(() => device.destroy());

/** Per seed: 3,000 training digits = 30 batches of 100, 3 epochs = 90 steps; 2,000 held-out digits. */
async function accuracyAfter90Steps(seed: number): Promise<number> {
  const { train, test } = loadMnist({ train: 3000, test: 2000, seed });
  const trainer = await OnnxTrainer.create(buildModel(mlpSpec(mlpNet([784, 64, 10]), seed)), { loss: 'softmax-cross-entropy', device });
  expect(trainer.optimizer!.damping).toBe(FNGD_DEFAULTS.damping);
  await trainer.fit(
    { inputs: { x: new ort.Tensor('float32', train.x, [train.n, 784]) }, targets: new ort.Tensor('float32', train.y, [train.n, 10]) },
    { epochs: 3, batchSize: 100, seed },
  );
  expect(trainer.optimizer!.stats.steps).toBe(90);
  expect(trainer.optimizer!.stats.factorizations).toBe(30);
  const logits = (await trainer.predict({ x: new ort.Tensor('float32', test.x, [test.n, 784]) }))['logits']!.data as Float32Array;
  await trainer.dispose();
  let correct = 0;
  for (let i = 0; i < test.n; i++) {
    let best = 0;
    for (let c = 1; c < 10; c++) if (logits[i * 10 + c]! > logits[i * 10 + best]!) best = c;
    if (best === test.labels[i]) correct++;
  }
  return correct / test.n;
}

describe('defaults that train', () => {
  // The mean over seeds 1–3 (the sweep's seeds): one seed's final-iterate accuracy moves by about ±1.5 points for
  // either optimizer — seed 1 alone is one where FNGD's ends 1 point below Adam's (see defaults-sweep.json).
  it('784-64-10 ReLU MLP on MNIST, 90 steps of batch 100, only the loss given: mean test accuracy ≥ Adam defaults (measured floors)', async () => {
    const seeds = [1, 2, 3];
    const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
    const fngd: number[] = [];
    for (const seed of seeds) fngd.push(await accuracyAfter90Steps(seed));
    expect(mean(fngd)).toBeGreaterThanOrEqual(mean(seeds.map((s) => ADAM_DEFAULTS_ACCURACY[s]!)));
  });

  it.each([
    ['learningRate', 0],
    ['learningRate', -1],
    ['learningRate', NaN],
    ['damping', 0],
    ['damping', -0.1],
    ['damping', NaN],
  ])('an explicit invalid %s (%s) → InvalidArgumentError', async (key, value) => {
    const bytes = buildModel(mlpSpec(mlpNet([4, 3, 2]), 1));
    await expect(OnnxTrainer.create(bytes, { loss: 'softmax-cross-entropy', device, [key]: value })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
