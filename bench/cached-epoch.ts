/**
 * A cached FNGD epoch against an SGD epoch (tfjs momentum), same model, data and loop — the figure that judges
 * the rule "no host reads inside fngd.step". MLP 784-256-10 (relu, softmax cross-entropy), 2,000 synthetic
 * samples, batch 128 (16 steps an epoch: the MNIST demo's `--quick` shapes), FNGD global, λ 10, lr 0.316,
 * momentum 0.9, refresh 'first-epoch' (the demo's tuned classifier settings). Epoch 1 computes FNGD's
 * coefficients; every later FNGD epoch is served from the cache. FNGD and SGD epochs alternate (load on the
 * machine hits both alike); the figure is the median over cached epochs of FNGD epoch ÷ the SGD epoch next to it.
 *
 *   npx tsx --conditions=@ifngd/source bench/cached-epoch.ts --backend webgpu|wasm [--epochs 8] [--label x] [--json FILE]
 *
 * With `--json FILE` the result is appended to FILE's `runs` (created when absent).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { FngdTrainer } from '@ifngd/adapters-tfjs';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    epochs: { type: 'string', default: '8' },
    label: { type: 'string', default: '' },
    json: { type: 'string' },
  },
});
const backend = values.backend as 'webgpu' | 'wasm';
const epochs = Number(values.epochs);

async function setBackend(): Promise<void> {
  if (backend === 'webgpu') {
    const { create, globals } = await import('webgpu');
    Object.assign(globalThis, globals);
    (globalThis as { navigator?: unknown }).navigator = { gpu: create([]), userAgent: 'node' };
    await import('@tensorflow/tfjs-backend-webgpu');
  } else {
    await import('@tensorflow/tfjs-backend-wasm');
  }
  if (!(await tf.setBackend(backend))) throw new Error(`the ${backend} backend is not available`);
  await tf.ready();
}

function data(count: number): { x: tf.Tensor; y: tf.Tensor } {
  let s = 12345;
  const rand = (): number => ((s = (s * 1664525 + 1013904223) >>> 0), s / 2 ** 32);
  const x = Float32Array.from({ length: count * 784 }, () => (rand() < 0.2 ? rand() : 0));
  const y = new Float32Array(count * 10);
  for (let i = 0; i < count; i++) y[i * 10 + Math.floor(rand() * 10)] = 1;
  return { x: tf.tensor2d(x, [count, 784]), y: tf.tensor2d(y, [count, 10]) };
}

function model(seed: number): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 256, activation: 'relu', inputShape: [784], kernelInitializer: tfl.initializers.glorotUniform({ seed }) }),
      tfl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function main(): Promise<void> {
  console.log('loaded'); // every module of the packages is imported by now (the before/after driver waits for this)
  await setBackend();
  const { x, y } = data(2000);
  const fm = model(1);
  const sm = model(1);
  const fngdT = await FngdTrainer.create(fm, { loss: 'softmax-cross-entropy', fngd: { learningRate: 0.3162, damping: 10, mode: 'global', momentum: 0.9, refresh: 'first-epoch' } });
  const sgdT = await FngdTrainer.create(sm, { loss: 'softmax-cross-entropy', optimizer: tf.train.momentum(0.3162, 0.9) });
  const epoch = async (t: FngdTrainer): Promise<number> => {
    const t0 = performance.now();
    await t.fit(x, y, { epochs: 1, batchSize: 128, seed: 7 });
    return (performance.now() - t0) / 1000;
  };
  // warm-up (shader compilation, wasm JIT) on both, then the measured epochs, alternating
  const first = { fngd: await epoch(fngdT), sgd: await epoch(sgdT) };
  const fngd: number[] = [];
  const sgd: number[] = [];
  for (let e = 0; e < epochs; e++) {
    if (e % 2 === 0) {
      fngd.push(await epoch(fngdT));
      sgd.push(await epoch(sgdT));
    } else {
      sgd.push(await epoch(sgdT));
      fngd.push(await epoch(fngdT));
    }
  }
  const stats = fngdT.stats!;
  if (stats.factorizations !== 16) throw new Error(`expected 16 factorizations (epoch 1 only), got ${stats.factorizations}`);
  const ratios = fngd.map((f, i) => f / (sgd[i] as number));
  const result = {
    date: new Date().toISOString(),
    label: values.label,
    backend: tf.getBackend(),
    machine: { cpus: cpus().length, node: process.version },
    firstEpochSeconds: first,
    cachedEpochSeconds: { fngd, sgd },
    ratios,
    medianRatio: median(ratios),
    factorizations: stats.factorizations,
    cacheHits: stats.cacheHits,
  };
  console.log(
    `${result.backend} ${values.label}: cached FNGD epoch ÷ SGD epoch median ${result.medianRatio.toFixed(3)} ` +
      `(FNGD median ${median(fngd).toFixed(3)} s, SGD ${median(sgd).toFixed(3)} s; ratios ${ratios.map((r) => r.toFixed(2)).join(' ')})`,
  );
  if (values.json) {
    const file = values.json;
    const doc = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { runs: unknown[] }) : { runs: [] };
    doc.runs.push(result);
    writeFileSync(file, JSON.stringify(doc, null, 1) + '\n');
  }
  fngdT.dispose();
  sgdT.dispose();
  tf.dispose([x, y]);
}

await main();
