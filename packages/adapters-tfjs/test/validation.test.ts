/** Options checked at creation; targets checked against the model output and the loss; class indices. */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tfl from '@tensorflow/tfjs-layers';
import { AdapterArgumentError, FngdTrainer, InvalidOptionError, TargetError, type FngdTrainerOptions, type FunctionModel } from '../src/index.js';
import { classData, flatParams, mlp, useCpu, variablesOf } from './helpers.js';
import { KINDS, optionsOf } from './twin.js';

beforeAll(useCpu);

describe('trainer options', () => {
  it.each([
    ['an unknown key', { loss: 'mse', fngdd: { learningRate: 0.1 } }, 'fngdd'],
    ['an unknown loss name', { loss: 'cross-entropy' }, 'loss'],
    ['fngd and kfac', { loss: 'mse', fngd: {}, kfac: {} }, 'kfac'],
    ['fngd and optimizer', { loss: 'mse', fngd: {}, optimizer: tf.train.sgd(0.1) }, 'optimizer'],
    ['fngd not an object', { loss: 'mse', fngd: 0.1 }, 'fngd'],
    ['optimizer neither a registered optimizer nor a tf.Optimizer', { loss: 'mse', optimizer: 42 }, 'optimizer'],
    ['optimizer of an unknown kind', { loss: 'mse', optimizer: 'adams' }, 'optimizer'],
    ['device not a LinalgDevice', { loss: 'mse', device: {} }, 'device'],
  ])('%s → InvalidOptionError naming the key and the value; nothing is created', async (_n, options, key) => {
    const model = mlp();
    const tensors = tf.memory().numTensors;
    const err = await FngdTrainer.create(model, options as unknown as FngdTrainerOptions).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as InvalidOptionError).key).toBe(key);
    expect((err as InvalidOptionError).value).toBe((options as Record<string, unknown>)[key]);
    expect((err as Error).message).toContain(`'${key}'`);
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('fit options: unknown keys and wrong types are refused before anything runs', async () => {
    const model = mlp();
    const [x, y] = classData(8, [6], 3);
    const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy' });
    const before = flatParams(variablesOf(model));
    await expect(tr.fit(x, y, { epochs: 1, batchsize: 4 } as never)).rejects.toMatchObject({ key: 'batchsize' });
    await expect(tr.fit(x, y, { epochs: 1, callbacks: { onEpochEnds: () => {} } } as never)).rejects.toMatchObject({ key: 'callbacks.onEpochEnds' });
    expect(flatParams(variablesOf(model))).toEqual(before);
    expect(tr.batchPlan).toBeNull();
    tr.dispose();
    tf.dispose([x, y]);
  });
});

describe.each(KINDS)('targets (%s)', (kind) => {
  const bad: [string, (n: number) => tf.Tensor, RegExp][] = [
    ['[n,1] for an [n,3] output', (n) => tf.ones([n, 1]), /float32\[8,1\] do not fit the model output float32\[8,3\]/],
    ['[n] float', (n) => tf.zeros([n]), /float32\[8\]/],
    ["[n,C'] with C' ≠ C", (n) => tf.ones([n, 4]), /float32\[8,4\]/],
    ['n mismatch', () => tf.ones([7, 3]), /the inputs have 8 samples, the targets 7/],
    ['wrong rank', (n) => tf.ones([n, 3, 1]), /float32\[8,3,1\]/],
    ['NaN targets', (n) => tf.tidy(() => tf.mul(tf.ones([n, 3]), tf.scalar(NaN))), /NaN or ±Infinity/],
    ['class index out of range', (n) => tf.tensor1d(Array.from({ length: n }, (_, i) => (i === 5 ? 3 : 0)), 'int32'), /class index 3 of sample 5 is outside \[0, 3\)/],
    ['negative class index', (n) => tf.tensor1d(Array.from({ length: n }, (_, i) => (i === 2 ? -1 : 0)), 'int32'), /class index -1/],
    ['int32 [n,1] indices', (n) => tf.zeros([n, 1], 'int32'), /int32 targets are class indices and must be \[8\]/],
  ];
  it.each(bad)('%s → TargetError naming both shapes and dtypes (trainBatch, fit, evaluate); nothing changes', async (_name, make, message) => {
    const model = mlp(6, 5, 3, 3);
    const [x, y] = classData(8, [6], 3);
    const tr = await FngdTrainer.create(model, optionsOf(kind, 'softmax-cross-entropy'));
    const yb = make(8);
    const before = flatParams(variablesOf(model));
    const tensors = tf.memory().numTensors;
    const e1 = await tr.trainBatch(x, yb, { batchKey: 0, epoch: 0 }).then(() => null, (e: unknown) => e);
    expect(e1).toBeInstanceOf(TargetError);
    expect((e1 as Error).message).toMatch(message);
    expect((e1 as TargetError).output!.shape).toEqual([8, 3]);
    expect((e1 as TargetError).targets!.shape).toEqual(yb.shape);
    await expect(tr.fit(x, yb, { epochs: 1, batchSize: 4 })).rejects.toBeInstanceOf(TargetError);
    expect(() => tr.evaluate(x, yb)).toThrow(TargetError);
    await expect(tr.evaluateAsync(x, yb)).rejects.toBeInstanceOf(TargetError);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(flatParams(variablesOf(model))).toEqual(before);
    expect(tr.batchPlan).toBeNull();
    expect(tr.stats?.steps ?? tr.kfacStats?.steps ?? 0).toBe(0);
    // and y works
    await tr.trainBatch(x, y, { batchKey: 0, epoch: 0 });
    tr.dispose();
    tf.dispose([x, y, yb]);
  });

  it('int32 class indices [n] train, fit and evaluate exactly like one-hot targets', async () => {
    const [x, y] = classData(12, [6], 3);
    const idx = tf.tidy(() => tf.cast(tf.argMax(y, 1), 'int32'));
    const ma = mlp(6, 5, 3, 4);
    const mb = mlp(6, 5, 3, 4);
    const a = await FngdTrainer.create(ma, optionsOf(kind, 'softmax-cross-entropy'));
    const b = await FngdTrainer.create(mb, optionsOf(kind, 'softmax-cross-entropy'));
    const tensors = tf.memory().numTensors;
    const ra = await a.trainBatch(x, idx, { batchKey: 'k', epoch: 0 });
    const rb = await b.trainBatch(x, y, { batchKey: 'k', epoch: 0 });
    expect(ra).toEqual(rb);
    const ha = (await a.fit(x, idx, { epochs: 2, batchSize: 5, sampleIds: 'index', validationData: [x, idx] })).logs;
    const hb = (await b.fit(x, y, { epochs: 2, batchSize: 5, sampleIds: 'index', validationData: [x, y] })).logs;
    expect(ha.map((h) => ({ ...h, seconds: 0 }))).toEqual(hb.map((h) => ({ ...h, seconds: 0 })));
    expect(flatParams(variablesOf(ma))).toEqual(flatParams(variablesOf(mb)));
    expect(a.evaluate(x, idx)).toEqual(b.evaluate(x, y));
    expect(await a.evaluateAsync(x, idx)).toEqual(await b.evaluateAsync(x, y));
    if (kind === 'fngd' || kind === 'fngd-layerwise') expect(tf.memory().numTensors).toBe(tensors); // flat (KFAC/Adam create state on their first steps)
    a.dispose();
    b.dispose();
    tf.dispose([x, y, idx]);
  });
});

describe('targets for the other losses', () => {
  it("mse and sigmoid cross-entropy take float32 targets shaped like the output only; int32 is refused", async () => {
    for (const loss of ['mse', 'sigmoid-cross-entropy'] as const) {
      const tr = await FngdTrainer.create(mlp(6, 5, 3, 3), { loss });
      const [x] = classData(8, [6], 3);
      for (const yb of [tf.ones([8, 1]), tf.ones([8]), tf.zeros([8], 'int32'), tf.zeros([8, 3], 'int32')]) {
        await expect(tr.trainBatch(x, yb, { batchKey: 0 })).rejects.toBeInstanceOf(TargetError);
        yb.dispose();
      }
      tr.dispose();
      x.dispose();
    }
  });

  it('a custom loss gets its targets as given (only the sample count is checked); a wrong ℓ shape is refused', async () => {
    const model = mlp(6, 5, 3, 3);
    const [x, y] = classData(8, [6], 3);
    const tr = await FngdTrainer.create(model, { loss: (o, t) => tf.sum(tf.square(tf.sub(o, t)), 1) as tf.Tensor1D });
    await expect(tr.trainBatch(x, tf.ones([7, 3]), { batchKey: 0 })).rejects.toBeInstanceOf(TargetError);
    await tr.trainBatch(x, y, { batchKey: 0 });
    const wrong = await FngdTrainer.create(mlp(6, 5, 3, 3), { loss: (o, t) => tf.sum(tf.square(tf.sub(o, t)), 1, true) as unknown as tf.Tensor1D });
    const tensors = tf.memory().numTensors;
    await expect(wrong.trainBatch(x, y, { batchKey: 0 })).rejects.toThrow(/must return per-sample losses \[8\], got \[8,1\]/);
    expect(tf.memory().numTensors).toBe(tensors);
    tr.dispose();
    wrong.dispose();
    tf.dispose([x, y]);
  });
});

describe('inputs are checked like targets', () => {
  it('x of the wrong width for a LayersModel: a typed error naming the input, from every entry point; nothing changes', async () => {
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 3, inputShape: [6], name: 'd' })] });
    const tr = await FngdTrainer.create(model, { loss: 'mse' });
    const before = model.getWeights().map((t) => Array.from(t.dataSync()));
    const count = tf.memory().numTensors;
    const x = tf.ones([4, 7]);
    const y = tf.zeros([4, 3]);
    const made = tf.memory().numTensors - count;
    const msg = /input '.*' must be \[\?, 6\], got \[4,7\]/;
    await expect(tr.trainBatch(x, y, { batchKey: 0 })).rejects.toThrow(AdapterArgumentError);
    await expect(tr.trainBatch(x, y, { batchKey: 0 })).rejects.toThrow(msg);
    await expect(tr.fit(x, y, { epochs: 1 })).rejects.toThrow(msg);
    expect(() => tr.evaluate(x, y)).toThrow(msg);
    await expect(tr.evaluateAsync(x, y)).rejects.toThrow(msg);
    expect(() => tr.predict(x)).toThrow(msg);
    expect(() => tr.predict([x] as never)).toThrow(/x must be a tf.Tensor/);
    expect(model.getWeights().map((t) => Array.from(t.dataSync()))).toEqual(before);
    expect(tf.memory().numTensors).toBe(count + made);
    expect(tr.epoch).toBe(0);
    tr.dispose();
    tf.dispose([x, y]);
  });

  it("a FunctionModel whose forward fails on the inputs: a typed error naming them, not tfjs's raw one", async () => {
    const w = tf.variable(tf.zeros([6, 3]));
    const fm: FunctionModel = { variables: [w], forward: (x, tap) => tap.dense(tf.matMul(x as tf.Tensor2D, w), x, { kernel: w }) };
    const tr = await FngdTrainer.create(fm, { loss: 'mse' });
    const x = tf.ones([4, 7]);
    const y = tf.zeros([4, 3]);
    await expect(tr.trainBatch(x, y, { batchKey: 0 })).rejects.toThrow(AdapterArgumentError);
    await expect(tr.trainBatch(x, y, { batchKey: 0 })).rejects.toThrow(/forward pass failed on inputs float32\[4,7\]/);
    expect(Array.from(w.dataSync()).every((v) => v === 0)).toBe(true);
    tr.dispose();
    tf.dispose([x, y, w]);
  });
});

describe('trainBatch options', () => {
  it('a misspelt key, a missing batchKey and a bad epoch are InvalidOptionErrors naming the key; nothing changes', async () => {
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 3, inputShape: [6], name: 'd' })] });
    const tr = await FngdTrainer.create(model, { loss: 'mse' });
    const before = model.getWeights().map((t) => Array.from(t.dataSync()));
    const x = tf.ones([4, 6]);
    const y = tf.zeros([4, 3]);
    for (const [options, key] of [
      [{ batchkey: 0 }, 'batchkey'],
      [{ epoch: 1 }, 'batchKey'],
      [{ batchKey: 0, epoch: -1 }, 'epoch'],
      [{ batchKey: 0, epoch: 1.5 }, 'epoch'],
    ] as const) {
      const e = await tr.trainBatch(x, y, options as never).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(InvalidOptionError);
      expect((e as InvalidOptionError).key).toBe(key);
    }
    expect(model.getWeights().map((t) => Array.from(t.dataSync()))).toEqual(before);
    tr.dispose();
    tf.dispose([x, y]);
  });
});
