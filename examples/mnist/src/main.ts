/**
 * FNGD return-on-investment on real MNIST through TensorFlow.js: fngd (first-epoch coefficients), fngd-drift,
 * fngd-always, tfjs Adam and tfjs momentum SGD, side by side in one process on one backend, same data, same
 * initial weights, same fixed batch partition and batch order.
 *
 *   npm run demo -w examples/mnist -- [--task classifier|autoencoder] [--model mlp|cnn]
 *     [--backend cpu|wasm|webgpu|auto] [--epochs N] [--quick] [--out DIR] [--json FILE]
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { FngdTrainer, type EpochLogs, type FngdTrainerOptions, type TrainerFngdOptions } from '@ifngd/adapters-tfjs';
import { loadAll, split, type Digits } from './data.js';
import { writeChart, type Series } from './plot.js';

type Task = 'classifier' | 'autoencoder';
type OptName = 'fngd' | 'fngd-drift' | 'fngd-always' | 'adam' | 'sgd';
const OPTIMIZERS: readonly OptName[] = ['fngd', 'fngd-drift', 'fngd-always', 'adam', 'sgd'];
const COLORS: Record<OptName, string> = { fngd: '#d62728', 'fngd-drift': '#ff7f0e', 'fngd-always': '#9467bd', adam: '#1f77b4', sgd: '#2ca02c' };

interface Args {
  task: Task;
  model: 'mlp' | 'cnn';
  backend: 'cpu' | 'wasm' | 'webgpu' | 'auto';
  epochs: number;
  quick: boolean;
  out: string;
  json: string | null;
  only: OptName[];
}

function parseArgs(argv: string[]): Args {
  const a: Args = { task: 'classifier', model: 'mlp', backend: 'auto', epochs: 10, quick: false, out: 'mnist-out', json: null, only: [...OPTIMIZERS] };
  let epochsSet = false;
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = (): string => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${k} needs a value`);
      return x;
    };
    if (k === '--task') a.task = v() as Task;
    else if (k === '--model') a.model = v() as Args['model'];
    else if (k === '--backend') a.backend = v() as Args['backend'];
    else if (k === '--epochs') {
      a.epochs = Number(v());
      epochsSet = true;
    } else if (k === '--quick') a.quick = true;
    else if (k === '--out') a.out = v();
    else if (k === '--json') a.json = v();
    else if (k === '--optimizers') a.only = v().split(',') as OptName[];
    else if (k === '--help' || k === '-h') {
      console.log('flags: --task classifier|autoencoder --model mlp|cnn --backend cpu|wasm|webgpu|auto --epochs N --quick --out DIR --json FILE [--optimizers fngd,adam,...]');
      process.exit(0);
    } else throw new Error(`unknown flag ${k}`);
  }
  if (!['classifier', 'autoencoder'].includes(a.task)) throw new Error(`--task: ${a.task}`);
  if (!['mlp', 'cnn'].includes(a.model)) throw new Error(`--model: ${a.model}`);
  if (!['cpu', 'wasm', 'webgpu', 'auto'].includes(a.backend)) throw new Error(`--backend: ${a.backend}`);
  if (a.quick && !epochsSet) a.epochs = 3;
  if (!Number.isSafeInteger(a.epochs) || a.epochs < 1) throw new Error('--epochs must be a positive integer');
  for (const o of a.only) if (!OPTIMIZERS.includes(o)) throw new Error(`--optimizers: unknown ${o}`);
  return a;
}

/**
 * tfjs-backend-wasm 4.22 registers no Conv2DBackpropFilter kernel, so convolutions cannot be trained there:
 * `--backend auto` picks cpu for the CNN and an explicit `--backend wasm --model cnn` is refused up front.
 */
async function setBackend(kind: Args['backend'], model: 'mlp' | 'cnn'): Promise<string> {
  if (model === 'cnn' && kind === 'wasm') {
    throw new Error('--model cnn cannot train on --backend wasm: tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter kernel (use cpu or webgpu)');
  }
  if (model === 'cnn' && kind === 'auto') kind = 'cpu';
  const tryWasm = async (): Promise<boolean> => {
    await import('@tensorflow/tfjs-backend-wasm');
    return tf.setBackend('wasm');
  };
  if (kind === 'webgpu') {
    const { create, globals } = await import('webgpu');
    Object.assign(globalThis, globals);
    (globalThis as { navigator?: unknown }).navigator = { gpu: create([]), userAgent: 'node' };
    await import('@tensorflow/tfjs-backend-webgpu');
    if (!(await tf.setBackend('webgpu'))) throw new Error('the webgpu backend is not available (no adapter? see scripts/setup-webgpu.sh)');
  } else if (kind === 'wasm') {
    if (!(await tryWasm())) throw new Error('the wasm backend is not available');
  } else if (kind === 'cpu') {
    await import('@tensorflow/tfjs-backend-cpu');
    await tf.setBackend('cpu');
  } else {
    // auto: wasm is the fastest backend on a CPU-only machine (see README); cpu as the fallback
    let ok = false;
    try {
      ok = await tryWasm();
    } catch {
      ok = false;
    }
    if (!ok) {
      await import('@tensorflow/tfjs-backend-cpu');
      await tf.setBackend('cpu');
    }
  }
  await tf.ready();
  return tf.getBackend();
}

/**
 * Fixed hyper-parameters, tuned once per task (see README) — never per run. Batch size 128 everywhere.
 */
function hyper(task: Task): { sgd: [number, number]; adam: number; fngd: TrainerFngdOptions } {
  const h = baseHyper(task);
  // tuning only (the README's one-time sweeps); never set for reported runs
  const lr = process.env['FNGD_LR'];
  const damping = process.env['FNGD_DAMPING'];
  return {
    ...h,
    fngd: { ...h.fngd, ...(lr ? { learningRate: Number(lr) } : {}), ...(damping ? { damping: Number(damping) } : {}) },
  };
}

function baseHyper(task: Task): { sgd: [number, number]; adam: number; fngd: TrainerFngdOptions } {
  if (task === 'classifier') {
    return { sgd: [0.05, 0.9], adam: 1e-3, fngd: { learningRate: 0.05, momentum: 0.9, damping: 10, mode: 'global' } };
  }
  return { sgd: [0.002, 0.9], adam: 1e-3, fngd: { learningRate: 0.3, momentum: 0.9, damping: 10, mode: 'layerwise' } };
}

function buildModel(task: Task, kind: 'mlp' | 'cnn', seed: number): tfl.LayersModel {
  let s = seed;
  const init = () => tfl.initializers.glorotUniform({ seed: s++ });
  if (task === 'autoencoder') {
    const sizes = [256, 64, 16, 64, 256];
    return tfl.sequential({
      layers: [
        ...sizes.map((u, i) => tfl.layers.dense({ units: u, activation: 'tanh', kernelInitializer: init(), ...(i === 0 ? { inputShape: [784] } : {}) })),
        tfl.layers.dense({ units: 784, activation: 'sigmoid', kernelInitializer: init() }),
      ],
    });
  }
  if (kind === 'cnn') {
    return tfl.sequential({
      layers: [
        tfl.layers.reshape({ targetShape: [28, 28, 1], inputShape: [784] }),
        tfl.layers.conv2d({ filters: 8, kernelSize: 5, activation: 'relu', kernelInitializer: init() }),
        tfl.layers.maxPooling2d({ poolSize: 2 }),
        tfl.layers.conv2d({ filters: 16, kernelSize: 5, activation: 'relu', kernelInitializer: init() }),
        tfl.layers.maxPooling2d({ poolSize: 2 }),
        tfl.layers.flatten(),
        tfl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init() }),
      ],
    });
  }
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 256, activation: 'relu', inputShape: [784], kernelInitializer: init() }),
      tfl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init() }),
    ],
  });
}

function tensors(task: Task, d: Digits): [tf.Tensor, tf.Tensor] {
  const x = tf.tensor2d(d.images, [d.count, 784]);
  const y = task === 'classifier' ? tf.cast(tf.oneHot(tf.tensor1d(d.labels, 'int32'), 10), 'float32') : x.clone();
  return [x, y];
}

function trainerOptions(task: Task, name: OptName): FngdTrainerOptions {
  const h = hyper(task);
  const loss = task === 'classifier' ? 'softmax-cross-entropy' : 'sigmoid-cross-entropy';
  switch (name) {
    case 'adam':
      return { loss, optimizer: tf.train.adam(h.adam) };
    case 'sgd':
      return { loss, optimizer: tf.train.momentum(h.sgd[0], h.sgd[1]) };
    case 'fngd':
      return { loss, fngd: { ...h.fngd, refresh: 'first-epoch' } };
    case 'fngd-drift':
      return { loss, fngd: { ...h.fngd, refresh: 'drift' } };
    case 'fngd-always':
      return { loss, fngd: { ...h.fngd, refresh: 'always' } };
  }
}

interface EpochRow {
  epoch: number;
  seconds: number;
  trainLoss: number;
  testAccuracy?: number;
  testLoss: number;
}
interface Run {
  optimizer: OptName;
  epochs: EpochRow[];
  timeToTarget: number | null;
  stats?: unknown;
}

function bar(done: number, total: number, width = 24): string {
  const f = Math.round((done / total) * width);
  return `[${'#'.repeat(f)}${'.'.repeat(width - f)}]`;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const backend = await setBackend(args.backend, args.task === 'autoencoder' ? 'mlp' : args.model);
  const metric = args.task === 'classifier' ? 'testAccuracy' : 'testLoss';
  const [nTrain, nTest] = args.quick ? [2000, 500] : [8000, 2000];
  const all = loadAll();
  const data = split(all, nTrain, nTest);
  const [xTrain, yTrain] = tensors(args.task, data.train);
  const [xTest, yTest] = tensors(args.task, data.test);
  const batchSize = 128;
  const modelKind = args.task === 'autoencoder' ? 'mlp' : args.model;
  console.log(`MNIST ${args.task} (${args.task === 'autoencoder' ? '784-256-64-16-64-256-784 tanh' : modelKind === 'cnn' ? 'CNN' : 'MLP 784-256-10'}), ` +
    `${nTrain}/${nTest} real digits, batch ${batchSize}, ${args.epochs} epochs, backend ${backend}, ${args.only.join(', ')}`);

  // warm-up (JIT, kernel compilation, wasm threads) so that the first timed optimizer is not penalised
  for (const name of ['sgd', 'fngd'] as const) {
    const m = buildModel(args.task, modelKind, 999);
    const t = await FngdTrainer.create(m, trainerOptions(args.task, name));
    const xb = tf.slice(xTrain, [0], [batchSize]);
    const yb = tf.slice(yTrain, [0], [batchSize]);
    for (let i = 0; i < 3; i++) await t.trainBatch(xb, yb, { batchKey: 0, epoch: i });
    tf.dispose([xb, yb]);
    t.dispose();
    m.dispose();
  }

  // all optimizers advance in lockstep, one epoch each in turn, so that load on the machine (and thermal or
  // scheduler drift) hits every optimizer alike; each keeps its own model, trainer and fixed batch partition
  const runs: Run[] = [];
  const live: { name: OptName; model: tfl.LayersModel; trainer: FngdTrainer; run: Run }[] = [];
  for (const name of args.only) {
    const model = buildModel(args.task, modelKind, 1);
    const trainer = await FngdTrainer.create(model, trainerOptions(args.task, name));
    const run: Run = { optimizer: name, epochs: [], timeToTarget: null };
    runs.push(run);
    live.push({ name, model, trainer, run });
  }
  const tty = process.stderr.isTTY;
  for (let e = 0; e < args.epochs; e++) {
    for (const { name, trainer, run } of live) {
      const rows = run.epochs;
      await trainer.fit(xTrain, yTrain, {
        epochs: 1,
        batchSize,
        seed: 7,
        validationData: [xTest, yTest],
        callbacks: {
          onBatchEnd(b, logs) {
            if (tty && (b % 4 === 0 || b === logs.batches - 1)) process.stderr.write(`\r  ${name.padEnd(11)} epoch ${rows.length + 1}/${args.epochs} ${bar(b + 1, logs.batches)} loss ${logs.loss.toFixed(4)}   `);
          },
          onEpochEnd(_e, l: EpochLogs) {
            const row: EpochRow = { epoch: rows.length + 1, seconds: l.seconds, trainLoss: l.trainLoss, testLoss: l.valLoss ?? NaN, ...(l.valAccuracy === undefined ? {} : { testAccuracy: l.valAccuracy }) };
            rows.push(row);
            if (tty) process.stderr.write('\r');
            const m = row.testAccuracy !== undefined ? `test acc ${(row.testAccuracy * 100).toFixed(2)}%` : `test loss ${row.testLoss.toFixed(2)}`;
            console.log(`  ${name.padEnd(11)} epoch ${String(row.epoch).padStart(2)}/${args.epochs} ${bar(row.epoch, args.epochs, 10)} ${row.seconds.toFixed(2)} s  train loss ${row.trainLoss.toFixed(4)}  ${m}${l.freshBatches ? `  (${l.freshBatches} fresh)` : ''}`);
          },
        },
      });
    }
  }
  for (const { trainer, model, run } of live) {
    const stats = trainer.stats;
    if (stats) run.stats = stats;
    trainer.dispose();
    model.dispose();
  }

  // target: classifier — 0.5 points below the best baseline's final accuracy; autoencoder — Adam's final test loss
  const final = (r: Run | undefined): number | undefined => {
    const last = r?.epochs.at(-1);
    return last ? (metric === 'testAccuracy' ? last.testAccuracy : last.testLoss) : undefined;
  };
  const byName = (n: OptName): Run | undefined => runs.find((r) => r.optimizer === n);
  let target: number;
  if (metric === 'testAccuracy') {
    const best = Math.max(...(['adam', 'sgd'] as const).map((n) => final(byName(n)) ?? -Infinity));
    target = Number.isFinite(best) ? Math.round((best - 0.005) * 1000) / 1000 : 0.95;
  } else {
    target = final(byName('adam')) ?? Math.min(...runs.map((r) => final(r) ?? Infinity));
  }
  const reached = (row: EpochRow): boolean => (metric === 'testAccuracy' ? (row.testAccuracy ?? 0) >= target : row.testLoss <= target);
  for (const r of runs) {
    let t = 0;
    r.timeToTarget = null;
    for (const row of r.epochs) {
      t += row.seconds;
      if (reached(row)) {
        r.timeToTarget = t;
        break;
      }
    }
  }
  const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / Math.max(xs.length, 1);
  const sgdEpoch = mean(byName('sgd')?.epochs.map((e) => e.seconds) ?? []);
  const ratio = (a: number | null | undefined, b: number | null | undefined): number | null => (a != null && b != null && b > 0 ? a / b : null);
  const roiFor = (n: OptName): { firstEpochRatio: number | null; steadyEpochRatio: number | null; timeToTargetRatioVsAdam: number | null; timeToTargetRatioVsSgd: number | null } => {
    const r = byName(n);
    const e = r?.epochs ?? [];
    return {
      firstEpochRatio: ratio(e[0]?.seconds, sgdEpoch || null),
      steadyEpochRatio: e.length > 1 ? ratio(mean(e.slice(1).map((x) => x.seconds)), sgdEpoch || null) : null,
      timeToTargetRatioVsAdam: ratio(r?.timeToTarget, byName('adam')?.timeToTarget),
      timeToTargetRatioVsSgd: ratio(r?.timeToTarget, byName('sgd')?.timeToTarget),
    };
  };
  const roi = roiFor('fngd');
  const roiVariants = Object.fromEntries((['fngd', 'fngd-drift', 'fngd-always'] as const).filter((n) => byName(n)).map((n) => [n, roiFor(n)]));

  // per-epoch table
  console.log(`\nPer-epoch table (seconds = training time of the epoch; metric on the ${nTest.toLocaleString('en-US')} held-out digits):`);
  const head = ['epoch', ...runs.map((r) => r.optimizer)];
  console.log(head.map((h) => h.padStart(h === 'epoch' ? 5 : 24)).join(''));
  for (let e = 0; e < args.epochs; e++) {
    const cells = runs.map((r) => {
      const row = r.epochs[e];
      if (!row) return '-'.padStart(24);
      const m = metric === 'testAccuracy' ? `${((row.testAccuracy ?? 0) * 100).toFixed(2)}%` : row.testLoss.toFixed(2);
      return `${row.seconds.toFixed(2)}s ${row.trainLoss.toFixed(3)} ${m}`.padStart(24);
    });
    console.log(String(e + 1).padStart(5) + cells.join(''));
  }
  console.log(`(cells: seconds, train loss, ${metric === 'testAccuracy' ? 'test accuracy' : 'test loss'})`);

  // ROI summary
  const f = (x: number | null, d = 2): string => (x === null ? 'n/a' : x.toFixed(d));
  console.log(`\nROI summary — target ${metric === 'testAccuracy' ? `test accuracy ≥ ${(target * 100).toFixed(1)}%` : `test loss ≤ ${target.toFixed(2)} (Adam's final)`}; ratios are time ÷ baseline time:`);
  for (const [n, r] of Object.entries(roiVariants)) {
    const run = byName(n as OptName);
    console.log(`  ${n.padEnd(11)} epoch-1 overhead ${f(r.firstEpochRatio)}× SGD epoch, steady ${f(r.steadyEpochRatio)}×, time to target ${run?.timeToTarget == null ? 'not reached' : `${run.timeToTarget.toFixed(1)} s`} (vs Adam ${f(r.timeToTargetRatioVsAdam)}, vs SGD ${f(r.timeToTargetRatioVsSgd)}), final ${metric} ${f(final(run) ?? null, 4)}`);
  }
  for (const n of ['adam', 'sgd'] as const) {
    const run = byName(n);
    if (run) console.log(`  ${n.padEnd(11)} mean epoch ${mean(run.epochs.map((e) => e.seconds)).toFixed(2)} s, time to target ${run.timeToTarget == null ? 'not reached' : `${run.timeToTarget.toFixed(1)} s`}, final ${metric} ${f(final(run) ?? null, 4)}`);
  }
  const verdict: string[] = [];
  const fngdFinal = final(byName('fngd'));
  const baseBest = metric === 'testAccuracy' ? Math.max(final(byName('adam')) ?? -Infinity, final(byName('sgd')) ?? -Infinity) : Math.min(final(byName('adam')) ?? Infinity, final(byName('sgd')) ?? Infinity);
  if (roi.timeToTargetRatioVsAdam !== null && roi.timeToTargetRatioVsAdam < 1 && roi.timeToTargetRatioVsSgd !== null && roi.timeToTargetRatioVsSgd < 1) verdict.push('FNGD reached the target sooner than both baselines: the first-epoch investment paid off here.');
  else verdict.push('FNGD did NOT reach the target sooner than both baselines: the first-epoch investment did not pay off here.');
  if (fngdFinal !== undefined && Number.isFinite(baseBest)) {
    const better = metric === 'testAccuracy' ? fngdFinal >= baseBest : fngdFinal <= baseBest;
    verdict.push(`Final ${metric}: fngd ${fngdFinal.toFixed(4)} vs best baseline ${baseBest.toFixed(4)} (${better ? 'fngd as good or better' : 'baseline better'}).`);
  }
  for (const v of verdict) console.log(`  → ${v}`);

  // plots and JSON
  const out = resolve(args.out);
  mkdirSync(out, { recursive: true });
  const files: string[] = [];
  const series = (pick: (row: EpochRow, cum: number) => [number, number]): Series[] =>
    runs.map((r) => {
      let cum = 0;
      return { name: r.optimizer, color: COLORS[r.optimizer], points: r.epochs.map((row) => pick(row, (cum += row.seconds))) };
    });
  const mval = (row: EpochRow): number => (metric === 'testAccuracy' ? (row.testAccuracy ?? NaN) * 100 : row.testLoss);
  const mlabel = metric === 'testAccuracy' ? 'test accuracy (%)' : 'test loss (summed BCE per image)';
  const title = `MNIST ${args.task}, ${backend}`;
  files.push(...(await writeChart({ title: `${title}: ${mlabel} vs epoch`, xLabel: 'epoch', yLabel: mlabel, series: series((r) => [r.epoch, mval(r)]) }, join(out, `${args.task}-metric-epoch`))));
  files.push(...(await writeChart({ title: `${title}: ${mlabel} vs time`, xLabel: 'training seconds', yLabel: mlabel, series: series((r, c) => [c, mval(r)]) }, join(out, `${args.task}-metric-time`))));
  files.push(...(await writeChart({ title: `${title}: training loss vs epoch`, xLabel: 'epoch', yLabel: 'training loss', series: series((r) => [r.epoch, r.trainLoss]) }, join(out, `${args.task}-loss-epoch`))));
  files.push(...(await writeChart({ title: `${title}: training loss vs time`, xLabel: 'training seconds', yLabel: 'training loss', series: series((r, c) => [c, r.trainLoss]) }, join(out, `${args.task}-loss-time`))));
  const report = { task: args.task, backend, metric, target, runs, roi, roiByVariant: roiVariants, config: { model: modelKind, train: nTrain, test: nTest, batchSize, epochs: args.epochs, hyper: hyper(args.task) } };
  const jsonPath = resolve(args.json ?? join(out, `${args.task}.json`));
  writeFileSync(jsonPath, JSON.stringify(report, null, 2));
  files.push(jsonPath);
  console.log(`\nwrote ${files.map((p) => p.replace(process.cwd() + '/', '')).join(', ')}`);
  tf.dispose([xTrain, yTrain, xTest, yTest]);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : e);
  process.exit(1);
});
