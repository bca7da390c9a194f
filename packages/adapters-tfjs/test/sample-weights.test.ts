/**
 * `sampleWeight` and `classWeight` in `fit`: sample i's training loss is `wᵢ·ℓᵢ` for every optimizer — one FNGD
 * step equals the float64 reference built from the weighted per-sample gradients, a tfjs SGD baseline's step is
 * `−η·(1/n)Σ wᵢ∇ℓᵢ`, class weights equal the sample weights of each sample's class — while validation stays
 * unweighted; KFAC's sampled Fisher draws under weights; with content ids new weights make new batches; bad weights
 * are refused before anything runs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { FngdTrainer, InvalidOptionError, softmaxCrossEntropy, type FngdTrainerOptions } from '../src/index.js';
import { bruteJacobian, classData, flatParams, mlp, relErr, useCpu, variablesOf } from './helpers.js';
import { referenceStep } from './support/reference.js';

beforeAll(useCpu);

const LR = 0.3;
const LAMBDA = 0.1;
const N = 9;
const W = [1, 2, 0.5, 0, 3, 1, 1, 2, 0.25];

/** One step of `fit` on all N samples as one batch. */
async function oneStep(options: FngdTrainerOptions, fit: object, seed = 3): Promise<{ before: number[]; after: number[]; rows: number[][] }> {
  const model = mlp(5, 4, 3, seed);
  const [x, y] = classData(N, [5], 3, 4);
  const tr = await FngdTrainer.create(model, options);
  const vars = [...tr.model.variables];
  const rows = bruteJacobian(model, softmaxCrossEntropy, x, y, vars);
  const before = flatParams(vars);
  await tr.fit(x, y, { epochs: 1, batchSize: N, shuffle: false, sampleIds: 'index', ...fit });
  const after = flatParams(vars);
  tr.dispose();
  tf.dispose([x, y]);
  return { before, after, rows };
}

describe('weighted losses', () => {
  it('FNGD: one step equals the reference on the weighted per-sample gradients wᵢ∇ℓᵢ', async () => {
    const w = tf.tensor1d(W);
    const { before, after, rows } = await oneStep({ loss: 'softmax-cross-entropy', fngd: { learningRate: LR, damping: LAMBDA, momentum: 0, mode: 'global' } }, { sampleWeight: w });
    const weighted = rows.map((r, i) => r.map((v) => v * W[i]!));
    expect(relErr(after, referenceStep(before, weighted, null, LR, LAMBDA))).toBeLessThan(2e-4);
    w.dispose();
  });

  it('a tfjs SGD baseline steps by −η·(1/n)Σ wᵢ∇ℓᵢ; classWeight equals the sample weights of each class', async () => {
    const w = tf.tensor1d(W);
    const { before, after, rows } = await oneStep({ loss: 'softmax-cross-entropy', optimizer: tf.train.sgd(LR) }, { sampleWeight: w });
    const mean = before.map((_, k) => rows.reduce((s, r, i) => s + W[i]! * r[k]!, 0) / N);
    expect(relErr(after.map((v, k) => v - before[k]!), mean.map((g) => -LR * g))).toBeLessThan(1e-4);
    // classes of classData: (i·7 + 3) mod 3
    const cw = { 0: 2, 1: 0.5 };
    const byClass = tf.tensor1d(Array.from({ length: N }, (_, i) => [2, 0.5, 1][(i * 7 + 3) % 3]!));
    const opts: FngdTrainerOptions = { loss: 'softmax-cross-entropy', fngd: { learningRate: LR, damping: LAMBDA, momentum: 0 } };
    const a = await oneStep(opts, { classWeight: cw });
    const b = await oneStep(opts, { sampleWeight: byClass });
    expect(relErr(a.after, b.after)).toBeLessThan(1e-6);
    tf.dispose([w, byClass]);
  });

  it("KFAC's sampled Fisher draws its targets under weights too: unit weights step exactly as no weights; zero weights train finite", async () => {
    const opts: FngdTrainerOptions = { loss: 'softmax-cross-entropy', kfac: { fisher: 'sampled', learningRate: 0.1, damping: 0.1 } };
    const ones = tf.ones([N]);
    const w = tf.tensor1d(W);
    const unweighted = await oneStep(opts, {});
    const unit = await oneStep(opts, { sampleWeight: ones });
    expect(unit.after).toEqual(unweighted.after);
    const weighted = await oneStep(opts, { sampleWeight: w });
    expect(weighted.after.every(Number.isFinite)).toBe(true);
    expect(weighted.after).not.toEqual(unweighted.after);
    // the factors hold the weighted loss's Fisher Σᵢ wᵢFᵢ: with every weight 2 and λ → 0 the step F⁻¹g is unchanged
    // (factors holding Σᵢ wᵢ²Fᵢ would halve it)
    const tiny: FngdTrainerOptions = { loss: 'softmax-cross-entropy', kfac: { fisher: 'sampled', learningRate: 0.1, damping: 1e-10, momentum: 0, klClip: false } };
    const twos = tf.fill([N], 2);
    const [one, two] = [await oneStep(tiny, {}), await oneStep(tiny, { sampleWeight: twos })];
    const step = (r: typeof one) => r.after.map((v, i) => v - r.before[i]!);
    expect(relErr(step(two), step(one))).toBeLessThan(1e-2);
    tf.dispose([ones, w, twos]);
  });

  it('validation stays unweighted; with content ids new weights make new batches', async () => {
    const model = mlp(5, 4, 3, 6);
    const [x, y] = classData(20, [5], 3, 7);
    const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy' });
    const w = tf.fill([20], 2);
    const h = await tr.fit(x, y, { epochs: 1, batchSize: 10, sampleWeight: w, validationData: [x, y] });
    expect(h.logs[0]!.valLoss).toBeCloseTo(tr.evaluate(x, y).loss, 5);
    const w2 = tf.fill([20], 3);
    await tr.fit(x, y, { epochs: 1, batchSize: 10, sampleWeight: w2 });
    expect(tr.lastPlanChange).toMatchObject({ kept: 0, added: 2 });
    tr.dispose();
    tf.dispose([x, y, w, w2]);
  });

  it("a custom loss keeps its int32 targets under weights; validationSplit takes full-length weights", async () => {
    const [x, y] = classData(12, [5], 3, 9);
    const labels = tf.tidy(() => tf.cast(tf.argMax(y, 1), 'int32'));
    const sparse = (out: tf.Tensor, t: tf.Tensor) => softmaxCrossEntropy(out, tf.cast(tf.oneHot(t as tf.Tensor1D, 3), 'float32'));
    const tr = await FngdTrainer.create(mlp(5, 4, 3, 10), { loss: sparse });
    const w = tf.fill([12], 2);
    const h = await tr.fit(x, labels, { epochs: 1, batchSize: 6, sampleWeight: w });
    expect(Number.isFinite(h.logs[0]!.trainLoss)).toBe(true);
    const split = await tr.fit(x, labels, { epochs: 1, batchSize: 4, sampleWeight: w, validationSplit: 0.25 });
    expect(split.logs[0]!.valLoss).toBeDefined();
    tr.dispose();
    tf.dispose([x, y, labels, w]);
  });

  it.each([
    ['sampleWeight of the wrong shape', { sampleWeight: 'shape' }, 'sampleWeight'],
    ['a negative sample weight', { sampleWeight: 'negative' }, 'sampleWeight'],
    ['a NaN sample weight', { sampleWeight: 'nan' }, 'sampleWeight'],
    ['classWeight with a loss that has no classes', { classWeight: { 0: 2 }, mse: true }, 'classWeight'],
    ['a class outside [0, C)', { classWeight: { 5: 2 } }, 'classWeight.5'],
  ])('%s is refused (InvalidOptionError) before anything runs', async (_name, o, key) => {
    const model = mlp(5, 4, 3, 8);
    const [x, y] = classData(10, [5], 3, 8);
    const tr = await FngdTrainer.create(model, { loss: (o as { mse?: boolean }).mse ? 'mse' : 'softmax-cross-entropy' });
    const before = flatParams(variablesOf(model));
    const sw = (o as { sampleWeight?: string }).sampleWeight;
    const weight = sw === 'shape' ? tf.ones([9]) : sw === 'negative' ? tf.fill([10], -1) : sw === 'nan' ? tf.fill([10], NaN) : undefined;
    const count = tf.memory().numTensors;
    const e = await tr
      .fit(x, y, { epochs: 1, batchSize: 5, ...(weight ? { sampleWeight: weight } : {}), ...((o as { classWeight?: object }).classWeight ? { classWeight: (o as { classWeight: Record<number, number> }).classWeight } : {}) })
      .catch((err: unknown) => err);
    expect(e).toBeInstanceOf(InvalidOptionError);
    expect((e as InvalidOptionError).key).toBe(key);
    expect(flatParams(variablesOf(model))).toEqual(before);
    expect(tf.memory().numTensors).toBe(count);
    expect(tr.epoch).toBe(0);
    tr.dispose();
    tf.dispose([x, y, ...(weight ? [weight] : [])]);
  });
});
