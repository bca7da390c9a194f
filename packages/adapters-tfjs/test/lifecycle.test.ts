import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { FngdTrainer, type TrainerFngdOptions } from '../src/index.js';
import { classData, cnn, flatParams, mlp, useCpu, variablesOf } from './helpers.js';

beforeAll(useCpu);

describe('no tensor leaks', () => {
  const cases: [string, TrainerFngdOptions, boolean][] = [
    ['global first-epoch + momentum, MLP', { learningRate: 0.1, damping: 1, momentum: 0.9 }, false],
    ['layer-wise drift + weight decay, CNN', { learningRate: 0.05, damping: 1, mode: 'layerwise', refresh: { drift: { probeEvery: 3 } }, momentum: { decay: 0.9, nesterov: true }, weightDecay: 1e-4 }, true],
    ['global always, MLP', { learningRate: 0.1, damping: 1, refresh: 'always' }, false],
  ];
  for (const [name, fngd, conv] of cases) {
    it(`tf.memory().numTensors is flat over 100 steps (${name})`, async () => {
      const model = conv ? cnn(2) : mlp(6, 8, 3, 5);
      const [x, y] = conv ? classData(40, [6, 6, 2], 3) : classData(40, [6], 3);
      const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy', fngd });
      await tr.fit(x, y, { epochs: 1, batchSize: 8, seed: 3 }); // warm-up: caches and optimizer state exist
      const start = tf.memory().numTensors;
      await tr.fit(x, y, { epochs: 20, batchSize: 8, seed: 3 }); // 100 steps
      expect(tf.memory().numTensors).toBe(start);
      expect(tr.stats?.steps).toBe(105);
      tr.evaluate(x, y);
      expect(tf.memory().numTensors).toBe(start);
      tr.dispose();
      tf.dispose([x, y]);
    });
  }

  it('the tfjs-optimizer baseline runs in the same loop without leaks', async () => {
    const model = mlp(6, 8, 3, 5);
    const [x, y] = classData(40, [6], 3);
    const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy', optimizer: tf.train.adam(0.01) });
    await tr.fit(x, y, { epochs: 1, batchSize: 8 });
    const start = tf.memory().numTensors;
    const h = (await tr.fit(x, y, { epochs: 20, batchSize: 8 })).logs;
    expect(tf.memory().numTensors).toBe(start);
    expect((h.at(-1)?.trainLoss ?? Infinity) < (h[0]?.trainLoss ?? 0)).toBe(true);
    tf.dispose([x, y]);
  });
});

describe('fit and checkpoints', () => {
  it('fixed partition, seeded order: two identical runs give identical parameters', async () => {
    const run = async (): Promise<number[]> => {
      const model = mlp(6, 8, 3, 9);
      const [x, y] = classData(50, [6], 3);
      const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy', fngd: { learningRate: 0.1, damping: 1, momentum: 0.9 } });
      const h = (await tr.fit(x, y, { epochs: 3, batchSize: 16, seed: 4, validationData: [x, y] })).logs;
      expect(h.map((e) => e.freshBatches)).toEqual([4, 0, 0]);
      expect(h[2]?.valAccuracy).toBeGreaterThan(0);
      const p = flatParams(variablesOf(model));
      tr.dispose();
      tf.dispose([x, y]);
      return p;
    };
    expect(await run()).toEqual(await run());
  });

  it('optimizer state travels with model.save; restoring and continuing equals never stopping (bit-identical)', async () => {
    const fngd: TrainerFngdOptions = { learningRate: 0.1, damping: 1, momentum: 0.9, refresh: 'drift' };
    const [x, y] = classData(48, [6], 3);
    // never stopping
    const a = mlp(6, 8, 3, 12);
    const ta = await FngdTrainer.create(a, { loss: 'softmax-cross-entropy', fngd });
    await ta.fit(x, y, { epochs: 4, batchSize: 16, seed: 2 });
    const want = flatParams(variablesOf(a));
    // stop after 2 epochs, save, load into a fresh model, restore, continue
    const b = mlp(6, 8, 3, 12);
    const tb = await FngdTrainer.create(b, { loss: 'softmax-cross-entropy', fngd });
    await tb.fit(x, y, { epochs: 2, batchSize: 16, seed: 2 });
    let saved: tf.io.ModelArtifacts | null = null;
    await tb.save(tf.io.withSaveHandler(async (art) => {
      saved = art;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    tb.dispose();
    const c = await tfl.loadLayersModel(tf.io.fromMemory(saved as unknown as tf.io.ModelArtifacts));
    const tc = await FngdTrainer.create(c, { loss: 'softmax-cross-entropy', fngd });
    tc.restore();
    expect(tc.epoch).toBe(2);
    expect(tc.stats?.cachedBatches).toBe(3);
    await tc.fit(x, y, { epochs: 2, batchSize: 16, seed: 2 });
    expect(flatParams(variablesOf(c))).toEqual(want);
    ta.dispose();
    tc.dispose();
    tf.dispose([x, y]);
  });

  it('a checkpoint of a transposed architecture (6→4→6 into 4→6→4, same names and sizes) is refused, nothing changes', async () => {
    const net = (a: number, b: number) =>
      tfl.sequential({ layers: [tfl.layers.dense({ units: b, inputShape: [a], useBias: false, name: 'first' }), tfl.layers.dense({ units: a, useBias: false, name: 'second' })] });
    for (const options of [{ fngd: { learningRate: 0.1, damping: 1, momentum: 0.9 } }, { kfac: { learningRate: 0.1 } }]) {
      const ta = await FngdTrainer.create(net(6, 4), { loss: 'mse', ...options });
      await ta.trainBatch(tf.ones([4, 6]), tf.zeros([4, 6]), { batchKey: 0 });
      const bytes = ta.serializeState();
      const tb = await FngdTrainer.create(net(4, 6), { loss: 'mse', ...options });
      await tb.trainBatch(tf.ones([4, 4]), tf.zeros([4, 4]), { batchKey: 0 });
      const before = tb.serializeState();
      expect(() => tb.restoreState(bytes)).toThrow(/another model: \{first\/kernel:\[6,4\], second\/kernel:\[4,6\]\} vs \{first\/kernel:\[4,6\], second\/kernel:\[6,4\]\}/);
      expect(tb.serializeState()).toEqual(before);
      ta.dispose();
      tb.dispose();
    }
  });

  it('restore without saved state is a typed error', async () => {
    const model = mlp();
    const tr = await FngdTrainer.create(model, { loss: 'mse', fngd: { learningRate: 0.1, damping: 1 } });
    expect(() => tr.restore()).toThrow(/no ifngd optimizer state/);
    tr.dispose();
  });
});
