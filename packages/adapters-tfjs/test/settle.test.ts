/**
 * The FNGD step decides on the backend and reads once: non-finite outcomes that only the step's own scalars
 * reveal — finite loss and gradients whose update overflows float32, parameters made NaN behind the trainer's
 * back — throw `NonFiniteError` under `'throw'` with the variables, the optimizer (stats, cache, checkpoint
 * bytes) and `tf.memory().numTensors` unchanged, and under `'skip'` leave the variables and the transformation
 * state as they were, counting the skip (a non-finite parameter throws under both).
 */
import * as tf from '@tensorflow/tfjs-core';
import { NonFiniteError } from 'ifngd';
import { beforeAll, describe, expect, it } from 'vitest';
import { FngdTrainer, type FunctionModel, type TrainerFngdOptions } from '../src/index.js';
import { useCpu } from './helpers.js';

beforeAll(useCpu);

async function setup(fngd: TrainerFngdOptions): Promise<{ tr: FngdTrainer; w: tf.Variable; x: tf.Tensor; y: tf.Tensor; dispose: () => void }> {
  const w = tf.variable(tf.tensor2d([0.1, -0.2, 0.3, 0.05, -0.1, 0.2], [3, 2]), true, `w${Math.random()}`);
  const fm: FunctionModel = { variables: [w], forward: (x, tap) => tap.dense(tf.matMul(x, w), x, { kernel: w }) };
  const x = tf.tensor2d([1, 2, 3, -1, 0.5, 2, 0, 1, -2, 3, 1, 1], [4, 3]);
  const y = tf.tensor2d([1, 0, 0, 1, 2, -1, 1, 1], [4, 2]);
  const tr = await FngdTrainer.create(fm, { loss: 'mse', fngd: { damping: 1, momentum: 0.9, mode: 'global', ...fngd } });
  return { tr, w, x, y, dispose: () => (tr.dispose(), tf.dispose([w, x, y])) };
}

async function state(tr: FngdTrainer, w: tf.Variable): Promise<{ w: number[]; stats: unknown; bytes: number[]; numTensors: number }> {
  return { w: Array.from(await w.data()), stats: tr.stats, bytes: Array.from(tr.serializeState()), numTensors: tf.memory().numTensors };
}

describe('FNGD on tfjs: non-finite results found by the step\'s one read', () => {
  it("'throw': an update that overflows float32 (finite loss and gradients) changes nothing; the trainer goes on", async () => {
    // a first good step at a sane rate, then the same batch cached at a rate that overflows float32
    const { tr, w, x, y, dispose } = await setup({ learningRate: (count: number) => (count === 0 ? 0.01 : 1e39) });
    await tr.trainBatch(x, y, { batchKey: 0, epoch: 0 });
    const before = await state(tr, w);
    await expect(tr.trainBatch(x, y, { batchKey: 0, epoch: 1 })).rejects.toBeInstanceOf(NonFiniteError);
    expect(await state(tr, w)).toEqual(before);
    await expect(tr.trainBatch(x, y, { batchKey: 1, epoch: 1 })).rejects.toBeInstanceOf(NonFiniteError); // fresh batch: nothing cached
    expect(await state(tr, w)).toEqual(before);
    expect(tr.optimizer!.cached(1)).toBeUndefined();
    dispose();
  });

  it("'skip': the overflowing update is skipped and counted; variables, momentum and schedule position kept", async () => {
    const { tr, w, x, y, dispose } = await setup({ learningRate: (count: number) => (count === 0 ? 0.01 : 1e39), onNonFinite: 'skip' });
    await tr.trainBatch(x, y, { batchKey: 0, epoch: 0 });
    const before = await state(tr, w);
    const chain = tr.optimizer!.state!;
    const r = await tr.trainBatch(x, y, { batchKey: 0, epoch: 1 });
    expect(Number.isFinite(r.loss)).toBe(true);
    const after = await state(tr, w);
    expect(after.w).toEqual(before.w);
    expect(after.numTensors).toBe(before.numTensors);
    expect(tr.stats!.skippedSteps).toBe(1);
    expect(tr.stats!.steps).toBe(1);
    expect(tr.optimizer!.state!.inner).toBe(chain.inner); // momentum buffer and schedule count untouched
    expect(tr.optimizer!.state!.skipped).toBe(1);
    dispose();
  });

  for (const onNonFinite of ['throw', 'skip'] as const) {
    it(`'${onNonFinite}': parameters made NaN outside the trainer throw, nothing changed`, async () => {
      const { tr, w, x, y, dispose } = await setup({ learningRate: 0.01, onNonFinite });
      await tr.trainBatch(x, y, { batchKey: 0, epoch: 0 });
      w.assign(tf.tensor2d([NaN, 0, 0, 0, 0, 0], [3, 2]));
      const before = await state(tr, w);
      const err = await tr.trainBatch(x, y, { batchKey: 0, epoch: 1 }).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(NonFiniteError);
      expect(await state(tr, w)).toEqual(before);
      dispose();
    });
  }
});
