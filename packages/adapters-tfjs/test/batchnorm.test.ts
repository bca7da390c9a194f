/**
 * BatchNormalization: the per-sample definition the trainer uses (each sample's share of the batch gradient)
 * checked against an independent float64 reference (private parameter copies), the batch gradient exact,
 * cached steps on the same definition, moving statistics committed with the step and never by a failed one,
 * inference on the moving statistics, frozen BatchNorm in inference mode.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { FngdTrainer, fromLayersModel, InvalidOptionError, softmaxCrossEntropy, TargetError } from '../src/index.js';
import { capture, PatchFilters, weightedGroupGrads } from '../src/internal.js';
import { classData, flatParams, relErr, useCpu, variablesOf } from './helpers.js';
import { exactJacobian, shareJacobian } from './support/batchnorm-reference.js';
import { coefficients, groupBlocks, referenceStep } from './support/reference.js';
import { bnMlp, bnResnet, frozenBase } from './support/zoo.js';

beforeAll(useCpu);

const LR = 0.5;
const LAMBDA = 0.05;

describe('BatchNormalization (training mode): the share definition', () => {
  for (const mode of ['global', 'layerwise'] as const) {
    it(`one FNGD step equals the float64 reference from private parameter copies (${mode})`, async () => {
      const model = bnMlp(5, 4, 3, 2);
      const [x, y] = classData(9, [5], 3, 6);
      const vars = variablesOf(model);
      const rows = shareJacobian(model, softmaxCrossEntropy, x, y);
      const blocks = mode === 'global' ? null : groupBlocks(fromLayersModel(model), x, y);
      const want = referenceStep(flatParams(vars), rows, blocks, LR, LAMBDA);
      const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy', fngd: { learningRate: LR, damping: LAMBDA, mode, momentum: 0 } });
      expect(tr.model.couplesSamples).toBe(true);
      await tr.trainBatch(x, y, { batchKey: 0, epoch: 0 });
      expect(relErr(flatParams(vars), want)).toBeLessThan(2e-4);
      tr.dispose();
      tf.dispose([x, y]);
    });
  }

  it('a cached step applies the reused α to the new share rows (J₂ᵀα₁), not to Σαᵢℓᵢ', async () => {
    const model = bnMlp(5, 4, 3, 4);
    const [x, y] = classData(8, [5], 3, 2);
    const vars = variablesOf(model);
    const alpha = coefficients(shareJacobian(model, softmaxCrossEntropy, x, y), LAMBDA);
    const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy', fngd: { learningRate: LR, damping: LAMBDA, momentum: 0, refresh: 'first-epoch' } });
    await tr.trainBatch(x, y, { batchKey: 'b', epoch: 0 });
    const p1 = flatParams(vars);
    const rows2 = shareJacobian(model, softmaxCrossEntropy, x, y);
    const dir = p1.map((_, k) => LAMBDA * rows2.reduce((s, r, i) => s + (alpha[i] as number) * (r[k] as number), 0));
    const r = await tr.trainBatch(x, y, { batchKey: 'b', epoch: 1 });
    expect(r.fresh).toBe(false);
    expect(relErr(flatParams(vars), p1.map((p, k) => p - LR * (dir[k] as number)))).toBeLessThan(2e-4);
    tr.dispose();
    tf.dispose([x, y]);
  });

  it('share rows sum to the exact batch gradient (a ResNet-style CNN with two BatchNorms and a residual add)', () => {
    const model = bnResnet(3);
    const [x, y] = classData(6, [6, 6, 2], 3, 5);
    const fm = fromLayersModel(model);
    const cap = capture(fm, softmaxCrossEntropy, x, y);
    const filters = new PatchFilters();
    const ones = new Float32Array(6).fill(1);
    const got = new Map<tf.Variable, tf.Tensor>();
    for (const g of cap.groups) for (const [v, t] of weightedGroupGrads(g, ones, filters)) got.set(v, t);
    expect(cap.uncovered).toHaveLength(0);
    const { grads, value } = tf.variableGrads(() => tf.sum(softmaxCrossEntropy(model.apply(x, { training: true }) as tf.Tensor, y)) as tf.Scalar, [...fm.variables]);
    for (const v of fm.variables) {
      const a = Array.from((got.get(v) as tf.Tensor).dataSync());
      const b = Array.from((grads[v.name] as tf.Tensor).dataSync());
      expect(relErr(a, b)).toBeLessThan(1e-4);
    }
    tf.dispose([...got.values(), ...Object.values(grads), value, x, y]);
    cap.dispose();
    filters.dispose();
  });
});

describe("BatchNormalization: the exact route (perSample: 'exact')", () => {
  for (const mode of ['global', 'layerwise'] as const) {
    it(`one step equals the float64 reference from each ℓᵢ's total derivative (${mode}: one block); a cached step applies α₁ to Σαᵢℓᵢ`, async () => {
      const model = bnMlp(5, 4, 3, 3);
      const [x, y] = classData(8, [5], 3, 7);
      const vars = variablesOf(model);
      const rows = exactJacobian(model, softmaxCrossEntropy, x, y);
      const want = referenceStep(flatParams(vars), rows, null, LR, LAMBDA);
      const alpha = coefficients(rows, LAMBDA);
      const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy', perSample: 'exact', fngd: { learningRate: LR, damping: LAMBDA, mode, momentum: 0 } });
      await tr.trainBatch(x, y, { batchKey: 0, epoch: 0 });
      expect(relErr(flatParams(vars), want)).toBeLessThan(2e-4);
      const p1 = flatParams(vars);
      const rows2 = exactJacobian(model, softmaxCrossEntropy, x, y);
      await tr.trainBatch(x, y, { batchKey: 0, epoch: 1 });
      const dir = p1.map((_, k) => LAMBDA * rows2.reduce((acc, r, i) => acc + (alpha[i] as number) * (r[k] as number), 0));
      expect(relErr(flatParams(vars), p1.map((p, k) => p - LR * (dir[k] as number)))).toBeLessThan(2e-4);
      tr.dispose();
      tf.dispose([x, y]);
    });
  }

  it('perSample takes only share or exact (InvalidOptionError naming the key)', async () => {
    const err = await FngdTrainer.create(bnMlp(), { loss: 'mse', perSample: 'bogus' as 'exact' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as InvalidOptionError).key).toBe('perSample');
  });
});

describe('BatchNormalization moving statistics', () => {
  it.each([
    ['FNGD', { fngd: { learningRate: 0.1, damping: 1, onNonFinite: 'skip' as const } }],
    ['KFAC', { kfac: { learningRate: 0.05, onNonFinite: 'skip' as const } }],
  ])("a step skipped under onNonFinite: 'skip' (%s) keeps the moving statistics and the weights", async (_name, opt) => {
    const model = bnMlp(5, 4, 3, 9);
    const [, y] = classData(10, [5], 3, 4);
    const before = model.getWeights().map((t) => Array.from(t.dataSync()));
    const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy', ...opt });
    const nan = tf.fill([10, 5], NaN);
    await tr.trainBatch(nan, y, { batchKey: 0 });
    expect((tr.stats ?? tr.kfacStats)!.skippedSteps).toBe(1);
    expect(model.getWeights().map((t) => Array.from(t.dataSync()))).toEqual(before);
    tr.dispose();
    tf.dispose([nan, y]);
  });

  it('update once per committed step, as tfjs does (m ← m − (m − μ_B)(1 − momentum)); inference uses them', async () => {
    const model = bnMlp(5, 4, 3, 5);
    const [x, y] = classData(10, [5], 3, 3);
    const bn = model.getLayer('bn');
    const mean0 = Array.from(bn.getWeights()[2]!.dataSync());
    const var0 = Array.from(bn.getWeights()[3]!.dataSync());
    const z = tf.tidy(() => model.getLayer('h').apply(x) as tf.Tensor);
    const m = tf.moments(z, [0]);
    const mu = Array.from(m.mean.dataSync());
    const s2 = Array.from(m.variance.dataSync());
    const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy', fngd: { learningRate: 0.1, damping: 1 } });
    await tr.trainBatch(x, y, { batchKey: 0, epoch: 0 });
    const mean1 = Array.from(bn.getWeights()[2]!.dataSync());
    const var1 = Array.from(bn.getWeights()[3]!.dataSync());
    expect(relErr(mean1, mean0.map((v, i) => v - (v - (mu[i] as number)) * 0.01))).toBeLessThan(1e-5);
    expect(relErr(var1, var0.map((v, i) => v - (v - (s2[i] as number)) * 0.01))).toBeLessThan(1e-5);
    // inference = tfjs's own inference with the moving statistics
    const ours = tr.predict(x);
    const theirs = model.predict(x) as tf.Tensor;
    expect(relErr(Array.from(ours.dataSync()), Array.from(theirs.dataSync()))).toBeLessThan(1e-5);
    tf.dispose([z, m.mean, m.variance, ours, theirs, x, y]);
    tr.dispose();
  });

  it('a failed step (bad targets) leaves the moving statistics and every weight unchanged; no tensor leaks', async () => {
    const model = bnMlp(5, 4, 3, 6);
    const [x, y] = classData(6, [5], 3, 1);
    const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy', fngd: { learningRate: 0.1, damping: 1 } });
    await tr.trainBatch(x, y, { batchKey: 0, epoch: 0 });
    const before = model.getWeights().map((t) => Array.from(t.dataSync()));
    const tensors = tf.memory().numTensors;
    const bad = tf.fill([6, 3], NaN);
    await expect(tr.trainBatch(x, bad, { batchKey: 1, epoch: 0 })).rejects.toBeInstanceOf(TargetError);
    expect(model.getWeights().map((t) => Array.from(t.dataSync()))).toEqual(before);
    bad.dispose();
    expect(tf.memory().numTensors).toBe(tensors);
    tr.dispose();
    tf.dispose([x, y]);
  });
});

describe('frozen layers and sub-models', () => {
  it('a frozen base trains forward only (its BatchNorm in inference mode); the head trains; nothing of the base changes', async () => {
    const { model, base } = frozenBase(2);
    const [x, y] = classData(24, [5], 3, 9);
    const baseBefore = base.getWeights().map((t) => Array.from(t.dataSync()));
    for (const opts of [{ fngd: { learningRate: 0.5, damping: 1 } }, { kfac: { learningRate: 0.1, damping: 0.1 } }] as const) {
      const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy', ...opts });
      expect(tr.model.names).toEqual(['head/kernel', 'head/bias']);
      expect(tr.model.couplesSamples).toBe(false);
      const first = await tr.trainBatch(x, y, { batchKey: 0, epoch: 0 });
      let last = first.loss;
      for (let e = 1; e < 8; e++) last = (await tr.trainBatch(x, y, { batchKey: 0, epoch: e })).loss;
      expect(last).toBeLessThan(first.loss);
      tr.dispose();
    }
    expect(base.getWeights().map((t) => Array.from(t.dataSync()))).toEqual(baseBefore);
    tf.dispose([x, y]);
  });
});
