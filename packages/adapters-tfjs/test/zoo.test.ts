/**
 * Every architecture of the zoo trains through `FngdTrainer.create(model, { loss })` — FNGD at its defaults and
 * KFAC at its defaults: loss finite and falling, tensor count flat from the second step on; checkpoints round-trip
 * (continuing after save → load → restore equals never stopping, bit for bit on the CPU).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { FngdTrainer, TargetError, type FngdTrainerOptions } from '../src/index.js';
import { classData, useCpu } from './helpers.js';
import { bnMlp, bnResnet, deconvNet, frozenBase, gruRnn, lstmText, mobileBlock, tinyTransformer, paddedCnn, residualDag, sequenceNet, tokenData } from './support/zoo.js';

beforeAll(useCpu);

const zoo: [string, (seed: number) => LayersModel, () => [tf.Tensor, tf.Tensor]][] = [
  ['residual DAG with a shared layer and a nested model', (s) => residualDag(s), () => classData(32, [5], 3, 4)],
  ['Embedding + Conv1D + LayerNorm sequence classifier', (s) => sequenceNet(11, 7, s), () => tokenData(32, 7, 11, 3)],
  ['CNN with padding, upsampling, cropping, permute, global max pooling', (s) => paddedCnn(s), () => classData(32, [5, 5, 2], 3, 8)],
  ['BatchNorm MLP', (s) => bnMlp(5, 8, 3, s), () => classData(32, [5], 3, 6)],
  ['BatchNorm ResNet-style CNN', (s) => bnResnet(s), () => classData(32, [6, 6, 2], 3, 5)],
  ['LSTM text classifier', (s) => lstmText(13, 6, s), () => tokenData(32, 6, 13, 3, 5)],
  ['GRU + SimpleRNN sequence model', (s) => gruRnn(5, 3, s), () => classData(32, [5, 3], 3, 2)],
  ['MobileNet-style depthwise/separable block with PReLU', (s) => mobileBlock(s), () => classData(32, [7, 7, 2], 3, 12)],
  ['tiny transformer encoder', (s) => tinyTransformer(17, 6, 8, s), () => tokenData(32, 6, 17, 3, 9)],
  ['Conv2DTranspose decoder', (s) => deconvNet(s), () => classData(32, [6, 6, 2], 3, 14)],
  ['transfer learning: frozen base + head', (s) => frozenBase(s).model, () => classData(32, [5], 3, 9)],
];

async function losses(tr: FngdTrainer, x: tf.Tensor, y: tf.Tensor, epochs: number): Promise<{ first: number; last: number; leaked: number }> {
  const xs = [tf.slice(x, [0], [16]), tf.slice(x, [16], [16])];
  const ys = [tf.slice(y, [0], [16]), tf.slice(y, [16], [16])];
  let first = NaN;
  let last = 0;
  let count = 0;
  for (let e = 0; e < epochs; e++) {
    let sum = 0;
    for (let b = 0; b < 2; b++) sum += (await tr.trainBatch(xs[b] as tf.Tensor, ys[b] as tf.Tensor, { batchKey: b, epoch: e })).loss;
    if (e === 0) first = sum / 2;
    if (e === 1) count = tf.memory().numTensors;
    last = sum / 2;
  }
  const leaked = tf.memory().numTensors - count;
  tf.dispose([...xs, ...ys]);
  return { first, last, leaked };
}

describe('the model zoo trains with defaults', () => {
  for (const [name, make, data] of zoo) {
    for (const [label, options] of [
      ['FNGD defaults', { loss: 'softmax-cross-entropy' }],
      ['KFAC defaults', { loss: 'softmax-cross-entropy', kfac: {} }],
    ] as [string, FngdTrainerOptions][]) {
      it(`${name} — ${label}`, async () => {
        const model = make(3);
        const [x, y] = data();
        const tr = await FngdTrainer.create(model, options);
        const r = await losses(tr, x, y, 8);
        expect(Number.isFinite(r.last)).toBe(true);
        expect(r.last).toBeLessThan(r.first);
        expect(r.leaked).toBe(0);
        tr.dispose();
        tf.dispose([x, y]);
      });
    }
  }
});

describe('steps on the new kinds are transactions', () => {
  for (const [name, make, data] of zoo) {
    for (const [label, options] of [
      ['FNGD', { loss: 'softmax-cross-entropy' }],
      ['KFAC', { loss: 'softmax-cross-entropy', kfac: {} }],
    ] as [string, FngdTrainerOptions][]) {
      it(`${name} — ${label}: a step with bad targets throws and changes nothing (weights, moving statistics, optimizer, tensors)`, async () => {
        const model = make(5);
        const [x, y] = data();
        const tr = await FngdTrainer.create(model, options);
        await tr.trainBatch(x, y, { batchKey: 0, epoch: 0 });
        const weights = model.getWeights().map((t) => Array.from(t.dataSync()));
        const state = JSON.stringify([tr.stats, tr.kfacStats]);
        const tensors = tf.memory().numTensors;
        const bad = tf.fill(y.shape, NaN);
        await expect(tr.trainBatch(x, bad, { batchKey: 1, epoch: 0 })).rejects.toBeInstanceOf(TargetError);
        bad.dispose();
        expect(model.getWeights().map((t) => Array.from(t.dataSync()))).toEqual(weights);
        expect(JSON.stringify([tr.stats, tr.kfacStats])).toBe(state);
        expect(tf.memory().numTensors).toBe(tensors);
        tr.dispose();
        tf.dispose([x, y]);
      });
    }
  }
});

describe('checkpoints of the new kinds', () => {
  for (const [name, make, data] of zoo.filter((_, i) => i === 0 || i === 1 || i === 4)) {
    it(`${name}: save → load → restore → continue equals never stopping (moving statistics included)`, async () => {
      const [x, y] = data();
      const fngd = { learningRate: 0.2, damping: 1, momentum: 0.9 };
      const a = make(7);
      const ta = await FngdTrainer.create(a, { loss: 'softmax-cross-entropy', fngd });
      await ta.fit(x, y, { epochs: 4, batchSize: 16, seed: 2 });
      const want = a.getWeights().map((t) => Array.from(t.dataSync()));
      const b = make(7);
      const tb = await FngdTrainer.create(b, { loss: 'softmax-cross-entropy', fngd });
      await tb.fit(x, y, { epochs: 2, batchSize: 16, seed: 2 });
      let saved: tf.io.ModelArtifacts | null = null;
      await tb.save(
        tf.io.withSaveHandler(async (art) => {
          saved = art;
          return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
        }),
      );
      tb.dispose();
      const c = await tfl.loadLayersModel(tf.io.fromMemory(saved as unknown as tf.io.ModelArtifacts));
      const tc = await FngdTrainer.create(c, { loss: 'softmax-cross-entropy', fngd });
      tc.restore();
      await tc.fit(x, y, { epochs: 2, batchSize: 16, seed: 2 });
      expect(c.getWeights().map((t) => Array.from(t.dataSync()))).toEqual(want);
      ta.dispose();
      tc.dispose();
      tf.dispose([x, y]);
    });
  }
});
