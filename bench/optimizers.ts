/**
 * The per-step cost of every optimizer the tfjs trainer runs, against SGD in the same process and the same loop,
 * beside what each one's arithmetic implies. The model is the MNIST classifier's MLP (784-256-10, ReLU, softmax
 * cross-entropy) at batch 128 on tfjs-backend-wasm; the trainers alternate step by step, so load on the machine
 * hits them alike. For each optimizer: the median step in ms (min–max), the ratio to SGD's, and the ratio its
 * multiply-adds imply:
 * - every optimizer: the model's forward and backward pass, 3·n·Σ din·dout;
 * - KFAC (`ifngd`'s defaults: factors every step, inverses every 10): preconditioning Σ dout²·d̄in + dout·d̄in² per
 *   step (d̄in = din + 1, the bias column), the factors n·(d̄in² + dout²) per factor step, and about d̄in³ + dout³
 *   per inverse refresh (Cholesky and the two triangular solves), amortised;
 * - Muon: five Newton–Schulz iterations per hidden matrix, each 2·r²·c + r³ (r ≤ c its sides);
 * - Shampoo (the MNIST benchmark's set-up: blocks of 256, roots every 10 steps): per r × c block the statistics
 *   r²c + rc² and the preconditioning r²c + rc² per step (a vector block: 2r²), and about 5.5r³ + 5.5c³ per root
 *   refresh (a float64 eigendecomposition, ≈ 9n³ flops = 4.5n³ multiply-adds, and the root's n³), amortised;
 * - FNGD cached: nothing beyond the pass (the α-weighted gradient is the pass); FNGD fresh: the per-sample
 *   Gram n²·Σ(din + 1 + dout) and an n³/3 Cholesky.
 * The last column, measured ÷ implied, says how efficiently each optimizer's extra work runs relative to the
 * model's own pass (below 1: faster than the pass's rate).
 *
 *   npm run bench:optimizers -- [--reps 20] [--json bench/results/optimizers.json]
 * @module
 */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { FngdTrainer, type FngdTrainerOptions } from '@ifngd/adapters-tfjs';

const { values } = parseArgs({ options: { reps: { type: 'string', default: '20' }, json: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  console.log(`npm run bench:optimizers -- [--reps N] [--json FILE]

The per-step cost of SGD, Adam, FNGD (cached and fresh), KFAC, AdamW, Muon and Shampoo in the tfjs trainer on the MNIST
MLP (784-256-10, batch 128, tfjs-backend-wasm), interleaved step by step, against SGD's step and against what
each optimizer's multiply-adds imply.

  --reps N      timed steps per optimizer (default 20, after 3 warm-up steps)
  --json FILE   write the rows as JSON
  -h, --help    this text`);
  process.exit(0);
}
const reps = Number(values.reps);
if (!Number.isSafeInteger(reps) || reps < 3) throw new Error(`--reps must be an integer ≥ 3, got ${values.reps}`);

const N = 128;
const LAYERS = [
  { din: 784, dout: 256 },
  { din: 256, dout: 10 },
];

/** Multiply-adds of one forward and backward pass of the MLP. */
const PASS = 3 * N * LAYERS.reduce((s, l) => s + l.din * l.dout, 0);
/** KFAC's extra multiply-adds per step at factorEvery `f` and inverseEvery 10. */
const kfacMacs = (factorEvery: number): number =>
  LAYERS.reduce((s, { din, dout }) => {
    const d = din + 1;
    const precondition = dout * dout * d + dout * d * d;
    const factors = (N * (d * d + dout * dout)) / factorEvery;
    const inverses = (d ** 3 + dout ** 3) / 10;
    return s + precondition + factors + inverses;
  }, 0);
/** Muon's extra multiply-adds per step: Newton–Schulz on the hidden matrix (the output layer takes Adam). */
const muonMacs = (): number => {
  const [r, c] = [Math.min(784, 256), Math.max(784, 256)];
  return 5 * (2 * r * r * c + r ** 3);
};
/** The MNIST benchmark's Shampoo set-up (`examples/mnist`): blocks of at most 256 a side, roots every 10 steps. */
const SHAMPOO = { blockSize: 256, preconditionFrequency: 10 } as const;
/** Shampoo's extra multiply-adds per step at {@link SHAMPOO}: every weight (stored [in, out]) and bias, blocked. */
const shampooMacs = (): number => {
  const cut = (n: number): number[] => Array.from({ length: Math.ceil(n / SHAMPOO.blockSize) }, (_, i) => Math.min(SHAMPOO.blockSize, n - i * SHAMPOO.blockSize));
  let macs = 0;
  for (const { din, dout } of LAYERS) {
    for (const r of cut(din)) for (const c of cut(dout)) macs += 2 * (r * r * c + r * c * c) + (5.5 * r ** 3 + 5.5 * c ** 3) / SHAMPOO.preconditionFrequency;
    for (const r of cut(dout)) macs += 2 * r * r + (5.5 * r ** 3) / SHAMPOO.preconditionFrequency;
  }
  return macs;
};
/** A fresh FNGD step's extra multiply-adds: the per-sample Gram of every layer and the n×n Cholesky. */
const fngdFreshMacs = (): number => N * N * LAYERS.reduce((s, l) => s + l.din + 1 + l.dout, 0) + N ** 3 / 3;

interface Arm {
  readonly name: string;
  readonly options: Omit<FngdTrainerOptions, 'loss'>;
  /** Multiply-adds beyond the pass, per step. */
  readonly extra: number;
}

/** The optimizers timed (made after the backend is set: tfjs optimizers hold tensors). */
const arms = (): readonly Arm[] => [
  { name: 'sgd (tf.train.momentum)', options: { optimizer: tf.train.momentum(0.01, 0.9) }, extra: 0 },
  { name: 'adam (tf.train.adam)', options: { optimizer: tf.train.adam(1e-3) }, extra: 0 },
  { name: 'fngd, cached', options: { fngd: {} }, extra: 0 },
  { name: "fngd, fresh ('always')", options: { fngd: { refresh: 'always' } }, extra: fngdFreshMacs() },
  { name: 'kfac', options: { kfac: { learningRate: 0.01 } }, extra: kfacMacs(1) },
  { name: 'kfac, factorEvery 10', options: { kfac: { learningRate: 0.01, factorEvery: 10 } }, extra: kfacMacs(10) },
  { name: 'adamw', options: { optimizer: 'adamw' }, extra: 0 },
  { name: 'muon', options: { optimizer: 'muon' }, extra: muonMacs() },
  { name: 'shampoo (blocks 256, roots /10)', options: { optimizer: { kind: 'shampoo', ...SHAMPOO, startPreconditioningStep: 1 } }, extra: shampooMacs() },
];

async function main(): Promise<void> {
  await tf.setBackend('wasm');
  const ARMS = arms();
  const model = (): tfl.LayersModel => {
    const m = tfl.sequential();
    m.add(tfl.layers.dense({ inputShape: [784], units: 256, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }));
    m.add(tfl.layers.dense({ units: 10, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }));
    return m;
  };
  const x = tf.randomUniform([N, 784], 0, 1, 'float32', 3);
  const y = tf.cast(tf.oneHot(tf.randomUniform([N], 0, 10, 'int32', 4) as tf.Tensor1D, 10), 'float32');
  const trainers = await Promise.all(ARMS.map((a) => FngdTrainer.create(model(), { loss: 'softmax-cross-entropy', ...a.options })));
  for (const t of trainers) for (let i = 0; i < 3; i++) await t.trainBatch(x, y, { batchKey: 0 });
  const samples = ARMS.map(() => [] as number[]);
  for (let r = 0; r < reps; r++) {
    for (const [i, t] of trainers.entries()) {
      const t0 = performance.now();
      await t.trainBatch(x, y, { batchKey: 0 });
      samples[i]!.push(performance.now() - t0);
    }
  }
  const median = (a: readonly number[]): number => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)]!;
  const sgd = median(samples[0]!);
  // the mean carries what a median hides: the steps that refresh a preconditioner (KFAC's inverses, Shampoo's roots)
  const sgdMean = samples[0]!.reduce((p, q) => p + q, 0) / samples[0]!.length;
  const rows = ARMS.map((a, i) => {
    const ms = median(samples[i]!);
    const implied = (PASS + a.extra) / PASS;
    const mean = samples[i]!.reduce((p, q) => p + q, 0) / samples[i]!.length;
    return { optimizer: a.name, ms, mean, min: Math.min(...samples[i]!), max: Math.max(...samples[i]!), vsSgd: ms / sgd, meanVsSgd: mean / sgdMean, impliedVsSgd: implied, measuredOverImplied: ms / sgd / implied, meanOverImplied: mean / sgdMean / implied };
  });
  console.log(`MNIST MLP 784-256-10, batch ${N}, tfjs-backend-wasm, ${reps} interleaved steps each (${cpus().length} cores)`);
  console.log('optimizer'.padEnd(32) + 'median ms (min–max)'.padEnd(24) + '÷ SGD'.padEnd(8) + 'mean ÷ SGD'.padEnd(12) + 'implied'.padEnd(9) + 'measured ÷ implied (median; mean)');
  for (const r of rows) {
    console.log(
      r.optimizer.padEnd(32) +
        `${r.ms.toFixed(1)} (${r.min.toFixed(1)}–${r.max.toFixed(1)})`.padEnd(24) +
        r.vsSgd.toFixed(2).padEnd(8) +
        r.meanVsSgd.toFixed(2).padEnd(12) +
        r.impliedVsSgd.toFixed(2).padEnd(9) +
        `${r.measuredOverImplied.toFixed(2)}; ${r.meanOverImplied.toFixed(2)}`,
    );
  }
  if (values.json) {
    writeFileSync(values.json, JSON.stringify({ model: '784-256-10 MLP', batch: N, backend: 'wasm', cores: cpus().length, reps, passMacs: PASS, rows }, null, 2) + '\n');
    console.log(`wrote ${values.json}`);
  }
  for (const t of trainers) t.dispose();
  tf.dispose([x, y]);
}

await main();
