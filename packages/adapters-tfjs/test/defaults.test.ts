import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { FNGD_DEFAULTS, InvalidArgumentError } from 'ifngd';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionError, FngdTrainer, type FngdTrainerOptions } from '../src/index.js';
import { mlp } from './helpers.js';
import { denseModel, mnistTensors, type MnistTensors } from './mnist.js';

// the backend of bench/defaults-sweep.ts, so the figures there are this test's figures
beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

describe('defaults that train: FngdTrainer.create(model, { loss }) on real MNIST', () => {
  // Per seed: 3,000 training digits in 30 fixed batches of 100, 3 epochs = 90 steps (epochs 2–3 reuse the
  // coefficients), 2,000 held-out digits; the seed fixes the split, the Glorot-uniform weights and the batch order.
  // The comparison is on the mean over seeds 1–3 (the sweep's seeds): one seed's final-iterate accuracy moves by
  // about ±1.5 points for either optimizer (bench/results/defaults-sweep.json).
  const SEEDS = [1, 2, 3];

  async function accuracyAfter90Steps(seed: number, options: Omit<FngdTrainerOptions, 'loss'>): Promise<{ accuracy: number; trainer: FngdTrainer }> {
    const data: MnistTensors = mnistTensors(3000, 2000, seed);
    const model = denseModel([784, 64, 10], 'relu', 'linear', seed);
    const trainer = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy', ...options });
    await trainer.fit(data.xs, data.ys, { epochs: 3, batchSize: 100, seed });
    const accuracy = trainer.evaluate(data.xt, data.yt).accuracy ?? 0;
    trainer.dispose();
    model.dispose();
    data.dispose();
    return { accuracy, trainer };
  }

  it('784-64-10 ReLU MLP, 90 steps of batch 100: FNGD with only the loss ≥ tf.train.adam() defaults on the same batches (mean of 3 seeds)', async () => {
    const start = tf.memory().numTensors;
    const fngd: number[] = [];
    const adam: number[] = [];
    for (const seed of SEEDS) {
      const f = await accuracyAfter90Steps(seed, {});
      expect(f.trainer.optimizer?.damping).toBe(FNGD_DEFAULTS.damping); // FNGD at its defaults, not a baseline
      expect(f.trainer.stats?.steps).toBe(90);
      expect(f.trainer.stats?.factorizations).toBe(30); // the default 'first-epoch' policy
      fngd.push(f.accuracy);
      const optimizer = tf.train.adam(); // lr 0.001
      adam.push((await accuracyAfter90Steps(seed, { optimizer })).accuracy);
      optimizer.dispose();
    }
    expect(tf.memory().numTensors).toBe(start);
    const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
    expect(mean(adam)).toBeGreaterThan(0.85); // the baseline itself trained
    expect(mean(fngd)).toBeGreaterThanOrEqual(mean(adam));
  });
});

describe('FngdTrainer.create options', () => {
  it('neither fngd nor optimizer → FNGD with FNGD_DEFAULTS; both → InvalidOptionError', async () => {
    const tr = await FngdTrainer.create(mlp(6, 8, 3, 5), { loss: 'softmax-cross-entropy' });
    expect(tr.optimizer?.damping).toBe(FNGD_DEFAULTS.damping);
    expect(tr.optimizer?.mode).toBe(FNGD_DEFAULTS.mode);
    expect(tr.tfOptimizer).toBeNull();
    tr.dispose();
    const partial = await FngdTrainer.create(mlp(6, 8, 3, 5), { loss: 'mse', fngd: { refresh: 'always' } });
    expect(partial.optimizer?.damping).toBe(FNGD_DEFAULTS.damping);
    partial.dispose();
    const adam = tf.train.adam();
    await expect(FngdTrainer.create(mlp(6, 8, 3, 5), { loss: 'mse', fngd: {}, optimizer: adam })).rejects.toBeInstanceOf(InvalidOptionError);
    adam.dispose();
  });

  it.each([
    ['learningRate', 0],
    ['learningRate', -0.1],
    ['learningRate', NaN],
    ['damping', 0],
    ['damping', -1],
    ['damping', NaN],
  ])('an explicit invalid %s (%s) → InvalidArgumentError', async (key, value) => {
    await expect(FngdTrainer.create(mlp(6, 8, 3, 5), { loss: 'mse', fngd: { [key]: value } })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
