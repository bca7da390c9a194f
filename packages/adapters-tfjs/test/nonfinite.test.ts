/**
 * `ifngd`'s one `onNonFinite` rule through the tfjs trainer, as through the ONNX trainer: inputs that make the
 * model's outputs NaN, on a fresh batch (a NaN Gram or NaN factors) and on a cached one (a NaN loss), with FNGD and
 * KFAC — `'throw'` throws `NonFiniteError` with nothing changed, `'skip'` is a counted skip with the variables as
 * they were; training then goes on.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { FngdTrainer, NonFiniteError, type FngdTrainerOptions } from '../src/index.js';
import { classData, flatParams, mlp, useCpu, variablesOf } from './helpers.js';

beforeAll(useCpu);

const cases: [string, (onNonFinite: 'throw' | 'skip') => FngdTrainerOptions][] = [
  ['FNGD', (onNonFinite) => ({ loss: 'softmax-cross-entropy', fngd: { learningRate: 0.1, damping: 1, onNonFinite } })],
  ['KFAC', (onNonFinite) => ({ loss: 'softmax-cross-entropy', kfac: { learningRate: 0.05, onNonFinite } })],
];

describe('NaN outputs, one rule', () => {
  for (const [name, options] of cases) {
    for (const batch of ['fresh', 'cached'] as const) {
      it(`${name}, ${batch} batch: 'throw' throws with nothing changed, 'skip' is a counted skip`, async () => {
        const [x, y] = classData(8, [6], 3, 2);
        const bad = tf.fill([8, 6], NaN);
        for (const onNonFinite of ['throw', 'skip'] as const) {
          const model = mlp(6, 5, 3, 4);
          const tr = await FngdTrainer.create(model, options(onNonFinite));
          await tr.trainBatch(x, y, { batchKey: 'a', epoch: 0 });
          const key = batch === 'fresh' ? 'b' : 'a';
          const state = tr.serializeState();
          const before = flatParams(variablesOf(model));
          if (onNonFinite === 'throw') {
            await expect(tr.trainBatch(bad, y, { batchKey: key, epoch: 1 })).rejects.toThrow(NonFiniteError);
            expect(tr.serializeState()).toEqual(state);
          } else {
            const r = await tr.trainBatch(bad, y, { batchKey: key, epoch: 1 });
            expect(r.loss).toBeNaN();
            expect(r.fresh).toBe(false);
            expect((tr.stats ?? tr.kfacStats)!.skippedSteps).toBe(1);
          }
          expect(flatParams(variablesOf(model))).toEqual(before);
          const next = await tr.trainBatch(x, y, { batchKey: key, epoch: 1 });
          expect(Number.isFinite(next.loss)).toBe(true);
          tr.dispose();
        }
        tf.dispose([x, y, bad]);
      });
    }
  }
});

describe('an infinite loss with finite gradients (KFAC)', () => {
  it("'throw' throws, 'skip' skips — the loss is part of the rule, not only the gradients", async () => {
    const [x] = classData(8, [6], 3, 3);
    const y = tf.fill([8, 3], 1e20); // MSE overflows float32; its gradient 2(z − y)/3 does not
    for (const onNonFinite of ['throw', 'skip'] as const) {
      const model = mlp(6, 5, 3, 4);
      const tr = await FngdTrainer.create(model, { loss: 'mse', kfac: { learningRate: 1e-30, onNonFinite } });
      const before = flatParams(variablesOf(model));
      if (onNonFinite === 'throw') await expect(tr.trainBatch(x, y, { batchKey: 0 })).rejects.toThrow(NonFiniteError);
      else expect((await tr.trainBatch(x, y, { batchKey: 0 })).loss).toBe(Infinity);
      expect(flatParams(variablesOf(model))).toEqual(before);
      tr.dispose();
    }
    tf.dispose([x, y]);
  });
});
