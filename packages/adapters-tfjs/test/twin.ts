/** Twin trainers for transaction tests: one disturbed by a failing call, one never disturbed. */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import { FngdTrainer, type FngdTrainerOptions, type PerSampleLoss } from '../src/index.js';
import { classData, flatParams, mlp } from './helpers.js';

export type Kind = 'fngd' | 'fngd-layerwise' | 'kfac' | 'adam';
export const KINDS: readonly Kind[] = ['fngd', 'fngd-layerwise', 'kfac', 'adam'];

export function optionsOf(kind: Kind, loss: FngdTrainerOptions['loss']): FngdTrainerOptions {
  if (kind === 'kfac') return { loss, kfac: { learningRate: 0.1, damping: 0.1, inverseEvery: 2 } };
  if (kind === 'adam') return { loss, optimizer: tf.train.adam(0.01) };
  return { loss, fngd: { learningRate: 0.2, damping: 1, momentum: 0.9, mode: kind === 'fngd' ? 'global' : 'layerwise' } };
}

/** Everything a failing call must leave as it was (bit for bit on the CPU backend). */
export interface Snapshot {
  readonly params: number[];
  readonly state: number[];
  readonly stats: string;
  readonly epoch: number;
  readonly plan: string;
  readonly planChange: string;
}

/** A snapshot without the optimizer-state bytes (which name the model's variables, so differ between twins). */
export async function twinView(t: FngdTrainer): Promise<Omit<Snapshot, 'state'>> {
  const { state: _state, ...rest } = await snapshot(t);
  return rest;
}

export async function snapshot(t: FngdTrainer): Promise<Snapshot> {
  const params = flatParams(t.model.variables as tf.Variable[]);
  let state: number[];
  if (t.tfOptimizer) {
    const ws = await t.tfOptimizer.getWeights();
    state = ws.flatMap((w) => Array.from(w.tensor.dataSync()));
  } else {
    state = Array.from(t.serializeState());
  }
  return {
    params,
    state,
    stats: JSON.stringify(t.stats ?? t.kfacStats),
    epoch: t.epoch,
    plan: JSON.stringify(t.batchPlan),
    planChange: JSON.stringify(t.lastPlanChange),
  };
}

/** A switchable custom loss (softmax cross-entropy until `fail` is set). */
export function switchableLoss(ce: PerSampleLoss): { loss: PerSampleLoss; set(fail: boolean): void } {
  let fail = false;
  return {
    loss: (o, y) => {
      if (fail) throw new Error('custom loss failed');
      return ce(o, y);
    },
    set: (f) => (fail = f),
  };
}

/** Two identical trainers on the same MLP weights, both trained the same 3 steps (a cache hit among them). */
export async function twins(kind: Kind, loss: FngdTrainerOptions['loss']): Promise<{ a: FngdTrainer; b: FngdTrainer; x: Tensor; y: Tensor; dispose(): void }> {
  const [x, y] = classData(12, [6], 3, 4);
  const a = await FngdTrainer.create(mlp(6, 5, 3, 21), optionsOf(kind, loss));
  const b = await FngdTrainer.create(mlp(6, 5, 3, 21), optionsOf(kind, loss));
  for (const t of [a, b]) {
    await t.trainBatch(x, y, { batchKey: 'k', epoch: 0 });
    await t.trainBatch(x, y, { batchKey: 'k', epoch: 1 });
    await t.fit(x, y, { epochs: 1, batchSize: 6, seed: 1 });
  }
  return {
    a,
    b,
    x,
    y,
    dispose() {
      a.dispose();
      b.dispose();
      tf.dispose([x, y]);
    },
  };
}
