/**
 * Kernels and host reads of one cached FNGD step against one SGD step (tfjs momentum) on the same model and
 * batch — where a cached FNGD epoch's time goes beyond SGD's. MLP 784-256-10, batch 128, the settings of
 * `cached-epoch.ts`.
 *
 *   npx tsx --conditions=@ifngd/source bench/step-kernels.ts [--backend wasm|webgpu|cpu]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { FngdTrainer } from '@ifngd/adapters-tfjs';

const { values } = parseArgs({ options: { backend: { type: 'string', default: 'wasm' } } });
const backend = values.backend as string;
if (backend === 'webgpu') {
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  (globalThis as { navigator?: unknown }).navigator = { gpu: create([]), userAgent: 'node' };
  await import('@tensorflow/tfjs-backend-webgpu');
} else if (backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
else await import('@tensorflow/tfjs-backend-cpu');
await tf.setBackend(backend);
await tf.ready();

const model = (): tfl.LayersModel =>
  tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 256, activation: 'relu', inputShape: [784], kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }),
      tfl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
const x = tf.randomUniform([128, 784], 0, 1, 'float32', 3);
const y = tf.cast(tf.oneHot(tf.randomUniform([128], 0, 10, 'int32', 4) as tf.Tensor1D, 10), 'float32');

async function profile(name: string, t: FngdTrainer): Promise<void> {
  await t.trainBatch(x, y, { batchKey: 0, epoch: 0 }); // fresh (FNGD) / warm-up
  await t.trainBatch(x, y, { batchKey: 0, epoch: 1 }); // cached, warm-up
  let reads = 0;
  const orig = tf.Tensor.prototype.data;
  tf.Tensor.prototype.data = function (this: tf.Tensor) {
    reads++;
    return orig.call(this);
  } as typeof orig;
  const info = await tf.profile(async () => {
    await t.trainBatch(x, y, { batchKey: 0, epoch: 2 });
    return [];
  });
  tf.Tensor.prototype.data = orig;
  const byName = new Map<string, number>();
  for (const k of info.kernels) byName.set(k.name, (byName.get(k.name) ?? 0) + 1);
  console.log(`${name}: ${info.kernels.length} kernels, ${reads} data() reads; ${[...byName].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}×${n}`).join(' ')}`);
}

const f = await FngdTrainer.create(model(), { loss: 'softmax-cross-entropy', fngd: { learningRate: 0.3162, damping: 10, mode: 'global', momentum: 0.9, refresh: 'first-epoch' } });
await profile('fngd (cached step)', f);
const s = await FngdTrainer.create(model(), { loss: 'softmax-cross-entropy', optimizer: tf.train.momentum(0.3162, 0.9) });
await profile('sgd (momentum)', s);
