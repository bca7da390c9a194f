/** Training calls are queued: un-awaited calls equal awaited ones in call order; dispose rejects queued calls. */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdapterArgumentError, DisposedError, FngdTrainer, softmaxCrossEntropy } from '../src/index.js';
import { classData, flatParams, mlp, useCpu, variablesOf } from './helpers.js';
import { KINDS, optionsOf } from './twin.js';

beforeAll(useCpu);

describe.each(KINDS)('%s', (kind) => {
  it('two un-awaited trainBatch calls and a fit give what awaiting them in call order gives', async () => {
    const [x, y] = classData(12, [6], 3, 4);
    const [x2, y2] = classData(12, [6], 3, 9);
    const ma = mlp(6, 5, 3, 8);
    const mb = mlp(6, 5, 3, 8);
    const a = await FngdTrainer.create(ma, optionsOf(kind, 'softmax-cross-entropy'));
    const b = await FngdTrainer.create(mb, optionsOf(kind, 'softmax-cross-entropy'));
    const ra = await Promise.all([
      a.trainBatch(x, y, { batchKey: 'p', epoch: 0 }),
      a.trainBatch(x2, y2, { batchKey: 'q', epoch: 0 }),
      a.fit(x, y, { epochs: 1, batchSize: 6 }),
      a.trainBatch(x2, y2, { batchKey: 'q', epoch: 1 }),
    ]);
    const rb = [
      await b.trainBatch(x, y, { batchKey: 'p', epoch: 0 }),
      await b.trainBatch(x2, y2, { batchKey: 'q', epoch: 0 }),
      await b.fit(x, y, { epochs: 1, batchSize: 6 }),
      await b.trainBatch(x2, y2, { batchKey: 'q', epoch: 1 }),
    ];
    expect(flatParams(variablesOf(ma))).toEqual(flatParams(variablesOf(mb)));
    expect(ra.map((r) => JSON.stringify(r, (k, v) => (k === 'seconds' ? 0 : v)))).toEqual(rb.map((r) => JSON.stringify(r, (k, v) => (k === 'seconds' ? 0 : v))));
    expect(JSON.stringify(a.stats ?? a.kfacStats)).toBe(JSON.stringify(b.stats ?? b.kfacStats));
    a.dispose();
    b.dispose();
    tf.dispose([x, y, x2, y2]);
  });
});

describe('dispose while calls are queued', () => {
  it('queued calls reject with DisposedError and change nothing; a running fit stops at its next step; then everything is released', async () => {
    const [x, y] = classData(12, [6], 3, 4);
    const model = mlp(6, 5, 3, 8);
    const tensors = tf.memory().numTensors;
    const tr = await FngdTrainer.create(model, { loss: (o, t) => softmaxCrossEntropy(o, t), fngd: { momentum: 0.9 } });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let paramsInCallback: number[] | null = null;
    const running = tr.fit(x, y, {
      epochs: 2,
      batchSize: 6,
      callbacks: {
        onBatchEnd: async () => {
          paramsInCallback ??= flatParams(variablesOf(model));
          await gate;
        },
      },
    });
    const queued = [tr.trainBatch(x, y, { batchKey: 1, epoch: 0 }), tr.fit(x, y, { epochs: 1, batchSize: 6 })];
    while (paramsInCallback === null) await new Promise((r) => setTimeout(r, 0));
    expect(() => tr.restoreState(new Uint8Array(0))).toThrow(AdapterArgumentError); // a training call is running
    tr.dispose();
    release();
    await expect(running).rejects.toBeInstanceOf(DisposedError);
    for (const q of queued) await expect(q).rejects.toBeInstanceOf(DisposedError);
    expect(flatParams(variablesOf(model))).toEqual(paramsInCallback);
    expect(tr.epoch).toBe(0);
    await new Promise((r) => setTimeout(r, 0));
    expect(tf.memory().numTensors).toBe(tensors); // optimizer state released once the running call settled
    await expect(tr.trainBatch(x, y, { batchKey: 0 })).rejects.toBeInstanceOf(DisposedError);
    expect(() => tr.evaluate(x, y)).toThrow(DisposedError);
    tf.dispose([x, y]);
  });

  it('calls queued before the first started all reject when disposed at once', async () => {
    const [x, y] = classData(12, [6], 3, 4);
    const model = mlp(6, 5, 3, 8);
    const before = flatParams(variablesOf(model));
    const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy' });
    const calls = [tr.trainBatch(x, y, { batchKey: 0 }), tr.trainBatch(x, y, { batchKey: 1 })];
    tr.dispose();
    for (const c of calls) await expect(c).rejects.toBeInstanceOf(DisposedError);
    expect(flatParams(variablesOf(model))).toEqual(before);
    tf.dispose([x, y]);
  });
});
