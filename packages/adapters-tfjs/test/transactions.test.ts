/**
 * Every step is a transaction: a call that throws (bad targets, a non-finite loss, a failing custom loss)
 * leaves the variables, the optimizer state and counters, the trainer's epoch and plan, and
 * `tf.memory().numTensors` exactly as an undisturbed twin's; both then continue identically.
 */
import * as tf from '@tensorflow/tfjs-core';
import { NonFiniteError } from 'ifngd';
import { beforeAll, describe, expect, it } from 'vitest';
import { softmaxCrossEntropy, TargetError } from '../src/index.js';
import { useCpu } from './helpers.js';
import { KINDS, snapshot, switchableLoss, twins, twinView } from './twin.js';

beforeAll(useCpu);

type Failure = 'targets [n,1]' | "targets [n,C']" | 'class index out of range' | 'NaN in x (cached batch)' | 'NaN in x (new batch)' | 'failing custom loss';
const FAILURES: readonly Failure[] = ['targets [n,1]', "targets [n,C']", 'class index out of range', 'NaN in x (cached batch)', 'NaN in x (new batch)', 'failing custom loss'];

describe.each(KINDS)('%s: a failing trainBatch changes nothing', (kind) => {
  it.each(FAILURES)('%s', async (failure) => {
    const sw = switchableLoss(softmaxCrossEntropy);
    const { a, b, x, y, dispose } = await twins(kind, failure === 'failing custom loss' ? sw.loss : 'softmax-cross-entropy');
    const n = x.shape[0] as number;
    const [bx, by] = tf.tidy(() => {
      switch (failure) {
        case 'targets [n,1]':
          return [tf.clone(x), tf.ones([n, 1])];
        case "targets [n,C']":
          return [tf.clone(x), tf.ones([n, 4])];
        case 'class index out of range':
          return [tf.clone(x), tf.tensor1d(Array.from({ length: n }, (_, i) => (i === 3 ? 3 : i % 3)), 'int32')];
        case 'failing custom loss':
          return [tf.clone(x), tf.clone(y)];
        default: {
          const mask = tf.reshape(tf.oneHot(tf.tensor1d([2], 'int32'), n), [n, 1]);
          return [tf.add(x, tf.mul(mask, tf.scalar(NaN))), tf.clone(y)];
        }
      }
    });
    const key = failure === 'NaN in x (new batch)' ? 'new' : 'k';
    const want = await snapshot(a);
    expect(await twinView(a)).toEqual(await twinView(b));
    const tensors = tf.memory().numTensors;
    sw.set(true);
    const err = await a.trainBatch(bx, by, { batchKey: key, epoch: 1 }).then(() => null, (e: unknown) => e);
    sw.set(false);
    expect(err).toBeInstanceOf(failure.startsWith('NaN') ? NonFiniteError : failure === 'failing custom loss' ? Error : TargetError);
    if (failure === 'failing custom loss') expect((err as Error).message).toBe('custom loss failed');
    expect(tf.memory().numTensors).toBe(tensors);
    expect(await snapshot(a)).toEqual(want);
    // both continue identically
    await a.trainBatch(x, y, { batchKey: 'k', epoch: 1 });
    await b.trainBatch(x, y, { batchKey: 'k', epoch: 1 });
    expect(await twinView(a)).toEqual(await twinView(b));
    tf.dispose([bx, by]);
    dispose();
  });

  it('fit with bad targets, or a first step that fails: epoch, plan and everything else as before', async () => {
    const { a, x, y, dispose } = await twins(kind, 'softmax-cross-entropy');
    const want = await snapshot(a);
    const tensors = tf.memory().numTensors;
    const bad = tf.ones([x.shape[0] as number, 1]);
    await expect(a.fit(x, bad, { epochs: 2, batchSize: 5, seed: 9 })).rejects.toBeInstanceOf(TargetError);
    await expect(a.fit(x, y, { epochs: 2, batchSize: 5, seed: 9, validationData: [x, bad] })).rejects.toBeInstanceOf(TargetError);
    const nanX = tf.tidy(() => tf.mul(x, tf.scalar(NaN)));
    await expect(a.fit(nanX, y, { epochs: 2, batchSize: 5, seed: 9, sampleIds: 'index' })).rejects.toBeInstanceOf(NonFiniteError);
    tf.dispose([bad, nanX]);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(await snapshot(a)).toEqual(want);
    dispose();
  });
});
