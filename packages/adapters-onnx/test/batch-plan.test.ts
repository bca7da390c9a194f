/**
 * `fit` on `ifngd`'s batch contract, the tfjs trainer's: batches planned by `planBatches` over sample ids and
 * visited per epoch in the order `permutation(B, mixSeed(seed, epoch))` — for the same ids, batch size and seed
 * the ONNX and the tfjs trainer form the same batches (same keys) and visit them in the same order; the plan is
 * carried from one `fit` to the next, so appended samples leave the unchanged batches' keys, and their cached
 * coefficients, in place.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { permutation, planBatches, type BatchKey, type CoefficientRequest, type Coefficients, type SampleId } from 'ifngd';
import { mixSeed } from 'ifngd/internal';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FngdTrainer } from '../../adapters-tfjs/src/index.js';
import { mlp as tfMlp } from '../../adapters-tfjs/test/helpers.js';
import { InvalidOptionError, OnnxTrainer, type FitOptions, type OnnxTrainerOptions } from '../src/index.js';
import { buildModel } from '../src/internal.js';
import { expectSame, snapshot, spyRuntime } from './harness.js';
import { testModels } from './models.js';
import { rng } from './reference.js';

const model = testModels(6)[0]!; // Gemm + Tanh + Gemm → softmax cross-entropy; input [4], 3 classes
const bytes = buildModel(model.spec);

/** `n` samples: inputs [n, 4], int64 class indices. */
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
  await tf.setBackend('cpu');
});
afterAll(() => device.destroy());

const options: OnnxTrainerOptions = { loss: model.loss, learningRate: 0.2, damping: 1, refresh: 'first-epoch' };

/** The batch keys an FNGD optimizer is asked for, in order. */
function recordKeys(opt: { coefficients(r: CoefficientRequest): Promise<Coefficients> }): BatchKey[] {
  const keys: BatchKey[] = [];
  const original = opt.coefficients.bind(opt);
  vi.spyOn(opt, 'coefficients').mockImplementation((r) => {
    keys.push(r.batchKey);
    return original(r);
  });
  return keys;
}

describe('fit: one batch contract', () => {
  it.each<[string, Partial<FitOptions>]>([
    ['given ids, seed 5', { seed: 5, sampleIds: Array.from({ length: 14 }, (_, i) => `s${(i * 5) % 14}`) }],
    ['row numbers, default seed', { sampleIds: 'index' }],
    ['defaults, no shuffle', { shuffle: false }],
  ])('the same batches in the same order as the tfjs trainer (%s)', async (_name, extra) => {
    const N = 14;
    const onnx = await OnnxTrainer.create(bytes, { ...options, device });
    const onnxKeys = recordKeys(onnx.optimizer!);
    await onnx.fit(data(N), { epochs: 3, batchSize: 4, ...extra });

    const xs = tf.randomNormal([N, 6], 0, 1, 'float32', 1);
    const ys = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Array.from({ length: N }, (_, i) => i % 3), 'int32'), 3), 'float32'));
    const tfjs = await FngdTrainer.create(tfMlp(6, 5, 3, 1), { loss: 'softmax-cross-entropy', device, fngd: { learningRate: 0.2, damping: 1 } });
    const tfjsKeys = recordKeys(tfjs.optimizer!);
    const { shuffle, seed, sampleIds } = extra as FitOptions;
    await tfjs.fit(xs, ys, { epochs: 3, batchSize: 4, ...(shuffle === undefined ? {} : { shuffle }), ...(seed === undefined ? {} : { seed }), sampleIds: sampleIds ?? 'index' });

    expect(onnx.batchPlan).toEqual(tfjs.batchPlan);
    expect(onnxKeys).toEqual(tfjsKeys);
    expect(onnxKeys.length).toBe(12); // 4 batches (4, 4, 4, 2) × 3 epochs
    // and that is ifngd's contract, written out
    const ids: SampleId[] = Array.isArray(sampleIds) ? [...sampleIds] : Array.from({ length: N }, (_, i) => i);
    const { plan } = planBatches(ids, { batchSize: 4, seed: seed ?? 0 });
    const order = (e: number): number[] => (shuffle === false ? [0, 1, 2, 3] : permutation(4, mixSeed(seed ?? 0, e)));
    expect(onnxKeys).toEqual([0, 1, 2].flatMap((e) => order(e).map((b) => plan.batches[b]!.key)));
    await onnx.dispose();
    tfjs.dispose();
    tf.dispose([xs, ys]);
  });

  it("shuffle: 'samples' re-partitions every epoch, the same way as the tfjs trainer", async () => {
    const N = 14;
    const onnx = await OnnxTrainer.create(bytes, { ...options, device });
    const onnxKeys = recordKeys(onnx.optimizer!);
    await onnx.fit(data(N), { epochs: 3, batchSize: 4, seed: 3, shuffle: 'samples' });
    const xs = tf.randomNormal([N, 6], 0, 1, 'float32', 1);
    const ys = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Array.from({ length: N }, (_, i) => i % 3), 'int32'), 3), 'float32'));
    const tfjs = await FngdTrainer.create(tfMlp(6, 5, 3, 1), { loss: 'softmax-cross-entropy', device, fngd: { learningRate: 0.2, damping: 1 } });
    const tfjsKeys = recordKeys(tfjs.optimizer!);
    await tfjs.fit(xs, ys, { epochs: 3, batchSize: 4, seed: 3, sampleIds: 'index', shuffle: 'samples' });
    expect(onnxKeys).toEqual(tfjsKeys);
    expect(onnx.batchPlan).toEqual(tfjs.batchPlan);
    expect(new Set(onnxKeys).size).toBe(12); // every epoch's batches are new
    expect(onnx.optimizer!.stats.cachedBatches).toBe(4);
    await onnx.dispose();
    tfjs.dispose();
    tf.dispose([xs, ys]);
  });

  it('appended samples: the unchanged batches keep their keys and their cached coefficients are used', async () => {
    const t = await OnnxTrainer.create(bytes, { ...options, device });
    const all = data(15);
    const first = { inputs: { x: new ort.Tensor('float32', (all.inputs.x.data as Float32Array).slice(0, 12 * 4), [12, 4]) }, targets: new ort.Tensor('int64', (all.targets.data as BigInt64Array).slice(0, 12), [12]) };
    await t.fit(first, { epochs: 1, batchSize: 4 });
    const keys = t.batchPlan!.batches.map((b) => b.key);
    expect(t.lastPlanChange).toEqual({ kept: 0, dropped: 0, added: 3 });
    expect(t.optimizer!.stats).toMatchObject({ cacheMisses: 3, cacheHits: 0, factorizations: 3 });

    await t.fit(all, { epochs: 1, batchSize: 4 }); // 3 samples appended (row ids 12–14)
    expect(t.lastPlanChange).toEqual({ kept: 3, dropped: 0, added: 1 });
    expect(t.batchPlan!.batches.slice(0, 3).map((b) => b.key)).toEqual(keys);
    expect([...t.batchPlan!.batches[3]!.ids].sort()).toEqual([12, 13, 14]);
    // epoch 1 under 'first-epoch': the kept batches are served from the cache, the new one is computed
    expect(t.optimizer!.stats).toMatchObject({ cacheMisses: 4, cacheHits: 3, factorizations: 4, steps: 7 });
    await t.dispose();
  });

  it('augmented data (new values in the same rows every epoch): the default row ids keep every batch, and its coefficients are reused', async () => {
    const t = await OnnxTrainer.create(bytes, { ...options, device });
    await t.fit(data(12, 3), { epochs: 1, batchSize: 4 });
    const keys = t.batchPlan!.batches.map((b) => b.key);
    for (let epoch = 1; epoch <= 2; epoch++) {
      await t.fit(data(12, 3 + 10 * epoch), { epochs: 1, batchSize: 4 }); // the same samples, transformed anew
      expect(t.lastPlanChange).toEqual({ kept: 3, dropped: 0, added: 0 });
      expect(t.batchPlan!.batches.map((b) => b.key)).toEqual(keys);
    }
    // 'first-epoch': computed on the first visit only, reused on the changed inputs after
    expect(t.optimizer!.stats).toMatchObject({ cacheMisses: 3, cacheHits: 6, factorizations: 3, steps: 9 });
    await t.dispose();
  });

  it('an adopted plan drops the cached coefficients of batches outside it (counted; the checkpoint stays bounded)', async () => {
    const t = await OnnxTrainer.create(bytes, { ...options, device });
    const ids = (k: number) => Array.from({ length: 12 }, (_, i) => `run${k}-${i}`); // every run: all samples new
    const sizes: number[] = [];
    for (let k = 0; k < 4; k++) {
      await t.fit(data(12, 3 + k), { epochs: 1, batchSize: 4, sampleIds: ids(k) });
      expect(t.optimizer!.stats.cachedBatches).toBe(3);
      sizes.push(t.optimizer!.serialize().length);
    }
    expect(t.optimizer!.stats.evictedBatches).toBe(9);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThan(64);
    await t.dispose();
  });

  it.each<[string, unknown]>([
    ['too few ids', ['a', 'b']],
    ['a duplicate id', Array.from({ length: 8 }, (_, i) => (i === 7 ? 'id0' : `id${i}`))],
    ['an id that is not a string or finite number', Array.from({ length: 8 }, (_, i) => (i === 2 ? NaN : i))],
    ["neither 'index' nor an array", 'content'],
  ])('bad sampleIds (%s): InvalidOptionError (fit.sampleIds) before any step, nothing changed', async (_name, ids) => {
    const t = await OnnxTrainer.create(bytes, { ...options, device });
    await t.fit(data(8), { epochs: 1, batchSize: 4 });
    const before = snapshot(t);
    const plan = t.batchPlan;
    const err = await t.fit(data(8), { epochs: 1, batchSize: 4, sampleIds: ids as never }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as InvalidOptionError).key).toBe('fit.sampleIds');
    expectSame(snapshot(t), before);
    expect(t.batchPlan).toBe(plan);
    await t.dispose();
  });

  it('a new trainer given the optimizer checkpoint and the plan continues with the same batches and cache hits', async () => {
    const a = await OnnxTrainer.create(bytes, { ...options, device });
    await a.fit(data(12), { epochs: 1, batchSize: 4, seed: 2 });
    const b = await OnnxTrainer.create(a.exportModel(), { ...options, device });
    b.optimizer!.restore(a.optimizer!.serialize());
    await b.restorePlan(JSON.parse(JSON.stringify(a.batchPlan)));
    expect(b.batchPlan).toEqual(a.batchPlan);
    b.epoch = a.epoch;
    await Promise.all([a.fit(data(14), { epochs: 1, batchSize: 4, seed: 2 }), b.fit(data(14), { epochs: 1, batchSize: 4, seed: 2 })]);
    expect(b.lastPlanChange).toEqual({ kept: 3, dropped: 0, added: 1 });
    expect(b.batchPlan).toEqual(a.batchPlan);
    expect(b.optimizer!.stats).toMatchObject({ cacheHits: 3, cacheMisses: 4 });
    expectSame(snapshot(b), snapshot(a));
    const before = snapshot(b);
    const plan = b.batchPlan;
    const bad = { ...plan!, batches: [{ key: 'b1:0000000000000000', ids: [1] }] }; // a key that does not match its members
    const err = await b.restorePlan(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as InvalidOptionError).key).toBe('plan');
    expect(b.batchPlan).toBe(plan);
    expectSame(snapshot(b), before);
    await b.restorePlan(null);
    expect(b.batchPlan).toBeNull();
    await Promise.all([a.dispose(), b.dispose()]);
  });

  it('a fit whose first step throws keeps the previous plan', async () => {
    const spy = spyRuntime();
    const t = await OnnxTrainer.create(bytes, { ...options, device, ort: spy.ort });
    await t.fit(data(8), { epochs: 1, batchSize: 4 });
    const plan = t.batchPlan;
    const change = t.lastPlanChange;
    spy.fail = 'gradients';
    await expect(t.fit(data(10), { epochs: 1, batchSize: 4 })).rejects.toThrow(/injected/);
    expect(t.batchPlan).toBe(plan);
    expect(t.lastPlanChange).toBe(change);
    await t.dispose();
  });
});
