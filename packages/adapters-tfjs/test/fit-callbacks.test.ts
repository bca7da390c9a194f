/**
 * `fit` as tfjs users know it: `tf.callbacks.earlyStopping()` ends the fit through `model.stopTraining`, a
 * `tf.CustomCallback` and a hook object (tfjs-vis's `fitCallbacks` form) get every hook in tfjs's order with tfjs's
 * log keys, arrays mix them, a FunctionModel's trainer hands callbacks a stand-in model that can stop it, the result
 * is a `tf.History`; malformed callbacks are refused naming the entry, before anything runs.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { FngdTrainer, InvalidOptionError, type FunctionModel } from '../src/index.js';
import { progressBar, verboseCallback } from '../src/verbose.js';
import { classData, mlp, useCpu } from './helpers.js';

beforeAll(useCpu);

describe('fit callbacks', () => {
  it('tf.callbacks.earlyStopping stops the fit (val_loss stops improving) and the History ends there', async () => {
    const [x, y] = classData(48, [6], 3, 3);
    const model = mlp(6, 8, 3, 2);
    // a learning rate this large makes the validation loss rise at once: patience 1 ends after two epochs
    const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy', optimizer: tf.train.sgd(40) });
    const h = await tr.fit(x, y, { epochs: 20, batchSize: 16, validationData: [x, y], callbacks: tfl.callbacks.earlyStopping({ monitor: 'val_loss', patience: 1 }) });
    expect(h).toBeInstanceOf(tfl.History);
    expect(h.epoch.length).toBeLessThan(20);
    expect(h.logs).toHaveLength(h.epoch.length);
    expect(tr.epoch).toBe(h.epoch.length);
    expect(h.history['val_loss']).toEqual(h.logs.map((l) => l.valLoss));
    expect(h.history['loss']).toEqual(h.logs.map((l) => l.trainLoss));
    tr.dispose();
    tf.dispose([x, y]);
  });

  it('a CustomCallback and a hook object get every hook, in order, with tfjs log keys', async () => {
    const [x, y] = classData(24, [6], 3, 4);
    const model = mlp(6, 5, 3, 3);
    const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy' });
    const seen: string[] = [];
    const custom = new tfl.CustomCallback({
      onTrainBegin: async () => void seen.push('trainBegin'),
      onEpochBegin: async (e) => void seen.push(`epochBegin ${e}`),
      onBatchBegin: async (b, logs) => void seen.push(`batchBegin ${b} size ${logs?.['size']}`),
      onBatchEnd: async (b, logs) => void seen.push(`batchEnd ${b} loss ${typeof logs?.['loss']}`),
      onEpochEnd: async (e, logs) => void seen.push(`epochEnd ${e} ${Object.keys(logs ?? {}).filter((k) => ['loss', 'val_loss', 'val_acc'].includes(k)).join(',')}`),
      onTrainEnd: async () => void seen.push('trainEnd'),
    });
    const yields: number[] = [];
    await tr.fit(x, y, { epochs: 2, batchSize: 12, validationData: [x, y], callbacks: [custom, { onYield: (_e, b) => void yields.push(b) }] });
    expect(seen).toEqual([
      'trainBegin',
      'epochBegin 0',
      'batchBegin 0 size 12',
      'batchEnd 0 loss number',
      'batchBegin 1 size 12',
      'batchEnd 1 loss number',
      'epochEnd 0 loss,val_loss,val_acc',
      'epochBegin 1',
      'batchBegin 0 size 12',
      'batchEnd 0 loss number',
      'batchBegin 1 size 12',
      'batchEnd 1 loss number',
      'epochEnd 1 loss,val_loss,val_acc',
      'trainEnd',
    ]);
    expect(yields).toEqual([0, 1, 0, 1]);
    tr.dispose();
    tf.dispose([x, y]);
  });

  it('setting stopTraining from a batch hook ends the fit after that batch (a FunctionModel trainer too)', async () => {
    const w = tf.variable(tf.randomNormal([6, 3], 0, 0.3, 'float32', 5));
    const fm: FunctionModel = { variables: [w], forward: (x, tap) => tap.dense(tf.matMul(x as tf.Tensor2D, w), x, { kernel: w }) };
    const tr = await FngdTrainer.create(fm, { loss: 'softmax-cross-entropy' });
    const [x, y] = classData(40, [6], 3, 6);
    let model: { stopTraining: boolean } | null = null;
    const stopper = new tfl.CustomCallback({
      onBatchEnd: async (b) => {
        if (b === 1 && model) model.stopTraining = true;
      },
    });
    const setModel = stopper.setModel.bind(stopper);
    stopper.setModel = (m) => {
      model = m as unknown as { stopTraining: boolean };
      setModel(m);
    };
    const h = await tr.fit(x, y, { epochs: 5, batchSize: 10, callbacks: stopper });
    expect(h.logs).toHaveLength(1);
    expect(tr.stats?.steps).toBe(2);
    expect(tr.epoch).toBe(1);
    tr.dispose();
    tf.dispose([x, y, w]);
  });

  it("a compiled model's own stopTraining, set by user code, ends the fit; the next fit starts afresh", async () => {
    const model = mlp(6, 5, 3, 8);
    model.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy' });
    const [x, y] = classData(20, [6], 3, 8);
    const h = await tr.fit(x, y, { epochs: 4, batchSize: 10, callbacks: { onEpochEnd: () => void (model.stopTraining = true) } });
    expect(h.logs).toHaveLength(1);
    const again = await tr.fit(x, y, { epochs: 2, batchSize: 10 });
    expect(again.logs).toHaveLength(2);
    tr.dispose();
    tf.dispose([x, y]);
  });

  it.each([
    ['a number', 5, 'callbacks'],
    ['an unknown hook', { onEpochEnds: () => {} }, 'callbacks.onEpochEnds'],
    ['a hook that is no function', { onEpochEnd: 'log' }, 'callbacks.onEpochEnd'],
    ['a bad array entry', [{ onEpochEnd: () => {} }, 'x'], 'callbacks[1]'],
  ])('%s is refused before anything runs (InvalidOptionError naming it)', async (_name, callbacks, key) => {
    const model = mlp(6, 5, 3, 7);
    const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy' });
    const [x, y] = classData(8, [6], 3, 7);
    const e = await tr.fit(x, y, { epochs: 1, callbacks: callbacks as never }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(InvalidOptionError);
    expect((e as InvalidOptionError).key).toBe(key);
    expect(tr.epoch).toBe(0);
    tr.dispose();
    tf.dispose([x, y]);
  });
});

describe('fit: what callbacks see', () => {
  it("the first batch's onBatchEnd already sees this fit's plan (adopted with the step)", async () => {
    const model = mlp(6, 5, 3, 9);
    const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy' });
    const [x, y] = classData(20, [6], 3, 9);
    await tr.fit(x, y, { epochs: 1, batchSize: 10, seed: 1 });
    const [x2] = classData(20, [6], 3, 10); // other samples: another plan
    let seen: string[] | null = null;
    const h = await tr.fit(x2, y, { epochs: 1, batchSize: 10, seed: 1, callbacks: { onBatchEnd: () => void (seen ??= tr.batchPlan!.batches.map((b) => b.key)) } });
    expect(h.logs).toHaveLength(1);
    expect(seen).toEqual(tr.batchPlan!.batches.map((b) => b.key));
    tr.dispose();
    tf.dispose([x, y, x2]);
  });
});

describe('validationSplit and verbose', () => {
  it('validationSplit holds out the last samples (as tfjs): the same as passing them as validationData; verbose prints one line per epoch', async () => {
    const [x, y] = classData(40, [6], 3, 11);
    const run = async (options: object): Promise<number[]> => {
      const tr = await FngdTrainer.create(mlp(6, 5, 3, 12), { loss: 'softmax-cross-entropy' });
      const h = await tr.fit(x, y, { epochs: 2, batchSize: 10, seed: 2, sampleIds: 'index', ...options });
      tr.dispose();
      return h.logs.flatMap((l) => [l.trainLoss, l.valLoss ?? NaN]);
    };
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((m: string) => void lines.push(m));
    const split = await run({ validationSplit: 0.25, verbose: 1 });
    log.mockRestore();
    const [xt, yt, xv, yv] = [tf.slice(x, [0], [30]), tf.slice(y, [0], [30]), tf.slice(x, [30], [10]), tf.slice(y, [30], [10])];
    const tr = await FngdTrainer.create(mlp(6, 5, 3, 12), { loss: 'softmax-cross-entropy' });
    const h = await tr.fit(xt, yt, { epochs: 2, batchSize: 10, seed: 2, sampleIds: 'index', validationData: [xv, yv] });
    expect(split).toEqual(h.logs.flatMap((l) => [l.trainLoss, l.valLoss ?? NaN]));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^Epoch 1\/2 - \d+\.\ds - loss=\d\.\d{4} - acc=\d\.\d{4} - val_loss=\d\.\d{4} - val_acc=/);
    const bad = await tr.fit(x, y, { epochs: 1, validationSplit: 0.25, validationData: [xv, yv] }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(InvalidOptionError);
    expect((bad as InvalidOptionError).key).toBe('validationSplit');
    await expect(tr.fit(x, y, { epochs: 1, validationSplit: 1.5 })).rejects.toThrow(InvalidOptionError);
    await expect(tr.fit(tf.slice(x, [0], [1]), tf.slice(y, [0], [1]), { epochs: 1, validationSplit: 0.5 })).rejects.toThrow(/leaves 0 to train on/);
    tr.dispose();
    tf.dispose([x, y, xt, yt, xv, yv]);
  });
});

describe('initialEpoch and the verbose progress bar', () => {
  it('initialEpoch numbers the epochs as tfjs does and runs epochs − initialEpoch of them; the trainer counts them as usual', async () => {
    const [x, y] = classData(20, [6], 3, 21);
    const tr = await FngdTrainer.create(mlp(6, 5, 3, 21), { loss: 'softmax-cross-entropy' });
    const seen: number[] = [];
    const h = await tr.fit(x, y, { epochs: 5, initialEpoch: 3, batchSize: 10, callbacks: { onEpochBegin: (e) => void seen.push(e) } });
    expect(seen).toEqual([3, 4]);
    expect(h.epoch).toEqual([3, 4]);
    expect(h.params['initialEpoch']).toBe(3);
    expect(h.params['epochs']).toBe(5);
    expect(tr.epoch).toBe(2);
    // nothing to run: epochs ≤ initialEpoch, as in tfjs
    const none = await tr.fit(x, y, { epochs: 2, initialEpoch: 2 });
    expect(none.epoch).toEqual([]);
    expect(tr.epoch).toBe(2);
    // without it, the trainer's own count numbers them
    const next = await tr.fit(x, y, { epochs: 1, batchSize: 10 });
    expect(next.epoch).toEqual([2]);
    for (const bad of [-1, 1.5, '1']) {
      const e = await tr.fit(x, y, { epochs: 3, initialEpoch: bad as number }).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(InvalidOptionError);
      expect((e as InvalidOptionError).key).toBe('initialEpoch');
    }
    expect(tr.epoch).toBe(3);
    tr.dispose();
    tf.dispose([x, y]);
  });

  it('verbose: 1 redraws a progress bar per batch on a terminal and ends each epoch with its line; verbose: 2 prints the lines alone', () => {
    const drawn: string[] = [];
    const lines: string[] = [];
    const sink = { redraw: (t: string) => void drawn.push(t), line: (t: string) => void lines.push(t) };
    const epochLogsAt = (e: number) => ({ epoch: e, seconds: 0.25, trainLoss: 0.5, freshBatches: 2, loss: 0.5 });
    const batch = (b: number, loss: number) => ({ loss, fresh: true, batches: 4, size: 8, batch: b });
    for (const level of [1, 2] as const) {
      const cb = verboseCallback(level, 3, sink);
      cb.onEpochBegin(1);
      cb.onBatchEnd(0, batch(0, 1));
      cb.onBatchEnd(1, batch(1, 0.5));
      cb.onEpochEnd(1, epochLogsAt(1));
    }
    expect(drawn).toEqual([`Epoch 2/3 [${'='.repeat(8)}${' '.repeat(22)}] 1/4 - loss=1.0000`, `Epoch 2/3 [${'='.repeat(15)}${' '.repeat(15)}] 2/4 - loss=0.7500`]);
    expect(lines).toEqual(['Epoch 2/3 - 0.3s - loss=0.5000 - fresh batches=2', 'Epoch 2/3 - 0.3s - loss=0.5000 - fresh batches=2']);
    expect(progressBar(0, 1, 3, 0, 0.1)).toBe('Epoch 1/1 3 batches - loss=0.1000');
  });
});

describe('training accuracy (tfjs\'s acc)', () => {
  it('a batch\'s acc is the top-1 accuracy of the forward pass before its step; the epoch\'s the mean by batch size', async () => {
    const [x, y] = classData(20, [6], 3, 31);
    for (const kind of ['fngd', 'kfac', 'adam'] as const) {
      const options = kind === 'fngd' ? {} : kind === 'kfac' ? { kfac: {} } : { optimizer: tf.train.adam(0.01) };
      const tr = await FngdTrainer.create(mlp(6, 5, 3, 32), { loss: 'softmax-cross-entropy', ...options });
      // one batch of all samples: its acc is evaluate's accuracy at the parameters before the step
      const before = await tr.evaluateAsync(x, y);
      const batches: { acc?: number; size: number }[] = [];
      const h1 = await tr.fit(x, y, { epochs: 1, batchSize: 20, callbacks: { onBatchEnd: (_b, l) => void batches.push({ ...(l.acc === undefined ? {} : { acc: l.acc }), size: l.size }) } });
      expect(batches[0]!.acc, kind).toBeCloseTo(before.accuracy!, 6);
      expect(h1.history['acc'], kind).toEqual([batches[0]!.acc]);
      // uneven batches: the epoch's acc weighs each batch by its size
      batches.length = 0;
      const h2 = await tr.fit(x, y, { epochs: 1, batchSize: 8, callbacks: { onBatchEnd: (_b, l) => void batches.push({ ...(l.acc === undefined ? {} : { acc: l.acc }), size: l.size }) } });
      expect(batches.map((b) => b.size).sort()).toEqual([4, 8, 8]);
      for (const b of batches) expect(b.acc! * b.size, kind).toBeCloseTo(Math.round(b.acc! * b.size), 6); // a count of correct samples
      const mean = batches.reduce((t, b) => t + b.acc! * b.size, 0) / 20;
      expect(h2.logs[0]!.trainAccuracy, kind).toBeCloseTo(mean, 12);
      expect(h2.history['acc']![0], kind).toBeCloseTo(mean, 12);
      expect(h2.params['metrics']).toEqual(['loss', 'acc']);
      // trainBatch does not measure it
      const r = await tr.trainBatch(x, y, { batchKey: 'all' });
      expect(r.accuracy).toBeUndefined();
      tr.dispose();
    }
    tf.dispose([x, y]);
  });

  it('sample weights leave acc unweighted; an MSE loss has none', async () => {
    const [x, y] = classData(12, [6], 3, 33);
    const accs = async (opts: object) => {
      const tr = await FngdTrainer.create(mlp(6, 5, 3, 34), { loss: 'softmax-cross-entropy' });
      const h = await tr.fit(x, y, { epochs: 1, batchSize: 12, ...opts });
      tr.dispose();
      return h.history['acc'];
    };
    const w = tf.tensor1d(Array.from({ length: 12 }, (_, i) => (i % 2 ? 3 : 0.5)));
    expect(await accs({ sampleWeight: w })).toEqual(await accs({}));
    w.dispose();
    const reg = await FngdTrainer.create(mlp(6, 5, 3, 35), { loss: 'mse' });
    const h = await reg.fit(x, y, { epochs: 1, batchSize: 6 });
    expect(h.history['acc']).toBeUndefined();
    expect(h.logs[0]!.trainAccuracy).toBeUndefined();
    reg.dispose();
    tf.dispose([x, y]);
  });
});

describe('callbacks and the call queue', () => {
  it('a callback that awaits a trainBatch on its own trainer runs it at once (no deadlock), before the fit goes on', async () => {
    const model = mlp(6, 5, 3, 15);
    const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy' });
    const [x, y] = classData(16, [6], 3, 15);
    const order: string[] = [];
    await tr.fit(x, y, {
      epochs: 2,
      batchSize: 8,
      callbacks: {
        onEpochEnd: async (e) => {
          const r = await tr.trainBatch(x, y, { batchKey: `extra-${e}` });
          order.push(`extra ${e} ${Number.isFinite(r.loss)}`);
        },
        onEpochBegin: (e) => void order.push(`epoch ${e}`),
      },
    });
    expect(order).toEqual(['epoch 0', 'extra 0 true', 'epoch 1', 'extra 1 true']);
    expect(tr.stats?.steps).toBe(2 * 2 + 2);
    tr.dispose();
    tf.dispose([x, y]);
  });
});
