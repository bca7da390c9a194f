/**
 * Models with several inputs and outputs (a loss per output, tfjs's loss weights): one FNGD step equals the float64
 * reference built from explicit per-sample gradients of `Σₒ wₒ·ℓₒᵢ` (tfjs's own forward, one sample at a time);
 * inputs and targets as arrays or records by name give the same step; predictions and evaluation per output;
 * KFAC and `fit` with validation data train; every malformed input, target and option is refused naming the
 * input or output, and changes nothing; checkpoints continue bit for bit.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdapterArgumentError, FngdTrainer, InvalidOptionError, meanSquaredError, softmaxCrossEntropy, TargetError, UnsupportedModelError } from '../src/index.js';
import { flatParams, relErr, useCpu } from './helpers.js';
import { referenceStep } from './support/reference.js';
import { twoTower, twoTowerData } from './support/zoo.js';

beforeAll(useCpu);

type S = tfl.SymbolicTensor;
const LR = 0.5;
const LAMBDA = 0.05;
const WEIGHTS = [1, 0.3] as const;

/** Explicit per-sample gradients of `w₀·CE(cls) + w₁·MSE(reg)` through the LayersModel itself. */
function referenceRows(model: LayersModel, xs: readonly Tensor[], ys: readonly Tensor[], vars: Variable[]): number[][] {
  const n = xs[0]!.shape[0] as number;
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) {
    const g = tf.tidy(() => {
      const xi = xs.map((x) => tf.slice(x, [i], [1]));
      const onehot = tf.cast(tf.oneHot(tf.slice(ys[0]!, [i], [1]) as tf.Tensor1D, 3), 'float32');
      const { value, grads } = tf.variableGrads(() => {
        const [p, r] = model.apply(xi) as Tensor[];
        const logits = tf.log(p as Tensor); // softmax output: log-probabilities are logits up to a constant
        const ce = softmaxCrossEntropy(logits, onehot);
        const mse = meanSquaredError(r as Tensor, tf.slice(ys[1]!, [i], [1]));
        return tf.sum(tf.add(tf.mul(ce, WEIGHTS[0]), tf.mul(mse, WEIGHTS[1]))) as tf.Scalar;
      }, vars);
      value.dispose();
      return tf.concat(vars.map((v) => tf.reshape(grads[v.name] as Tensor, [-1])));
    });
    rows.push(Array.from(g.dataSync()));
    g.dispose();
  }
  return rows;
}

const create = (model: LayersModel, extra: object = {}): Promise<FngdTrainer> =>
  FngdTrainer.create(model, { loss: ['softmax-cross-entropy', 'mse'], lossWeights: [...WEIGHTS], ...extra });

describe('two inputs, two outputs', () => {
  it('one FNGD step equals the float64 reference of the weighted per-output losses (global mode)', async () => {
    const model = twoTower(13, 6, 2);
    const [xs, ys] = twoTowerData(9);
    const tr = await create(model, { fngd: { learningRate: LR, damping: LAMBDA, mode: 'global' } });
    const vars = [...tr.model.variables];
    const want = referenceStep(flatParams(vars), referenceRows(model, xs, ys, vars), null, LR, LAMBDA);
    const r = await tr.trainBatch(xs, ys, { batchKey: 0, epoch: 0 });
    expect(r.fresh).toBe(true);
    expect(relErr(flatParams(vars), want)).toBeLessThan(2e-4);
    tr.dispose();
    tf.dispose([...xs, ...ys]);
  });

  it('arrays and records by name give the same step; one-hot and class-index targets too', async () => {
    const [xs, ys] = twoTowerData(8);
    const onehot = tf.cast(tf.oneHot(ys[0] as tf.Tensor1D, 3), 'float32');
    const runs: number[][] = [];
    for (const [x, y, loss] of [
      [xs, ys, ['softmax-cross-entropy', 'mse']],
      [{ tokens: xs[1], features: xs[0] }, { reg: ys[1], cls: onehot }, { reg: 'mse', cls: 'softmax-cross-entropy' }],
    ] as const) {
      const model = twoTower(13, 6, 4);
      const tr = await FngdTrainer.create(model, { loss: loss as never, lossWeights: { cls: WEIGHTS[0], reg: WEIGHTS[1] } });
      await tr.trainBatch(x as never, y as never, { batchKey: 0 });
      runs.push(flatParams([...tr.model.variables]));
      tr.dispose();
    }
    expect(relErr(runs[1]!, runs[0]!)).toBeLessThan(1e-6);
    tf.dispose([...xs, ...ys, onehot]);
  });

  it('predictOutputs gives each output with its activation; evaluate the weighted loss', async () => {
    const model = twoTower(13, 6, 5);
    const [xs, ys] = twoTowerData(7);
    const tr = await create(model);
    const [p, r] = tr.predictOutputs(xs);
    const [tp, treg] = model.predict(xs) as Tensor[];
    expect(relErr(Array.from(p!.dataSync()), Array.from(tp!.dataSync()))).toBeLessThan(1e-5);
    expect(relErr(Array.from(r!.dataSync()), Array.from(treg!.dataSync()))).toBeLessThan(1e-5);
    expect(() => tr.predict(xs)).toThrow(/2 outputs; use predictOutputs/);
    const want = tf.tidy(() => {
      const ce = tf.mean(softmaxCrossEntropy(tf.log(tp!), tf.cast(tf.oneHot(ys[0] as tf.Tensor1D, 3), 'float32')));
      return tf.add(tf.mul(ce, WEIGHTS[0]), tf.mul(tf.mean(meanSquaredError(treg!, ys[1]!)), WEIGHTS[1])).dataSync()[0] as number;
    });
    const e = tr.evaluate(xs, ys);
    expect(e.loss).toBeCloseTo(want, 4);
    expect(e.accuracy).toBeUndefined();
    expect((await tr.evaluateAsync(xs, ys)).loss).toBeCloseTo(want, 4);
    tf.dispose([p!, r!, tp!, treg!, ...xs, ...ys]);
    tr.dispose();
  });

  for (const [label, extra] of [
    ['FNGD defaults', {}],
    ['KFAC defaults', { kfac: {} }],
    ['KFAC, diagonal block', { kfac: { nonKronecker: 'diagonal', learningRate: 0.05 } }],
  ] as const) {
    it(`${label}: fit with validation data trains, no tensor leaks`, async () => {
      const model = twoTower(13, 6, 6);
      const [xs, ys] = twoTowerData(48);
      const tr = await FngdTrainer.create(model, { loss: ['softmax-cross-entropy', 'mse'], ...extra });
      const first = tr.evaluate(xs, ys).loss;
      await tr.fit(xs, ys, { epochs: 1, batchSize: 16, seed: 1 });
      const count = tf.memory().numTensors;
      const logs = (await tr.fit(xs, ys, { epochs: 4, batchSize: 16, seed: 1, validationData: [xs, ys] })).logs;
      expect(tf.memory().numTensors).toBe(count);
      expect(logs.at(-1)!.valLoss).toBeLessThan(first);
      tr.dispose();
      tf.dispose([...xs, ...ys]);
    });
  }

  it('save → load → restore → continue equals never stopping', async () => {
    const [xs, ys] = twoTowerData(32);
    const a = twoTower(13, 6, 8);
    const ta = await create(a);
    await ta.fit(xs, ys, { epochs: 4, batchSize: 16, seed: 2 });
    const want = a.getWeights().map((t) => Array.from(t.dataSync()));
    const b = twoTower(13, 6, 8);
    const tb = await create(b);
    await tb.fit(xs, ys, { epochs: 2, batchSize: 16, seed: 2 });
    let saved: tf.io.ModelArtifacts | null = null;
    await tb.save(
      tf.io.withSaveHandler(async (art) => {
        saved = art;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    tb.dispose();
    const c = await tfl.loadLayersModel(tf.io.fromMemory(saved as unknown as tf.io.ModelArtifacts));
    const tc = await create(c);
    tc.restore();
    await tc.fit(xs, ys, { epochs: 2, batchSize: 16, seed: 2 });
    expect(c.getWeights().map((t) => Array.from(t.dataSync()))).toEqual(want);
    ta.dispose();
    tc.dispose();
    tf.dispose([...xs, ...ys]);
  });
});

describe('several inputs and outputs: refusals name the input or output and change nothing', () => {
  it.each([
    ['one tensor for two inputs', (xs: Tensor[]) => xs[0], null, AdapterArgumentError, /2 inputs \(features, tokens\); give an array/],
    ['three inputs', (xs: Tensor[]) => [...xs, xs[0]], null, AdapterArgumentError, /2 inputs .*array of 3/],
    ['a missing input by name', (xs: Tensor[]) => ({ features: xs[0] }), null, AdapterArgumentError, /inputs 'tokens' is missing/],
    ['an unknown input name', (xs: Tensor[]) => ({ features: xs[0], tokens: xs[1], extra: xs[0] }), null, AdapterArgumentError, /'extra' is none of the model's inputs/],
    ['an input of the wrong shape', (xs: Tensor[]) => [tf.zeros([8, 4]), xs[1]], null, AdapterArgumentError, /input 'features' must be \[n, 5\], got \[8,4\]/],
    ['inputs with different sample counts', (xs: Tensor[]) => [tf.zeros([7, 5]), xs[1]], null, AdapterArgumentError, /same n/],
    ['one target tensor for two outputs', null, (ys: Tensor[]) => ys[1], AdapterArgumentError, /2 outputs \(targets\) \(cls, reg\)/],
    ['targets of the wrong shape for one output', null, (ys: Tensor[]) => [ys[0], tf.zeros([8, 3])], TargetError, /output 'reg'/],
    ['a class index out of range', null, (ys: Tensor[]) => [tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 0], 'int32'), ys[1]], TargetError, /output 'cls'.*class index 3/],
    ['non-finite regression targets', null, (ys: Tensor[]) => [ys[0], tf.fill([8, 2], NaN)], TargetError, /output 'reg'.*NaN/],
  ] as const)('%s', async (_name, badX, badY, type, message) => {
    const model = twoTower(13, 6, 9);
    const [xs, ys] = twoTowerData(8);
    const tr = await create(model);
    const before = flatParams([...tr.model.variables]);
    const count = tf.memory().numTensors;
    const x = badX ? badX(xs) : xs;
    const y = badY ? badY(ys) : ys;
    const made = tf.memory().numTensors - count;
    const error = await tr.trainBatch(x as never, y as never, { batchKey: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(type);
    expect(String(error)).toMatch(message);
    expect(flatParams([...tr.model.variables])).toEqual(before);
    expect(tf.memory().numTensors).toBe(count + made);
    expect(tr.stats?.steps ?? 0).toBe(0);
    tr.dispose();
    tf.dispose([...xs, ...ys]);
  });

  it.each([
    ['a loss array of the wrong length', { loss: ['mse'] }, AdapterArgumentError, /2 outputs \(loss\) .*array of 1/],
    ['a loss for an unknown output', { loss: { cls: 'mse', value: 'mse' } }, AdapterArgumentError, /'value' is none of the model's outputs/],
    ['a negative loss weight', { loss: 'mse', lossWeights: [1, -1] }, InvalidOptionError, /lossWeights/],
    ['loss weights of the wrong length', { loss: 'mse', lossWeights: [1] }, AdapterArgumentError, /array of 1/],
    ['loss weights all zero', { loss: 'mse', lossWeights: [0, 0] }, AdapterArgumentError, /every loss weight is 0/],
  ] as const)('create: %s', async (_name, options, type, message) => {
    const p = FngdTrainer.create(twoTower(), options as never);
    await expect(p).rejects.toThrow(type);
    await expect(FngdTrainer.create(twoTower(), options as never)).rejects.toThrow(message);
  });

  it('lossWeights on a single-output model, and a free per-sample axis, are refused', async () => {
    const single = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [3] })] });
    await expect(FngdTrainer.create(single, { loss: 'mse', lossWeights: [1] })).rejects.toThrow(/lossWeights.*several outputs/);
    const a = tfl.input({ shape: [null, 3] as never });
    const b = tfl.input({ shape: [4] });
    const pooled = tfl.layers.globalAveragePooling1d({}).apply(a) as S;
    const out = tfl.layers.dense({ units: 2 }).apply(tfl.layers.concatenate().apply([pooled, b]) as S) as S;
    await expect(FngdTrainer.create(tfl.model({ inputs: [a, b], outputs: out }), { loss: 'mse' })).rejects.toThrow(UnsupportedModelError);
    await expect(FngdTrainer.create(tfl.model({ inputs: [a, b], outputs: out }), { loss: 'mse' })).rejects.toThrow(/free axis.*fixed per-sample shapes/);
  });

  it('a multi-input, single-output model: predict returns its one output', async () => {
    const a = tfl.input({ shape: [3], name: 'a' });
    const b = tfl.input({ shape: [2], name: 'b' });
    const out = tfl.layers.dense({ units: 2, activation: 'sigmoid', name: 'o' }).apply(tfl.layers.concatenate().apply([a, b]) as S) as S;
    const model = tfl.model({ inputs: [a, b], outputs: out });
    const tr = await FngdTrainer.create(model, { loss: 'sigmoid-cross-entropy' });
    const xs = [tf.randomNormal([4, 3], 0, 1, 'float32', 1), tf.randomNormal([4, 2], 0, 1, 'float32', 2)];
    const p = tr.predict(xs);
    const want = model.predict(xs) as Tensor;
    expect(relErr(Array.from(p.dataSync()), Array.from(want.dataSync()))).toBeLessThan(1e-5);
    const r = await tr.trainBatch(xs, tf.ones([4, 2]), { batchKey: 0 });
    expect(Number.isFinite(r.loss)).toBe(true);
    tf.dispose([p, want, ...xs]);
    tr.dispose();
  });
});
