/**
 * FNGD against Adam on the same model, the same initial weights and the same batches, one epoch each in turn,
 * both through `FngdTrainer` (Adam via its `optimizer` option), on the chosen tfjs backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { FngdTrainer } from '@ifngd/adapters-tfjs';
import type { Digits } from './data.js';

/** tfjs backends the page offers. */
export const BACKENDS = ['webgpu', 'wasm', 'cpu'] as const;
export type Backend = (typeof BACKENDS)[number];
export type Optimizer = 'fngd' | 'adam';

/** One finished epoch of one optimizer. */
export interface Point {
  readonly optimizer: Optimizer;
  readonly epoch: number;
  readonly trainLoss: number;
  readonly testAccuracy: number;
  /** Training seconds of this optimizer so far (evaluation excluded). */
  readonly seconds: number;
}

/** Registers and activates a tfjs backend; throws when this browser cannot run it. */
export async function useBackend(backend: Backend): Promise<void> {
  if (backend === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths('/tfjs-wasm/');
  } else if (backend === 'webgpu') {
    await import('@tensorflow/tfjs-backend-webgpu');
  } else {
    await import('@tensorflow/tfjs-backend-cpu');
  }
  const ok = await tf.setBackend(backend).catch(() => false);
  if (!ok) throw new Error(`the ${backend} backend is not available in this browser (WebGPU needs an adapter)`);
  await tf.ready();
}

/** The 784-64-10 ReLU classifier, seeded: every call gives the same initial weights. */
function mlp(): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 64, inputShape: [784], activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }),
      tfl.layers.dense({ units: 10, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
}

/** Progress callbacks of {@link race}. */
export interface RaceCallbacks {
  /** After each optimizer's epoch (test accuracy measured). */
  readonly onPoint: (p: Point) => void;
  /** After each step: `at` is in epochs (0 → `epochs`), `loss` the batch's mean loss before the step. */
  readonly onBatch?: (optimizer: Optimizer, at: number, loss: number) => void;
}

/** Trains both optimizers for `epochs` epochs, one epoch each in turn. */
export async function race(data: Digits, epochs: number, batchSize: number, cb: RaceCallbacks): Promise<Point[]> {
  const loss = 'softmax-cross-entropy';
  const trainers: Record<Optimizer, FngdTrainer> = {
    fngd: await FngdTrainer.create(mlp(), { loss }),
    adam: await FngdTrainer.create(mlp(), { loss, optimizer: tf.train.adam() }),
  };
  const seconds: Record<Optimizer, number> = { fngd: 0, adam: 0 };
  const points: Point[] = [];
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      for (const optimizer of ['fngd', 'adam'] as const) {
        const t = trainers[optimizer];
        const onBatchEnd = (b: number, l: { loss: number; batches: number }) => cb.onBatch?.(optimizer, epoch - 1 + (b + 1) / l.batches, l.loss);
        const [log] = await t.fit(data.xTrain, data.yTrain, { epochs: 1, batchSize, seed: 7, callbacks: { onBatchEnd } });
        seconds[optimizer] += log!.seconds;
        const ev = await t.evaluateAsync(data.xTest, data.yTest);
        const p: Point = { optimizer, epoch, trainLoss: log!.trainLoss, testAccuracy: ev.accuracy ?? NaN, seconds: seconds[optimizer] };
        points.push(p);
        cb.onPoint(p);
      }
    }
  } finally {
    trainers.fngd.dispose();
    trainers.adam.dispose();
  }
  return points;
}

/** The return on investment in one sentence: final accuracies, and when FNGD reached Adam's final accuracy. */
export function summary(points: readonly Point[]): string {
  const last = (o: Optimizer) => points.filter((p) => p.optimizer === o).at(-1);
  const f = last('fngd');
  const a = last('adam');
  if (!f || !a) return '';
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  const reach = points.find((p) => p.optimizer === 'fngd' && p.testAccuracy >= a.testAccuracy);
  const when = reach
    ? `FNGD reached Adam's final accuracy after ${reach.seconds.toFixed(1)} s of training (Adam: ${a.seconds.toFixed(1)} s).`
    : "FNGD did not reach Adam's final accuracy.";
  return `Test accuracy after ${f.epoch} epoch${f.epoch === 1 ? '' : 's'}: FNGD ${pct(f.testAccuracy)}, Adam ${pct(a.testAccuracy)}. ${when}`;
}
