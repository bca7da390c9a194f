/**
 * Weight regularizers as penalties: L1, L2 and L1L2 on kernels and biases add their gradient ∇R to each optimizer's
 * step direction without preconditioning — FNGD's step equals the float64 reference `−η(λ(F+λI)⁻¹g + ∇R)`, KFAC's
 * and a tfjs SGD baseline's differ from an unregularized twin by exactly `−η∇R`; every layer kind's regularizer
 * keys resolve to the right weights (recurrent, depthwise, pointwise, embeddings, γ/β); frozen weights carry none;
 * activity regularizers are refused.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { FngdTrainer, fromLayersModel, softmaxCrossEntropy, UnsupportedLayerError, type FngdTrainerOptions, type FunctionModel } from '../src/index.js';
import { layerPenalties } from '../src/layers/regularizers.js';
import type { LayerLike } from '../src/layers/types.js';
import { bruteJacobian, classData, flatParams, relErr, useCpu } from './helpers.js';
import { coefficients, referenceStep } from './support/reference.js';

beforeAll(useCpu);

const LR = 0.3;
const LAMBDA = 0.1;
const L1 = 0.005;
const L2 = 0.01;
const L1B = 0.002;
const L2B = 0.02;

/** 5 → 6 (tanh; kernel L2, bias L1) → 3 (kernel L1L2); `plain`: the same without regularizers. */
function model(plain: boolean): LayersModel {
  const reg = <T>(r: T): T => (plain ? (undefined as unknown as T) : r);
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 6, inputShape: [5], activation: 'tanh', name: 'h', kernelInitializer: tfl.initializers.glorotNormal({ seed: 1 }), biasInitializer: tfl.initializers.randomNormal({ seed: 2, stddev: 0.2 }), kernelRegularizer: reg(tfl.regularizers.l2({ l2: L2 })), biasRegularizer: reg(tfl.regularizers.l1({ l1: L1 })) }),
      tfl.layers.dense({ units: 3, name: 'o', kernelInitializer: tfl.initializers.glorotNormal({ seed: 3 }), kernelRegularizer: reg(tfl.regularizers.l1l2({ l1: L1B, l2: L2B })) }),
    ],
  });
}

/** ∇R in float64, flattened in the variables' order (h/kernel, h/bias, o/kernel, o/bias). */
function penaltyGradient(vars: readonly Variable[]): number[] {
  const [hk, hb, ok, ob] = vars.map((v) => Array.from(v.dataSync()));
  return [...hk!.map((w) => 2 * L2 * w), ...hb!.map((w) => L1 * Math.sign(w)), ...ok!.map((w) => L1B * Math.sign(w) + 2 * L2B * w), ...ob!.map(() => 0)];
}

const step = async (m: LayersModel, options: FngdTrainerOptions, x: Tensor, y: Tensor): Promise<number[]> => {
  const tr = await FngdTrainer.create(m, options);
  const vars = [...tr.model.variables];
  const before = flatParams(vars);
  await tr.trainBatch(x, y, { batchKey: 0, epoch: 0 });
  const after = flatParams(vars);
  tr.dispose();
  return after.map((v, k) => v - before[k]!);
};

describe('regularizers are penalties whose gradient joins the step direction', () => {
  it('FNGD: a fresh step equals −η(λ(F+λI)⁻¹g + ∇R), a cached one −η(λJᵀα + ∇R) at the new weights (float64 references)', async () => {
    const m = model(false);
    const [x, y] = classData(9, [5], 3, 4);
    const tr = await FngdTrainer.create(m, { loss: 'softmax-cross-entropy', fngd: { learningRate: LR, damping: LAMBDA, momentum: 0, mode: 'global', guard: false, refresh: 'first-epoch' } });
    const vars = [...tr.model.variables];
    expect(tr.model.penalties?.map((p) => p.name)).toEqual(['h/kernelRegularizer', 'h/biasRegularizer', 'o/kernelRegularizer']);
    const p0 = flatParams(vars);
    const rg = penaltyGradient(vars);
    const rows0 = bruteJacobian(m, softmaxCrossEntropy, x, y, vars);
    const want = referenceStep(p0, rows0, null, LR, LAMBDA).map((v, k) => v - LR * rg[k]!);
    await tr.trainBatch(x, y, { batchKey: 0, epoch: 0 });
    expect(relErr(flatParams(vars), want)).toBeLessThan(2e-4);
    // a cached step: α of the first batch, per-sample gradients and penalty at the current weights
    const alpha = coefficients(rows0, LAMBDA);
    const p1 = flatParams(vars);
    const rows1 = bruteJacobian(m, softmaxCrossEntropy, x, y, vars);
    const rg1 = penaltyGradient(vars);
    const want1 = p1.map((v, k) => v - LR * (LAMBDA * rows1.reduce((s, r, i) => s + alpha[i]! * r[k]!, 0) + rg1[k]!));
    await tr.trainBatch(x, y, { batchKey: 0, epoch: 1 });
    expect(tr.stats?.cachedBatches).toBe(1);
    expect(relErr(flatParams(vars), want1)).toBeLessThan(2e-4);
    tr.dispose();
    tf.dispose([x, y]);
  });

  for (const [label, options] of [
    ['KFAC', { loss: 'softmax-cross-entropy', kfac: { learningRate: LR, momentum: 0, klClip: false } }],
    ['KFAC with the diagonal block', { loss: 'softmax-cross-entropy', kfac: { learningRate: LR, momentum: 0, klClip: false, nonKronecker: 'diagonal' } }],
    ['a tfjs SGD baseline', { loss: 'softmax-cross-entropy', optimizer: tf.train.sgd(LR) }],
  ] as [string, FngdTrainerOptions][]) {
    it(`${label}: the step differs from an unregularized twin's by −η∇R`, async () => {
      const [x, y] = classData(9, [5], 3, 6);
      const reg = model(false);
      const plain = model(true);
      plain.setWeights(reg.getWeights());
      const rg = penaltyGradient(fromLayersModel(reg, 'softmax').variables);
      const dReg = await step(reg, options, x, y);
      const dPlain = await step(plain, options, x, y);
      expect(relErr(dReg.map((v, k) => v - dPlain[k]!), rg.map((v) => -LR * v))).toBeLessThan(1e-4);
      tf.dispose([x, y]);
    });
  }
});

describe('every layer kind maps its regularizer keys to its weights', () => {
  it('recurrent, depthwise/pointwise, embeddings, γ/β, PReLU α, transposed kernels', async () => {
    const l2 = () => tfl.regularizers.l2({ l2: 0.01 });
    const seq = tfl.sequential({
      layers: [
        tfl.layers.embedding({ inputDim: 9, outputDim: 4, inputLength: 5, name: 'emb', embeddingsRegularizer: l2() }),
        tfl.layers.lstm({ units: 3, name: 'lstm', recurrentInitializer: 'glorotUniform', kernelRegularizer: l2(), recurrentRegularizer: l2(), biasRegularizer: l2(), returnSequences: true }),
        tfl.layers.layerNormalization({ name: 'ln', gammaRegularizer: l2(), betaRegularizer: l2() }),
        tfl.layers.globalAveragePooling1d({}),
        tfl.layers.dense({ units: 2, name: 'out' }),
      ],
    });
    const names = (fm: FunctionModel): [string, string][] => (fm.penalties ?? []).map((p) => [p.name, p.variable.name]);
    const fm = fromLayersModel(seq);
    const byName = new Map(fm.variables.map((v, i) => [v, fm.names?.[i]]));
    expect((fm.penalties ?? []).map((p) => [p.name, byName.get(p.variable)])).toEqual([
      ['emb/embeddingsRegularizer', 'emb/embeddings'],
      ['lstm/kernelRegularizer', 'lstm/kernel'],
      ['lstm/recurrentRegularizer', 'lstm/recurrent_kernel'],
      ['lstm/biasRegularizer', 'lstm/bias'],
      ['ln/betaRegularizer', 'ln/beta'],
      ['ln/gammaRegularizer', 'ln/gamma'],
    ]);
    expect(names(fm)).toHaveLength(6);
    const conv = tfl.sequential({
      layers: [
        tfl.layers.separableConv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 2, name: 'sep', depthwiseRegularizer: l2(), pointwiseRegularizer: l2(), biasRegularizer: l2() }),
        tfl.layers.prelu({ name: 'pr', alphaRegularizer: l2() }),
        tfl.layers.conv2dTranspose({ filters: 2, kernelSize: 2, name: 'up', kernelRegularizer: l2() }),
        tfl.layers.flatten(),
        tfl.layers.dense({ units: 2, name: 'out2' }),
      ],
    });
    const fc = fromLayersModel(conv);
    const cn = new Map(fc.variables.map((v, i) => [v, fc.names?.[i]]));
    expect((fc.penalties ?? []).map((p) => cn.get(p.variable))).toEqual(['sep/bias', 'sep/depthwise_kernel', 'sep/pointwise_kernel', 'pr/alpha', 'up/kernel']);
  });

  it('frozen layers carry no penalty; an activity regularizer is refused naming the layer', async () => {
    const frozen = tfl.sequential({
      layers: [
        tfl.layers.dense({ units: 4, inputShape: [3], name: 'base', trainable: false, kernelRegularizer: tfl.regularizers.l2({ l2: 0.1 }) }),
        tfl.layers.dense({ units: 2, name: 'head' }),
      ],
    });
    expect(fromLayersModel(frozen).penalties).toEqual([]);
    // tfjs 4.22 cannot apply a layer with an activity regularizer, so no model holds one; the compiler refuses it anyway
    const act = tfl.layers.dense({ units: 2, inputShape: [3], name: 'a', activityRegularizer: tfl.regularizers.l1({ l1: 0.1 }) });
    expect(() => layerPenalties(act as unknown as LayerLike, new Set())).toThrow(UnsupportedLayerError);
    expect(() => layerPenalties(act as unknown as LayerLike, new Set())).toThrow(/'a' \(Dense\).*activityRegularizer is not supported/);
    // a regularizer whose weight cannot be found is refused, never dropped
    const odd = { name: 'odd', trainable: true, getClassName: () => 'Odd', getConfig: () => ({ fooRegularizer: { className: 'L2' } }), fooRegularizer: tfl.regularizers.l2() };
    expect(() => layerPenalties(odd as unknown as LayerLike, new Set())).toThrow(/fooRegularizer is set but its regularizer or its weight \('foo'\) is not accessible/);
  });

  it('a tfjs baseline over a FunctionModel with a variable the loss does not reach trains (no gradient, no penalty gradient needed)', async () => {
    const w = tf.variable(tf.randomNormal([4, 2], 0, 0.5, 'float32', 3));
    const unused = tf.variable(tf.ones([3]));
    const fm: FunctionModel = { variables: [w, unused], names: ['w', 'unused'], forward: (x) => tf.matMul(x as tf.Tensor2D, w) };
    const tr = await FngdTrainer.create(fm, { loss: 'mse', optimizer: tf.train.sgd(0.1) });
    const x = tf.randomNormal([8, 4], 0, 1, 'float32', 4);
    const y = tf.randomNormal([8, 2], 0, 1, 'float32', 5);
    expect(Number.isFinite((await tr.trainBatch(x, y, { batchKey: 0 })).loss)).toBe(true);
    expect(Array.from(unused.dataSync())).toEqual([1, 1, 1]);
    tr.dispose();
    tf.dispose([x, y, w, unused]);
  });

  it("a FunctionModel's own penalties train like a layer's", async () => {
    const w = tf.variable(tf.randomNormal([4, 2], 0, 0.5, 'float32', 3));
    const fm: FunctionModel = {
      variables: [w],
      names: ['w'],
      penalties: [{ variable: w, name: 'w/l2', penalty: (t) => tf.mul(0.05, tf.sum(tf.square(t))) }],
      forward: (x, tap) => tap.dense(tf.matMul(x as tf.Tensor2D, w), x, { kernel: w }),
      taps: [{ kernel: w }],
    };
    const x = tf.randomNormal([8, 4], 0, 1, 'float32', 4);
    const y = tf.randomNormal([8, 2], 0, 1, 'float32', 5);
    const w0 = Array.from(w.dataSync());
    const tr = await FngdTrainer.create(fm, { loss: 'mse', optimizer: tf.train.sgd(0.1) });
    const g = tf.tidy(() => tf.grad((v: Tensor) => tf.mean(tf.mean(tf.squaredDifference(tf.matMul(x as tf.Tensor2D, v as tf.Tensor2D), y), 1)))(w));
    const want = w0.map((v, k) => v - 0.1 * ((g.dataSync()[k] as number) + 0.1 * v));
    await tr.trainBatch(x, y, { batchKey: 0 });
    expect(relErr(Array.from(w.dataSync()), want)).toBeLessThan(1e-5);
    tr.dispose();
    tf.dispose([x, y, g]);
  });
});
