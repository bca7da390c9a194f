/**
 * `fit` returns tfjs's `History` shape (`epoch`, `history.loss`, with `validationData` also `val_loss` and
 * `val_acc`) and `evaluate` returns `{ loss, accuracy }` (top-1 under softmax cross-entropy), as the tfjs trainer.
 */
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionError, OnnxTrainer, type OnnxTrainerOptions } from '../src/index.js';
import { buildModel } from '../src/internal.js';
import { testModels } from './models.js';
import { rng } from './reference.js';

const model = testModels(6)[0]!; // Gemm + Tanh + Gemm → softmax cross-entropy; input [4], 3 classes
const bytes = buildModel(model.spec);
const options: OnnxTrainerOptions = { loss: model.loss, learningRate: 0.2, damping: 1 };

function data(n: number, seed = 3): { inputs: { x: ort.Tensor }; targets: ort.Tensor } {
  const r = rng(seed);
  return {
    inputs: { x: new ort.Tensor('float32', Float32Array.from({ length: n * 4 }, () => r(1)), [n, 4]) },
    targets: new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt((i * 7 + 1) % 3)), [n]),
  };
}

let device: LinalgDevice;
beforeAll(async () => {
  device = await createDevice({ backend: 'cpu' });
});
afterAll(() => device.destroy());

describe('OnnxTrainer fit history and evaluation', () => {
  it('evaluate: loss and the top-1 accuracy of predict', async () => {
    const t = await OnnxTrainer.create(bytes, { ...options, device });
    const d = data(12, 5);
    const e = await t.evaluate(d.inputs, d.targets);
    const out = (await t.predict(d.inputs))[Object.keys(await t.predict(d.inputs))[0]!]!.data as Float32Array;
    const labels = Array.from(d.targets.data as BigInt64Array, Number);
    const hits = labels.filter((c, i) => {
      const row = Array.from(out.subarray(i * 3, i * 3 + 3));
      return row.indexOf(Math.max(...row)) === c;
    }).length;
    expect(e.accuracy).toBeCloseTo(hits / 12, 10);
    expect(Number.isFinite(e.loss)).toBe(true);
    await t.dispose();
  });

  it('fit with validationData: History shape with loss, val_loss and val_acc per epoch; onEpochEnd gets them too', async () => {
    const t = await OnnxTrainer.create(bytes, { ...options, device });
    const seen: number[] = [];
    const h = await t.fit(data(24), { epochs: 3, batchSize: 8, validationData: data(9, 8), onEpochEnd: (_e, l) => void seen.push(l.valLoss!) });
    expect(h.epoch).toEqual([0, 1, 2]);
    expect(h.history.loss).toHaveLength(3);
    expect(h.history.val_loss).toEqual(seen);
    expect(h.history.val_acc).toHaveLength(3);
    const v = await t.evaluate(data(9, 8).inputs, data(9, 8).targets);
    expect(h.history.val_loss!.at(-1)).toBeCloseTo(v.loss, 6);
    expect(h.logs.at(-1)!.valAccuracy).toBeCloseTo(v.accuracy!, 10);
    const err = await t.fit(data(24), { epochs: 1, batchSize: 8, validationData: { inputs: 5 } as never }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as InvalidOptionError).key).toBe('fit.validationData');
    expect(t.epoch).toBe(3);
    await t.dispose();
  });
});
