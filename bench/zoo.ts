/**
 * The model zoo: architectures tfjs users bring, each trained in the same loop with FNGD at its defaults, KFAC at
 * its defaults (parameters of no Kronecker layer on the plain gradient), KFAC with those parameters in its diagonal
 * block (`nonKronecker: 'diagonal'`) and Adam (tf.train.adam(1e-3)). Per model: parameters (trainable), median step
 * time of Adam, of FNGD's fresh steps (epoch 1: capture, Gram, solve) and cached steps (later epochs: coefficients
 * reused), of KFAC's steps (mean: its inverse refreshes are amortised over 10 steps), the ratios to Adam's step, and
 * the mean training loss after the same budget of steps. The trainers alternate batch by batch, so load on the
 * machine hits them alike. Models run on tfjs-backend-wasm, convolutional ones on the cpu backend, where tfjs ships
 * every kernel they need (tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter; there the trainer registers the
 * adapter's, `registerWasmConvFilterGradient`, so the committed convolutional rows time tfjs's cpu kernels). Embedding models train on wasm because
 * the Embedding block's gradient is a scatter-add (tfjs's own gather gradient needs UnsortedSegmentSum, which wasm
 * lacks). The data are synthetic with random labels: the loss measures how fast each optimizer fits, not
 * generalization.
 *
 *   npm run bench:zoo -- [--only NAME] [--backend wasm|cpu] [--epochs 4] [--batches 4] [--json FILE]
 *
 * With `--json FILE` each model's row replaces its row in FILE as soon as it is measured (`--only` refreshes one).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { FngdTrainer, type FngdTrainerOptions } from '@ifngd/adapters-tfjs';

const { values } = parseArgs({
  options: { only: { type: 'string' }, backend: { type: 'string' }, epochs: { type: 'string', default: '4' }, batches: { type: 'string', default: '4' }, json: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
});
if (values.help) {
  console.log(`npm run bench:zoo -- [--only NAME] [--backend wasm|cpu] [--epochs 4] [--batches 4] [--json FILE]

Times FNGD (fresh and cached steps), KFAC, KFAC with its diagonal block and Adam on the model zoo, interleaved in
one loop; a fresh step computes a batch's coefficients, a cached one reuses them.

  --only NAME      one model of the zoo
  --backend B      only the models timed on it (wasm; cpu for the convolutional ones)
  --epochs N       passes over the batches (default 4; the first is fresh)
  --batches N      batches of 128 per pass (default 4)
  --json FILE      also write the rows as JSON (the committed run: bench/results/zoo.json)
  -h, --help       this text`);
  process.exit(0);
}
const EPOCHS = Number(values.epochs);
const BATCHES = Number(values.batches);
const BATCH = 128;

type S = tfl.SymbolicTensor;
const g = (seed: number) => tfl.initializers.glorotUniform({ seed });
let rngState = 12345;
const rand = (): number => ((rngState = (rngState * 1664525 + 1013904223) >>> 0), rngState / 2 ** 32);

interface Entry {
  readonly name: string;
  /** Batch size (default 128; the cpu-backend CNNs use 32 to keep the run short). */
  readonly batch?: number;
  readonly backend: 'wasm' | 'cpu';
  readonly loss: FngdTrainerOptions['loss'];
  model(): LayersModel;
  /** Inputs and targets (arrays for a model with several inputs or outputs). */
  data(count: number): [Tensor | Tensor[], Tensor | Tensor[]];
}

const slices = (d: Tensor | Tensor[], start: number, size: number): Tensor | Tensor[] => (Array.isArray(d) ? d.map((t) => tf.slice(t, [start], [size])) : tf.slice(d, [start], [size]));
const all = (d: Tensor | Tensor[]): Tensor[] => (Array.isArray(d) ? d : [d]);

const classes = (count: number, k = 10): Tensor => {
  const y = new Float32Array(count * k);
  for (let i = 0; i < count; i++) y[i * k + Math.floor(rand() * k)] = 1;
  return tf.tensor2d(y, [count, k]);
};
const dense = (count: number, shape: number[]): Tensor => tf.tensor(Float32Array.from({ length: count * shape.reduce((a, b) => a * b, 1) }, () => rand() * 2 - 1), [count, ...shape]);
const tokens = (count: number, len: number, vocab: number): Tensor => tf.tensor2d(Float32Array.from({ length: count * len }, () => Math.floor(rand() * vocab)), [count, len]);

const ZOO: Entry[] = [
  {
    name: 'MLP 784-256-BN-128-BN-10',
    backend: 'wasm',
    loss: 'softmax-cross-entropy',
    model: () => tfl.sequential({ layers: [tfl.layers.dense({ units: 256, inputShape: [784], kernelInitializer: g(1) }), tfl.layers.batchNormalization(), tfl.layers.activation({ activation: 'relu' }), tfl.layers.dense({ units: 128, kernelInitializer: g(2) }), tfl.layers.batchNormalization(), tfl.layers.activation({ activation: 'relu' }), tfl.layers.dense({ units: 10, kernelInitializer: g(3) })] }),
    data: (c) => [dense(c, [784]), classes(c)],
  },
  {
    name: 'residual MLP (add, concatenate, a layer applied twice)',
    backend: 'wasm',
    loss: 'softmax-cross-entropy',
    model: () => {
      const x = tfl.input({ shape: [784] });
      const h = tfl.layers.dense({ units: 256, activation: 'relu', kernelInitializer: g(1) }).apply(x) as S;
      const r = tfl.layers.add().apply([h, tfl.layers.dense({ units: 256, activation: 'relu', kernelInitializer: g(2) }).apply(h) as S]) as S;
      const shared = tfl.layers.dense({ units: 256, activation: 'tanh', kernelInitializer: g(3) });
      const t = shared.apply(shared.apply(r) as S) as S;
      const out = tfl.layers.dense({ units: 10, kernelInitializer: g(4) }).apply(tfl.layers.concatenate().apply([r, t]) as S) as S;
      return tfl.model({ inputs: x, outputs: out });
    },
    data: (c) => [dense(c, [784]), classes(c)],
  },
  {
    name: 'LSTM text classifier (vocab 2,000, len 32)',
    backend: 'wasm',
    loss: 'softmax-cross-entropy',
    model: () => tfl.sequential({ layers: [tfl.layers.embedding({ inputDim: 2000, outputDim: 64, inputLength: 32, embeddingsInitializer: tfl.initializers.randomNormal({ seed: 1, stddev: 0.1 }) }), tfl.layers.lstm({ units: 64, kernelInitializer: g(2), recurrentInitializer: g(3) }), tfl.layers.dense({ units: 4, kernelInitializer: g(4) })] }),
    data: (c) => [tokens(c, 32, 2000), classes(c, 4)],
  },
  {
    name: 'GRU sequence model (len 32, 16 features)',
    backend: 'wasm',
    loss: 'softmax-cross-entropy',
    model: () => tfl.sequential({ layers: [tfl.layers.gru({ units: 96, inputShape: [32, 16], kernelInitializer: g(1), recurrentInitializer: g(2) }), tfl.layers.dense({ units: 4, kernelInitializer: g(3) })] }),
    data: (c) => [dense(c, [32, 16]), classes(c, 4)],
  },
  {
    name: 'tiny transformer encoder (vocab 2,000, len 32, d 64)',
    backend: 'wasm',
    loss: 'softmax-cross-entropy',
    model: () => {
      const ids = tfl.input({ shape: [32] });
      const tok = tfl.layers.embedding({ inputDim: 2000, outputDim: 64, embeddingsInitializer: tfl.initializers.randomNormal({ seed: 1, stddev: 0.1 }) }).apply(ids) as S;
      const [q, k, v] = [2, 3, 4].map((s) => tfl.layers.dense({ units: 64, kernelInitializer: g(s) }).apply(tok) as S) as [S, S, S];
      const attn = tfl.layers.softmax({ axis: -1 }).apply(tfl.layers.dot({ axes: [2, 2] }).apply([q, k]) as S) as S;
      const ctx = tfl.layers.dense({ units: 64, kernelInitializer: g(5) }).apply(tfl.layers.dot({ axes: [2, 1] }).apply([attn, v]) as S) as S;
      const h1 = tfl.layers.layerNormalization().apply(tfl.layers.add().apply([tok, ctx]) as S) as S;
      const ff = tfl.layers.dense({ units: 64, kernelInitializer: g(7) }).apply(tfl.layers.dense({ units: 128, activation: 'relu', kernelInitializer: g(6) }).apply(h1) as S) as S;
      const h2 = tfl.layers.layerNormalization().apply(tfl.layers.add().apply([h1, ff]) as S) as S;
      const out = tfl.layers.dense({ units: 4, kernelInitializer: g(8) }).apply(tfl.layers.globalAveragePooling1d({}).apply(h2) as S) as S;
      return tfl.model({ inputs: ids, outputs: out });
    },
    data: (c) => [tokens(c, 32, 2000), classes(c, 4)],
  },
  {
    name: 'deep autoencoder 784-256-64-256-784 (MSE)',
    backend: 'wasm',
    loss: 'mse',
    model: () => tfl.sequential({ layers: [tfl.layers.dense({ units: 256, inputShape: [784], activation: 'relu', kernelInitializer: g(1) }), tfl.layers.dense({ units: 64, activation: 'relu', kernelInitializer: g(2) }), tfl.layers.dense({ units: 256, activation: 'relu', kernelInitializer: g(3) }), tfl.layers.dense({ units: 784, kernelInitializer: g(4) })] }),
    data: (c) => {
      const x = dense(c, [784]);
      return [x, tf.clone(x)];
    },
  },
  {
    name: 'LayerNorm + PReLU MLP 784-256-256-10 with Dropout',
    backend: 'wasm',
    loss: 'softmax-cross-entropy',
    model: () => tfl.sequential({ layers: [tfl.layers.dense({ units: 256, inputShape: [784], kernelInitializer: g(1) }), tfl.layers.layerNormalization(), tfl.layers.prelu({ alphaInitializer: tfl.initializers.constant({ value: 0.25 }) }), tfl.layers.dropout({ rate: 0.1 }), tfl.layers.dense({ units: 256, kernelInitializer: g(2) }), tfl.layers.layerNormalization(), tfl.layers.prelu({ alphaInitializer: tfl.initializers.constant({ value: 0.25 }) }), tfl.layers.dense({ units: 10, kernelInitializer: g(3) })] }),
    data: (c) => [dense(c, [784]), classes(c)],
  },
  {
    name: 'bag of embeddings (vocab 5,000, len 32, d 32, mean pooling)',
    backend: 'wasm',
    loss: 'softmax-cross-entropy',
    model: () => tfl.sequential({ layers: [tfl.layers.embedding({ inputDim: 5000, outputDim: 32, inputLength: 32, embeddingsInitializer: tfl.initializers.randomNormal({ seed: 1, stddev: 0.1 }) }), tfl.layers.globalAveragePooling1d({}), tfl.layers.dense({ units: 64, activation: 'relu', kernelInitializer: g(2) }), tfl.layers.dense({ units: 4, kernelInitializer: g(3) })] }),
    data: (c) => [tokens(c, 32, 5000), classes(c, 4)],
  },
  {
    name: 'SimpleRNN sequence model (len 32, 16 features, 128 units)',
    backend: 'wasm',
    loss: 'softmax-cross-entropy',
    model: () => tfl.sequential({ layers: [tfl.layers.simpleRNN({ units: 128, inputShape: [32, 16], kernelInitializer: g(1), recurrentInitializer: g(2) }), tfl.layers.dense({ units: 4, kernelInitializer: g(3) })] }),
    data: (c) => [dense(c, [32, 16]), classes(c, 4)],
  },
  {
    name: 'transfer learning: frozen 784-512-256 base + trainable 256-128-10 head',
    backend: 'wasm',
    loss: 'softmax-cross-entropy',
    model: () => {
      const base = tfl.sequential({ layers: [tfl.layers.dense({ units: 512, inputShape: [784], activation: 'relu', kernelInitializer: g(1) }), tfl.layers.dense({ units: 256, activation: 'relu', kernelInitializer: g(2) })] });
      base.trainable = false;
      return tfl.sequential({ layers: [base, tfl.layers.dense({ units: 128, activation: 'relu', kernelInitializer: g(3) }), tfl.layers.dense({ units: 10, kernelInitializer: g(4) })] });
    },
    data: (c) => [dense(c, [784]), classes(c)],
  },
  {
    name: 'ResNet-style CNN with BatchNorm (16×16×3, 2 residual blocks)',
    backend: 'cpu',
    batch: 32,
    loss: 'softmax-cross-entropy',
    model: () => {
      const x = tfl.input({ shape: [16, 16, 3] });
      let h = tfl.layers.activation({ activation: 'relu' }).apply(tfl.layers.batchNormalization().apply(tfl.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: g(1) }).apply(x) as S) as S) as S;
      for (let b = 0; b < 2; b++) {
        const c1 = tfl.layers.activation({ activation: 'relu' }).apply(tfl.layers.batchNormalization().apply(tfl.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: g(2 + 2 * b) }).apply(h) as S) as S) as S;
        const c2 = tfl.layers.batchNormalization().apply(tfl.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: g(3 + 2 * b) }).apply(c1) as S) as S;
        h = tfl.layers.activation({ activation: 'relu' }).apply(tfl.layers.add().apply([h, c2]) as S) as S;
      }
      const out = tfl.layers.dense({ units: 10, kernelInitializer: g(9) }).apply(tfl.layers.globalAveragePooling2d({}).apply(h) as S) as S;
      return tfl.model({ inputs: x, outputs: out });
    },
    data: (c) => [dense(c, [16, 16, 3]), classes(c)],
  },
  {
    name: 'MobileNet-style block (depthwise, PReLU, separable; 16×16×3)',
    backend: 'cpu',
    batch: 32,
    loss: 'softmax-cross-entropy',
    model: () => tfl.sequential({ layers: [tfl.layers.conv2d({ inputShape: [16, 16, 3], filters: 16, kernelSize: 3, strides: 2, padding: 'same', kernelInitializer: g(1) }), tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthwiseInitializer: g(2) }), tfl.layers.prelu({ sharedAxes: [1, 2] }), tfl.layers.separableConv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', depthwiseInitializer: g(3), pointwiseInitializer: g(4) }), tfl.layers.globalAveragePooling2d({}), tfl.layers.dense({ units: 10, kernelInitializer: g(5) })] }),
    data: (c) => [dense(c, [16, 16, 3]), classes(c)],
  },
  {
    name: 'Conv1D text CNN (vocab 2,000, len 32; global max pooling)',
    backend: 'cpu',
    batch: 32,
    loss: 'softmax-cross-entropy',
    model: () => tfl.sequential({ layers: [tfl.layers.embedding({ inputDim: 2000, outputDim: 32, inputLength: 32, embeddingsInitializer: tfl.initializers.randomNormal({ seed: 1, stddev: 0.1 }) }), tfl.layers.conv1d({ filters: 64, kernelSize: 3, activation: 'relu', kernelInitializer: g(2) }), tfl.layers.globalMaxPooling1d({}), tfl.layers.dense({ units: 4, kernelInitializer: g(3) })] }),
    data: (c) => [tokens(c, 32, 2000), classes(c, 4)],
  },
  {
    name: 'U-Net-style autoencoder (down, up-sample, skip concatenation; 16×16×1, MSE)',
    backend: 'cpu',
    batch: 32,
    loss: 'mse',
    model: () => {
      const x = tfl.input({ shape: [16, 16, 1] });
      const e1 = tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: g(1) }).apply(x) as S;
      const d1 = tfl.layers.conv2d({ filters: 16, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: g(2) }).apply(e1) as S;
      const u1 = tfl.layers.upSampling2d({ size: [2, 2] }).apply(d1) as S;
      const cat = tfl.layers.concatenate().apply([u1, e1]) as S;
      const out = tfl.layers.conv2d({ filters: 1, kernelSize: 3, padding: 'same', kernelInitializer: g(3) }).apply(tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: g(4) }).apply(cat) as S) as S;
      return tfl.model({ inputs: x, outputs: out });
    },
    data: (c) => {
      const x = dense(c, [16, 16, 1]);
      return [x, tf.clone(x)];
    },
  },
  {
    name: 'two inputs, two outputs (64 features + tokens of vocab 2,000; softmax class and MSE heads)',
    backend: 'wasm',
    loss: ['softmax-cross-entropy', 'mse'],
    model: () => {
      const feats = tfl.input({ shape: [64], name: 'features' });
      const ids = tfl.input({ shape: [32], name: 'tokens', dtype: 'int32' });
      const e = tfl.layers.embedding({ inputDim: 2000, outputDim: 32, embeddingsInitializer: tfl.initializers.randomNormal({ seed: 1, stddev: 0.1 }) }).apply(ids) as S;
      const pooled = tfl.layers.globalAveragePooling1d({}).apply(e) as S;
      const h = tfl.layers.dense({ units: 128, activation: 'relu', kernelInitializer: g(2) }).apply(feats) as S;
      const trunk = tfl.layers.dense({ units: 128, activation: 'relu', kernelInitializer: g(3) }).apply(tfl.layers.concatenate().apply([h, pooled]) as S) as S;
      const cls = tfl.layers.dense({ units: 10, activation: 'softmax', name: 'cls', kernelInitializer: g(4) }).apply(trunk) as S;
      const reg = tfl.layers.dense({ units: 4, name: 'reg', kernelInitializer: g(5) }).apply(trunk) as S;
      return tfl.model({ inputs: [feats, ids], outputs: [cls, reg] });
    },
    data: (c) => {
      const t = tokens(c, 32, 2000);
      const ids = tf.cast(t, 'int32');
      t.dispose();
      return [
        [dense(c, [64]), ids],
        [classes(c, 10), dense(c, [4])],
      ];
    },
  },
];

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

async function useBackend(name: 'wasm' | 'cpu'): Promise<void> {
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend(name))) throw new Error(`backend ${name} unavailable`);
  await tf.ready();
}

async function run(e: Entry): Promise<Record<string, unknown>> {
  await useBackend(e.backend);
  rngState = 12345;
  const batch = e.batch ?? BATCH;
  const [x, y] = e.data(batch * BATCHES);
  const xs = Array.from({ length: BATCHES }, (_, b) => slices(x, b * batch, batch));
  const ys = Array.from({ length: BATCHES }, (_, b) => slices(y, b * batch, batch));
  const kinds = ['adam', 'fngd', 'kfac', 'kfacDiagonal'] as const;
  const optionsOf: Record<(typeof kinds)[number], FngdTrainerOptions> = {
    adam: { loss: e.loss, optimizer: tf.train.adam(1e-3) },
    fngd: { loss: e.loss },
    kfac: { loss: e.loss, kfac: {} },
    kfacDiagonal: { loss: e.loss, kfac: { nonKronecker: 'diagonal' } },
  };
  const trainers: Record<string, FngdTrainer> = {};
  const params: Record<string, number> = {};
  for (const k of kinds) {
    const m = e.model();
    trainers[k] = await FngdTrainer.create(m, optionsOf[k]);
    params[k] = m.countParams();
    params['trainable'] = m.trainableWeights.reduce((s, w) => s + w.shape.reduce<number>((a, b) => a * (b ?? 1), 1), 0);
  }
  const times: Record<string, number[]> = { adam: [], fngdFresh: [], fngdCached: [], kfac: [], kfacDiagonal: [] };
  const losses: Record<string, number[]> = { adam: [], fngd: [], kfac: [], kfacDiagonal: [] };
  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    for (let b = 0; b < BATCHES; b++) {
      const order = (epoch + b) % 2 === 0 ? [...kinds] : [...kinds].reverse();
      for (const k of order) {
        const t0 = performance.now();
        const r = await (trainers[k] as FngdTrainer).trainBatch(xs[b] as Tensor | Tensor[], ys[b] as Tensor | Tensor[], { batchKey: b, epoch });
        const ms = performance.now() - t0;
        if (epoch === EPOCHS - 1) (losses[k] as number[]).push(r.loss);
        const skipWarmup = epoch === 0 && b === 0; // first call: kernel JIT, filters, device set-up
        if (skipWarmup) continue;
        if (k === 'fngd') (r.fresh ? times['fngdFresh'] : times['fngdCached'])!.push(ms);
        else times[k]!.push(ms);
      }
    }
  }
  const adam = median(times['adam']!);
  const row = {
    model: e.name,
    backend: e.backend,
    batch,
    parameters: params['adam'],
    trainable: params['trainable'],
    adamStepMs: adam,
    fngdFreshStepMs: median(times['fngdFresh']!),
    fngdCachedStepMs: median(times['fngdCached']!),
    kfacStepMs: mean(times['kfac']!),
    kfacDiagonalStepMs: mean(times['kfacDiagonal']!),
    fngdFreshOverAdam: median(times['fngdFresh']!) / adam,
    fngdCachedOverAdam: median(times['fngdCached']!) / adam,
    kfacOverAdam: mean(times['kfac']!) / adam,
    kfacDiagonalOverAdam: mean(times['kfacDiagonal']!) / adam,
    lastEpochLoss: { adam: mean(losses['adam']!), fngd: mean(losses['fngd']!), kfac: mean(losses['kfac']!), kfacDiagonal: mean(losses['kfacDiagonal']!) },
    epochs: EPOCHS,
    batches: BATCHES,
    steps: EPOCHS * BATCHES,
  };
  for (const t of Object.values(trainers)) t.dispose();
  tf.dispose([...all(x), ...all(y), ...xs.flatMap(all), ...ys.flatMap(all)]);
  return row;
}

/** Rows of an earlier run of FILE, kept unless re-run now (so `--only` refreshes single models). */
const previous = (file: string | undefined): Record<string, unknown>[] =>
  file && existsSync(file) ? ((JSON.parse(readFileSync(file, 'utf8')) as { rows: Record<string, unknown>[] }).rows ?? []) : [];
const rows = previous(values.json);
for (const e of ZOO) {
  if (values.only && !e.name.includes(values.only)) continue;
  if (values.backend && e.backend !== values.backend) continue;
  const r = await run(e);
  const at = rows.findIndex((q) => q['model'] === e.name);
  if (at >= 0) rows[at] = r;
  else rows.push(r);
  const f = (v: unknown): string => (v as number).toFixed(2);
  const l = r['lastEpochLoss'] as Record<string, number>;
  console.log(
    `${e.name} [${e.backend}, batch ${String(r['batch'])}, ${String(r['trainable'])} trainable]: Adam ${f(r['adamStepMs'])} ms; FNGD fresh ×${f(r['fngdFreshOverAdam'])}, cached ×${f(r['fngdCachedOverAdam'])}; KFAC ×${f(r['kfacOverAdam'])}, diagonal ×${f(r['kfacDiagonalOverAdam'])}; ` +
      `loss Adam ${l['adam']!.toFixed(3)} FNGD ${l['fngd']!.toFixed(3)} KFAC ${l['kfac']!.toFixed(3)} diagonal ${l['kfacDiagonal']!.toFixed(3)}`,
  );
  if (values.json) {
    const order = ZOO.map((z) => z.name);
    rows.sort((a, b) => order.indexOf(a['model'] as string) - order.indexOf(b['model'] as string));
    writeFileSync(values.json, `${JSON.stringify({ date: new Date().toISOString(), machine: { cpus: cpus().length, node: process.version }, rows }, null, 1)}\n`);
  }
}
