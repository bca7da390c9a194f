/** BatchNorm recalibration: moving statistics set to each layer's input moments, in graph order; reported beside the running-statistics metric. */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { FngdTrainer } from '@ifngd/adapters-tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { setBackend } from '../src/backend.js';
import { batchNormLayers, recalibrateBatchNorm } from '../src/recalibrate.js';

beforeAll(async () => {
  await setBackend('wasm');
});

describe('recalibrateBatchNorm', () => {
  it("sets each BatchNorm's moving mean and variance to its input's moments, the earlier layers already recalibrated; γ and β kept", async () => {
    const x0 = tfl.input({ shape: [5] });
    const h1 = tfl.layers.dense({ units: 4, kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }).apply(x0) as tfl.SymbolicTensor;
    const b1 = tfl.layers.batchNormalization({ gammaInitializer: 'ones' }).apply(h1) as tfl.SymbolicTensor;
    const h2 = tfl.layers.dense({ units: 3, activation: 'tanh', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }).apply(b1) as tfl.SymbolicTensor;
    const b2 = tfl.layers.batchNormalization({}).apply(h2) as tfl.SymbolicTensor;
    const out = tfl.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) }).apply(b2) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: x0, outputs: out });
    const [bn1, bn2] = batchNormLayers(model) as [tfl.layers.Layer, tfl.layers.Layer];
    bn1.setWeights([tf.tensor1d([2, 1, 1, 3]), tf.tensor1d([0.5, 0, 0, -1]), tf.zeros([4]), tf.ones([4])]);
    const x = tf.randomNormal([64, 5], 1, 2, 'float32', 9);
    const trainer = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy' });
    const y = tf.tensor1d(Array.from({ length: 64 }, (_, i) => i % 2), 'int32');
    const before = trainer.evaluate(x, y);
    recalibrateBatchNorm(model, x);
    // float64 reference: layer 1's input moments, then layer 2's input through the recalibrated layer 1
    const z1 = (tfl.model({ inputs: x0, outputs: h1 }).predict(x) as tf.Tensor).arraySync() as number[][];
    const moments = (rows: number[][]) => {
      const m = rows[0]!.map((_, j) => rows.reduce((s, r) => s + r[j]!, 0) / rows.length);
      const v = rows[0]!.map((_, j) => rows.reduce((s, r) => s + (r[j]! - m[j]!) ** 2, 0) / rows.length);
      return { m, v };
    };
    const r1 = moments(z1);
    const w1 = bn1.getWeights().map((t) => Array.from(t.dataSync()));
    expect(w1[0]).toEqual([2, 1, 1, 3]);
    expect(w1[1]).toEqual([0.5, 0, 0, -1]);
    w1[2]!.forEach((v, j) => expect(v).toBeCloseTo(r1.m[j]!, 4));
    w1[3]!.forEach((v, j) => expect(v).toBeCloseTo(r1.v[j]!, 4));
    const eps = 1e-3;
    const gamma = w1[0]!;
    const beta = w1[1]!;
    const n1 = z1.map((r) => r.map((v, j) => ((v - r1.m[j]!) / Math.sqrt(r1.v[j]! + eps)) * gamma[j]! + beta[j]!));
    const d2 = model.layers.find((l) => l.getClassName() === 'Dense' && (l.output as tfl.SymbolicTensor) === h2)!;
    const [k2, c2] = d2.getWeights().map((t) => t.arraySync()) as [number[][], number[]];
    const z2 = n1.map((r) => c2.map((c, o) => Math.tanh(c + r.reduce((s, v, i) => s + v * k2[i]![o]!, 0))));
    const r2 = moments(z2);
    const w2 = bn2.getWeights().map((t) => Array.from(t.dataSync()));
    w2[2]!.forEach((v, j) => expect(v).toBeCloseTo(r2.m[j]!, 4));
    w2[3]!.forEach((v, j) => expect(v).toBeCloseTo(r2.v[j]!, 4));
    // the trainer's evaluation reads the recalibrated statistics
    expect(trainer.evaluate(x, y).loss).not.toBeCloseTo(before.loss, 3);
    trainer.dispose();
    model.dispose();
    tf.dispose([x, y]);
  });

  it('finds no BatchNorm in a model without one (the demo then reports nothing extra)', () => {
    const m = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [3], units: 2 })] });
    expect(batchNormLayers(m)).toEqual([]);
    m.dispose();
  });
});
