/**
 * `fitDataset` on a stream of batches (a `tf.data.Dataset`'s shape): batch keys from the batch's sample ids (given,
 * or a content fingerprint), so a dataset that yields the same batches every epoch reuses their coefficients and a
 * reshuffled one computes them fresh, with the cache bounded to one epoch's batches; `batchesPerEpoch`, validation,
 * callbacks (earlyStopping) and the `tf.History` as `fit`'s; every batch tensor disposed; malformed elements refused.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { FngdTrainer, InvalidOptionError, type DatasetLike } from '../src/index.js';
import { classData, mlp, useCpu } from './helpers.js';

beforeAll(useCpu);

/** A dataset over `x`, `y` in batches of `size`; `order(epoch)` permutes the samples each epoch (default: fixed). */
function dataset(x: tf.Tensor, y: tf.Tensor, size: number, o: { order?: (epoch: number) => number[]; ids?: boolean; badIds?: boolean; shape?: 'pair' | 'bad' } = {}): DatasetLike {
  let epoch = 0;
  const n = x.shape[0] as number;
  return {
    async iterator() {
      const order = o.order?.(epoch) ?? Array.from({ length: n }, (_, i) => i);
      epoch++;
      let at = 0;
      return {
        async next() {
          if (at >= n) return { value: undefined, done: true };
          const rows = order.slice(at, at + size);
          at += size;
          const idx = tf.tensor1d(rows, 'int32');
          const xs = tf.gather(x, idx);
          const ys = tf.gather(y, idx);
          idx.dispose();
          if (o.shape === 'bad') {
            tf.dispose([xs, ys]);
            return { value: { inputs: 1 }, done: false };
          }
          const ids = o.badIds ? ['same'] : rows.map((r) => `s${r}`);
          return { value: o.shape === 'pair' ? [xs, ys] : { xs, ys, ...(o.ids ? { ids } : {}) }, done: false };
        },
      };
    },
  };
}

describe('fitDataset', () => {
  it('the same batches every epoch reuse their coefficients (content keys and given ids alike); no tensor leaks', async () => {
    const [x, y] = classData(24, [6], 3, 2);
    for (const o of [{}, { ids: true }, { shape: 'pair' as const }]) {
      const tr = await FngdTrainer.create(mlp(6, 5, 3, 3), { loss: 'softmax-cross-entropy', fngd: { refresh: 'first-epoch' } });
      await tr.fitDataset(dataset(x, y, 8, o), { epochs: 1 });
      const count = tf.memory().numTensors;
      const h = await tr.fitDataset(dataset(x, y, 8, o), { epochs: 2, validationData: [x, y] });
      expect(tf.memory().numTensors).toBe(count);
      expect(h).toBeInstanceOf(tfl.History);
      expect(h.logs.map((l) => l.freshBatches)).toEqual([0, 0]);
      expect(h.history['val_loss']).toHaveLength(2);
      expect(h.history['acc']).toHaveLength(2); // the training accuracy, as fit logs it
      expect(h.params['metrics']).toEqual(['loss', 'acc', 'val_loss', 'val_acc']);
      expect(tr.stats?.cachedBatches).toBe(3);
      expect(tr.epoch).toBe(3);
      tr.dispose();
    }
    tf.dispose([x, y]);
  });

  it('initialEpoch numbers the epochs from it and runs epochs − initialEpoch (tfjs); verbose prints a line per epoch', async () => {
    const [x, y] = classData(16, [6], 3, 6);
    const tr = await FngdTrainer.create(mlp(6, 5, 3, 6), { loss: 'softmax-cross-entropy' });
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((m: string) => void lines.push(m));
    const h = await tr.fitDataset(dataset(x, y, 8), { epochs: 4, initialEpoch: 2, verbose: 2 });
    log.mockRestore();
    expect(h.epoch).toEqual([2, 3]);
    expect(lines.map((l) => l.slice(0, 9))).toEqual(['Epoch 3/4', 'Epoch 4/4']);
    expect(tr.epoch).toBe(2);
    const bad = await tr.fitDataset(dataset(x, y, 8), { epochs: 4, initialEpoch: -2 }).catch((e: unknown) => e);
    expect((bad as InvalidOptionError).key).toBe('initialEpoch');
    expect(tr.epoch).toBe(2);
    tr.dispose();
    tf.dispose([x, y]);
  });

  it('a reshuffled stream computes every batch fresh, and the cache keeps one epoch; batchesPerEpoch bounds an epoch', async () => {
    const [x, y] = classData(24, [6], 3, 4);
    const shuffle = (e: number) => Array.from({ length: 24 }, (_, i) => (i * 5 + e * 7) % 24);
    const tr = await FngdTrainer.create(mlp(6, 5, 3, 5), { loss: 'softmax-cross-entropy', fngd: { refresh: 'first-epoch' } });
    const h = await tr.fitDataset(dataset(x, y, 8, { order: shuffle }), { epochs: 3 });
    expect(h.logs.map((l) => l.freshBatches)).toEqual([3, 3, 3]);
    expect(tr.stats?.cachedBatches).toBe(3);
    expect(tr.stats?.evictedBatches).toBe(6);
    // batchesPerEpoch: one iterator through the epochs (as tfjs); a stream that runs out stops the training
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const short = await tr.fitDataset(dataset(x, y, 8), { epochs: 3, batchesPerEpoch: 2 });
    expect(tr.stats?.steps).toBe(9 + 3);
    expect(short.logs).toHaveLength(2);
    expect(warn).toHaveBeenCalledTimes(1);
    warn.mockRestore();
    tr.dispose();
    tf.dispose([x, y]);
  });

  it('earlyStopping stops it; malformed elements and options are refused naming what to do', async () => {
    const [x, y] = classData(24, [6], 3, 6);
    const tr = await FngdTrainer.create(mlp(6, 5, 3, 7), { loss: 'softmax-cross-entropy', optimizer: tf.train.sgd(40) });
    const h = await tr.fitDataset(dataset(x, y, 8), { epochs: 20, validationData: [x, y], callbacks: tfl.callbacks.earlyStopping({ patience: 1 }) });
    expect(h.logs.length).toBeLessThan(20);
    for (const [ds, options, key] of [
      [dataset(x, y, 8, { shape: 'bad' }), { epochs: 1 }, 'dataset'],
      [{ next: () => null }, { epochs: 1 }, 'dataset'],
      [dataset(x, y, 8), { epochs: 0 }, 'epochs'],
      [dataset(x, y, 8), { epochs: 1, batchSize: 4 }, 'batchSize'],
      [dataset(x, y, 8, { ids: true, badIds: true }), { epochs: 1 }, 'dataset'],
      [{ iterator: async () => ({ next: async () => ({ value: undefined, done: true }) }) }, { epochs: 1 }, 'dataset'],
    ] as const) {
      const e = await tr.fitDataset(ds as DatasetLike, options as never).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(InvalidOptionError);
      expect((e as InvalidOptionError).key).toBe(key);
    }
    tr.dispose();
    tf.dispose([x, y]);
  });

  it('malformed elements and ids leak no tensors; validationData is checked before any step', async () => {
    const [x, y] = classData(16, [6], 3, 8);
    const tr = await FngdTrainer.create(mlp(6, 5, 3, 9), { loss: 'softmax-cross-entropy' });
    const count = tf.memory().numTensors;
    await expect(tr.fitDataset(dataset(x, y, 8, { ids: true, badIds: true }), { epochs: 1 })).rejects.toThrow(/2 unique ids|8 unique ids/);
    expect(tf.memory().numTensors).toBe(count);
    const badY = tf.zeros([16, 4]);
    await expect(tr.fitDataset(dataset(x, y, 8), { epochs: 1, validationData: [x, badY] })).rejects.toThrow(/validationData/);
    expect(tr.stats?.steps ?? 0).toBe(0);
    tr.dispose();
    tf.dispose([x, y, badY]);
  });
});
