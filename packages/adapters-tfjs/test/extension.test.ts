/**
 * Extension by registration (a custom tfjs layer class gets a block; a block uses a registered site rule), and the
 * guard against forwards that couple samples: a FunctionModel whose samples interact is refused at its first
 * step unless it says so, and then trains on each sample's share of the batch gradient.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdapterArgumentError, FngdTrainer, fromLayersModel, registerLayerBlock, registerSiteRule, softmaxCrossEntropy, supportedLayers, UnsupportedModelError, type FunctionModel } from '../src/index.js';
import { capture } from '../src/internal.js';
import { bruteJacobian, classData, flatParams, relErr, useCpu, variablesOf } from './helpers.js';
import { shareJacobian } from './support/batchnorm-reference.js';
import { referenceStep } from './support/reference.js';
import { bnMlp } from './support/zoo.js';

beforeAll(useCpu);

/** A custom layer: a learned per-feature scale `y = x∘s`. */
class FeatureScale extends tfl.layers.Layer {
  static className = 'FeatureScale';
  scale: tfl.LayerVariable | null = null;
  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = inputShape as tfl.Shape;
    this.scale = this.addWeight('scale', [shape[shape.length - 1] as number], 'float32', tfl.initializers.randomNormal({ mean: 1, stddev: 0.3, seed: 4 }));
    this.built = true;
  }
  override call(inputs: Tensor | Tensor[]): Tensor {
    const x = Array.isArray(inputs) ? (inputs[0] as Tensor) : inputs;
    return tf.mul(x, (this.scale as tfl.LayerVariable).read());
  }
  override getClassName(): string {
    return 'FeatureScale';
  }
}
tf.serialization.registerClass(FeatureScale);

function scaledMlp(): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 4, inputShape: [5], activation: 'tanh', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }),
      new FeatureScale({ name: 'fs' }),
      tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
}

describe('a new layer kind is one block plus one registration', () => {
  it('without a block, a weighted layer trains through the generic per-sample route, with a one-time warning naming it', async () => {
    const warnings: string[] = [];
    const fm = fromLayersModel(scaledMlp(), null, { warn: (m) => warnings.push(m) });
    expect(fm.names).toContain('fs/scale');
    const [x, y] = classData(4, [5], 3);
    const cap = capture(fm, softmaxCrossEntropy, x, y);
    expect(cap.uncovered.map((v) => v.shape)).toEqual([[4]]);
    cap.dispose();
    fromLayersModel(scaledMlp(), null, { warn: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/'fs' \(FeatureScale\) has no layer block.*one backward pass per sample/);
    tf.dispose([x, y]);
  });

  it('registered with the elementwise site rule, its scale is exact: one step equals the float64 reference', async () => {
    registerLayerBlock({
      classNames: ['FeatureScale'],
      compile(layer, ctx) {
        const s = (layer as unknown as FeatureScale).scale?.read() as Variable;
        ctx.param(s, `${layer.name}/scale`);
        return { foldable: null, apply: ([x], tap) => [tap.site('elementwise', tf.mul(x as Tensor, s), x as Tensor, { scale: s })] };
      },
    });
    expect(() => registerLayerBlock({ classNames: ['FeatureScale'], compile: () => ({ foldable: null, apply: (xs) => [...xs] }) })).toThrow(AdapterArgumentError);
    const model = scaledMlp();
    const [x, y] = classData(7, [5], 3, 3);
    const fm = fromLayersModel(model);
    const vars = [...fm.variables];
    const cap = capture(fm, softmaxCrossEntropy, x, y);
    expect(cap.uncovered).toHaveLength(0);
    cap.dispose();
    const want = referenceStep(flatParams(vars), bruteJacobian(model, softmaxCrossEntropy, x, y, vars), null, 0.5, 0.05);
    const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy', fngd: { learningRate: 0.5, damping: 0.05 } });
    await tr.trainBatch(x, y, { batchKey: 0, epoch: 0 });
    expect(relErr(flatParams(vars), want)).toBeLessThan(2e-4);
    tr.dispose();
    tf.dispose([x, y]);
  });

  it('the registered block on a sequence (α broadcast from the trailing axis, summed over positions) is exact too', async () => {
    const model = tfl.sequential({
      layers: [
        tfl.layers.dense({ units: 4, inputShape: [5, 3], activation: 'tanh', kernelInitializer: tfl.initializers.glorotUniform({ seed: 5 }) }),
        new FeatureScale({ name: 'fs_seq' }),
        tfl.layers.globalAveragePooling1d({}),
        tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed: 6 }) }),
      ],
    });
    const [x, y] = classData(6, [5, 3], 3, 8);
    const vars = [...fromLayersModel(model).variables];
    const want = referenceStep(flatParams(vars), bruteJacobian(model, softmaxCrossEntropy, x, y, vars), null, 0.5, 0.05);
    const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy', fngd: { learningRate: 0.5, damping: 0.05 } });
    await tr.trainBatch(x, y, { batchKey: 0, epoch: 0 });
    expect(relErr(flatParams(vars), want)).toBeLessThan(2e-4);
    tr.dispose();
    tf.dispose([x, y]);
  });

  it('a malformed block is refused and registers nothing', () => {
    expect(() => registerLayerBlock({ classNames: [], compile: () => ({ foldable: null, apply: (xs) => [...xs] }) })).toThrow(/expected \{ classNames/);
    expect(() => registerLayerBlock({ classNames: ['NoCompile'] } as never)).toThrow(AdapterArgumentError);
    expect(supportedLayers()).not.toContain('NoCompile');
  });

  it('a rule whose factors are not 2-D or 3-D is refused at upload, and the step changes nothing', async () => {
    registerSiteRule({
      kind: 'flat-test',
      roles: ['kernel'],
      kronecker: false,
      factors: (g) => ({ kind: 'jacobian', tensors: { jacobian: tf.reshape(g.sites[0]!.delta, [-1]) } }),
      weightedGrads: () => new Map(),
    });
    const w = tf.variable(tf.randomNormal([3, 2], 0, 0.3, 'float32', 4));
    const fm: FunctionModel = { variables: [w], forward: (x, tap) => tap.site('flat-test', tf.matMul(x as tf.Tensor2D, w), x, { kernel: w }) };
    const tr = await FngdTrainer.create(fm, { loss: 'softmax-cross-entropy' });
    const [x, y] = classData(4, [3], 2, 1);
    const before = Array.from(w.dataSync());
    const tensors = tf.memory().numTensors;
    await expect(tr.trainBatch(x, y, { batchKey: 0, epoch: 0 })).rejects.toThrow(/a factor tensor must be 2-D or 3-D, got \[8\]/);
    expect(Array.from(w.dataSync())).toEqual(before);
    expect(tr.stats?.factorizations).toBe(0);
    expect(tf.memory().numTensors).toBe(tensors);
    tr.dispose();
    tf.dispose([x, y, w]);
  });

  it('site rules: a taken kind, a malformed rule and an unknown kind at a site are typed errors', async () => {
    expect(() => registerSiteRule({ kind: 'dense', roles: ['kernel'], kronecker: true, factors: () => ({ kind: 'dense', tensors: {} }), weightedGrads: () => new Map() })).toThrow(/already registered/);
    expect(() => registerSiteRule({ kind: 'x' } as never)).toThrow(AdapterArgumentError);
    const w = tf.variable(tf.ones([3, 2]));
    const fm: FunctionModel = { variables: [w], forward: (x, tap) => tap.site('no-such-kind', tf.matMul(x as tf.Tensor2D, w), x, { kernel: w }) };
    const [x] = classData(3, [3], 2);
    expect(() => capture(fm, (o) => tf.sum(o, 1), x, tf.zeros([3, 2]))).toThrow(/no site rule 'no-such-kind'.*registerSiteRule/);
    tf.dispose([w, x]);
  });
});

/** bnMlp written by hand over its own variables; `declare`: says that it couples samples. */
function handBn(model: tfl.LayersModel, declare: boolean, tapGamma = true): FunctionModel {
  const [w1, b1, gamma, beta, w2, b2] = variablesOf(model) as [Variable, Variable, Variable, Variable, Variable, Variable];
  return {
    variables: [w1, b1, gamma, beta, w2, b2],
    couplesSamples: declare,
    taps: [{ kernel: w1, bias: b1 }, { kernel: w2, bias: b2 }],
    forward(x, tap, training) {
      const z = tap.dense(tf.add(tf.matMul(x as tf.Tensor2D, w1), b1), x, { kernel: w1, bias: b1 });
      const m = training ? tf.moments(z, [0]) : { mean: tf.zeros([4]), variance: tf.ones([4]) };
      const xhat = tf.div(tf.sub(z, m.mean), tf.sqrt(tf.add(m.variance, 1e-3)));
      const ss = tf.add(tf.mul(xhat, gamma), beta);
      const h = tf.relu(tapGamma ? tap.site('scale-shift', ss, xhat, { gamma, beta }) : ss);
      return tap.dense(tf.add(tf.matMul(h as tf.Tensor2D, w2), b2), h, { kernel: w2, bias: b2 });
    },
  };
}

describe('forwards that couple samples are never trained silently wrong', () => {
  it('an undeclared coupling is refused at the first step, before anything changes', async () => {
    const model = bnMlp(5, 4, 3, 8);
    const [x, y] = classData(8, [5], 3, 2);
    const tr = await FngdTrainer.create(handBn(model, false), { loss: 'softmax-cross-entropy', fngd: { learningRate: 0.5, damping: 0.05 } });
    const before = flatParams(variablesOf(model));
    await expect(tr.trainBatch(x, y, { batchKey: 0, epoch: 0 })).rejects.toThrow(UnsupportedModelError);
    await expect(tr.trainBatch(x, y, { batchKey: 0, epoch: 0 })).rejects.toThrow(/couplesSamples: true/);
    expect(flatParams(variablesOf(model))).toEqual(before);
    tr.dispose();
    tf.dispose([x, y]);
  });

  it('a first batch of one sample leaves the check for the next batch', async () => {
    const model = bnMlp(5, 4, 3, 8);
    const [x, y] = classData(8, [5], 3, 2);
    const tr = await FngdTrainer.create(handBn(model, false), { loss: 'softmax-cross-entropy', fngd: { learningRate: 0.5, damping: 0.05 } });
    // one sample: batch statistics of one sample normalize it to β — finite, trains; the check is not spent
    const [x1, y1] = [tf.slice(x, [0], [1]), tf.slice(y, [0], [1])];
    await tr.trainBatch(x1, y1, { batchKey: 'one', epoch: 0 });
    tf.dispose([x1, y1]);
    await expect(tr.trainBatch(x, y, { batchKey: 0, epoch: 0 })).rejects.toThrow(UnsupportedModelError);
    tr.dispose();
    tf.dispose([x, y]);
  });

  it('declared, it trains on each sample\'s share of the batch gradient (one step equals the private-copies reference)', async () => {
    const model = bnMlp(5, 4, 3, 8);
    const [x, y] = classData(8, [5], 3, 2);
    const vars = variablesOf(model);
    const want = referenceStep(flatParams(vars), shareJacobian(model, softmaxCrossEntropy, x, y), null, 0.5, 0.05);
    const tr = await FngdTrainer.create(handBn(model, true), { loss: 'softmax-cross-entropy', fngd: { learningRate: 0.5, damping: 0.05 } });
    await tr.trainBatch(x, y, { batchKey: 0, epoch: 0 });
    expect(relErr(flatParams(vars), want)).toBeLessThan(2e-4);
    tr.dispose();
    tf.dispose([x, y]);
  });

  it('declared but with variables at no tap site: refused (one-sample fallback passes would see other statistics)', async () => {
    const model = bnMlp(5, 4, 3, 8);
    const [x, y] = classData(8, [5], 3, 2);
    const tr = await FngdTrainer.create(handBn(model, true, false), { loss: 'softmax-cross-entropy', fngd: { learningRate: 0.5, damping: 0.05 } });
    const before = flatParams(variablesOf(model));
    await expect(tr.trainBatch(x, y, { batchKey: 0, epoch: 0 })).rejects.toThrow(/couples samples, and 2 variable\(s\)/);
    expect(flatParams(variablesOf(model))).toEqual(before);
    expect(tr.stats?.factorizations).toBe(0);
    tr.dispose();
    tf.dispose([x, y]);
  });

  it('a per-sample forward with dropout (not deterministic) is not checked and trains', async () => {
    const w = tf.variable(tf.randomNormal([5, 3], 0, 0.3, 'float32', 1));
    const fm: FunctionModel = {
      variables: [w],
      forward: (x, tap, training) => {
        const h = tf.dropout(x, training ? 0.3 : 0);
        return tap.dense(tf.matMul(h as tf.Tensor2D, w), h, { kernel: w });
      },
    };
    const [x, y] = classData(8, [5], 3, 2);
    const tr = await FngdTrainer.create(fm, { loss: 'softmax-cross-entropy' });
    expect(Number.isFinite((await tr.trainBatch(x, y, { batchKey: 0, epoch: 0 })).loss)).toBe(true);
    tr.dispose();
    tf.dispose([x, y, w]);
  });
});
