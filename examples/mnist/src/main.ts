/**
 * FNGD return-on-investment on real MNIST (or downloaded IDX/CIFAR images) through TensorFlow.js: the FNGD variants
 * (first-epoch coefficients, drift, auto, always), KFAC (tuned and adaptive), Adam, AdamW, Muon and momentum SGD,
 * with the hyper-parameters chosen by `npm run tune` (read from `tuned/<run>.json`, never typed in here), over
 * several seeds, side by side in one process. An optimizer the tuned file holds no trial of is skipped with a
 * note. BatchNorm models also report their final metric with recalibrated statistics (`recalibrate.ts`).
 *
 *   npm run demo -- [--task classifier|autoencoder] [--model mlp|cnn|resnet|vit] [--batch N] [--seeds K]
 *     [--tuned FILE] [--data SPEC] [--backend cpu|wasm|webgpu|auto] [--epochs N] [--quick] [--out DIR]
 *     [--json FILE] [--optimizers a,b]
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { FngdTrainer, type EpochLogs, type FngdTrainerOptions } from '@ifngd/adapters-tfjs';
import { FactorizationError, NonFiniteError } from 'ifngd';
import { BACKENDS, setBackend, type BackendName } from './backend.js';
import { DATA_HELP, loadData, protocolSplits, sizesFor } from './data.js';
import { buildModel, describeModel, MODEL_KINDS, TASKS, type ModelKind, type Task } from './models.js';
import { evaluationSet, TrainSet } from './train-set.js';
import { batchNormLayers, recalibrateBatchNorm } from './recalibrate.js';
import { describeConfig, releaseOptions, trainerOptions } from './optimizers.js';
import { renderCharts } from './charts.js';
import { buildReport, printReport, type Run } from './report.js';
import { OPTIMIZERS, type OptName } from './search.js';
import { seedPlan } from './trial.js';
import { readTuned, runName, tuneCommand, tunedOptimizers, tunedPath } from './tuned.js';
import type { EpochRow } from './summary.js';

interface Args {
  task: Task;
  model: ModelKind;
  backend: BackendName;
  batch: number;
  seeds: number;
  epochs: number | null;
  quick: boolean;
  out: string;
  json: string | null;
  tuned: string | null;
  only: OptName[];
  data: string;
}

const HELP = `npm run demo -- [flags]

Trains MNIST (real digits) with every optimizer at its tuned setting (examples/mnist/tuned/), several seeds in
lockstep, then prints per-epoch tables, the return-on-investment summary, and writes charts and a JSON report.
The default run (classifier, batch 128, every optimizer tuned there) takes about 25 minutes on two CPU cores,
the autoencoder longer; --quick about a minute.

  --task classifier|autoencoder   what to train (default classifier)
  --model mlp|cnn|resnet|vit      the classifier's model (default mlp; the autoencoder is an MLP). resnet
                                  (BatchNorm, residual blocks) and vit (a transformer over 7×7 patches) are
                                  the FNGD paper's two experiments at digit scale: 3,000 / 1,000 digits,
                                  shifted anew every epoch
  --batch N                       batch size, one of the tuned ones: 128, 512, 1024 (default 128)
  --seeds K                       seeds 1..K (default 3; --quick: 1)
  --epochs N                      epochs (default: the tuned horizon; --quick: 3)
  --quick                         2,000 / 500 digits, 3 epochs, one seed: a smoke run
  --backend auto|cpu|wasm|webgpu  tfjs backend (default auto: wasm where it trains the model)
  --optimizers a,b,…              a subset of (default all):
                                  ${OPTIMIZERS.slice(0, 6).join(', ')},
                                  ${OPTIMIZERS.slice(6).join(', ')}
  --data SPEC                     ${DATA_HELP}
  --tuned FILE                    tuned settings (default: the committed file for task and batch)
  --out DIR                       where charts and the JSON go (default mnist-out, under examples/mnist)
  --json FILE                     the JSON report's path (default DIR/<run>.json)
  -h, --help                      this text`;

/** Paths are printed relative to where the command ran (`npm run demo` from the repository root runs it here). */
const shownFrom = process.env['INIT_CWD'] ?? process.cwd();

function parse(argv: string[]): Args {
  const { values } = parseArgs({
    args: argv,
    options: {
      task: { type: 'string', default: 'classifier' },
      model: { type: 'string', default: 'mlp' },
      backend: { type: 'string', default: 'auto' },
      batch: { type: 'string', default: '128' },
      seeds: { type: 'string' },
      epochs: { type: 'string' },
      quick: { type: 'boolean', default: false },
      out: { type: 'string', default: 'mnist-out' },
      json: { type: 'string' },
      tuned: { type: 'string' },
      optimizers: { type: 'string', default: OPTIMIZERS.join(',') },
      data: { type: 'string', default: 'mnist' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const int = (name: string, v: string | undefined): number | null => {
    if (v === undefined) return null;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
    return n;
  };
  const task = values.task as Task;
  if (!TASKS.includes(task)) throw new Error(`--task must be one of ${TASKS.join(', ')}, got ${values.task}`);
  const model = values.model as ModelKind;
  if (!MODEL_KINDS.includes(model)) throw new Error(`--model must be one of ${MODEL_KINDS.join(', ')}, got ${values.model}`);
  if (model !== 'mlp' && task !== 'classifier') throw new Error(`--model ${model} is a classifier`);
  if (!BACKENDS.includes(values.backend as BackendName))
    throw new Error(`--backend must be one of ${BACKENDS.join(', ')}, got ${values.backend}`);
  const only = values.optimizers.split(',') as OptName[];
  for (const o of only) if (!OPTIMIZERS.includes(o)) throw new Error(`--optimizers: unknown ${o}`);
  return {
    task,
    model,
    backend: values.backend as BackendName,
    batch: int('batch', values.batch) ?? 128,
    seeds: int('seeds', values.seeds) ?? (values.quick ? 1 : 3),
    epochs: int('epochs', values.epochs),
    quick: values.quick,
    out: values.out,
    json: values.json ?? null,
    tuned: values.tuned ?? null,
    only,
    data: values.data,
  };
}

function bar(done: number, total: number, width = 24): string {
  const f = Math.round((done / total) * width);
  return `[${'#'.repeat(f)}${'.'.repeat(width - f)}]`;
}

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  const pool = loadData(args.data);
  const image = { shape: pool.shape, classes: pool.classes };
  const tunedFile = resolve(args.tuned ?? tunedPath(args.task, args.batch, undefined, args.model, pool.source));
  const tuned = readTuned(tunedFile);
  if (!tuned.complete || !tuned.initializer.chosen) {
    throw new Error(
      `${tunedFile} is incomplete (${tuned.trials.length} trials so far): finish it with \`${tuneCommand(tuned, args.data)}\``,
    );
  }
  const tunedSource = tuned.data.source ?? 'mnist';
  const samePool = tunedSource === pool.source && (tuned.data.images === undefined || tuned.data.images === pool.count);
  if (tuned.task !== args.task || tuned.model !== args.model || tuned.batchSize !== args.batch || !samePool) {
    throw new Error(
      `${tunedFile} was tuned for ${tuned.task} (${tuned.model}, ${tunedSource}) batch ${tuned.batchSize}, not ${args.task} (${args.model}, ${pool.source}) batch ${args.batch}`,
    );
  }
  const { run: only, absent, diverged } = tunedOptimizers(tuned, args.only);
  if (diverged.length > 0) throw new Error(`${tunedFile}: no surviving trial for ${diverged.join(', ')}`);
  for (const o of absent) {
    console.log(
      `note: ${o} is skipped — ${relative(shownFrom, tunedFile)} holds no trial of it (tuned without it);\n` +
        `      \`${tuneCommand(tuned, args.data)}\` adds its trials and keeps the others`,
    );
  }
  if (only.length === 0) throw new Error(`${tunedFile}: none of ${args.only.join(', ')} was tuned`);
  const init = tuned.initializer.chosen;
  const epochs = args.epochs ?? (args.quick ? 3 : tuned.epochs);
  const backend = await setBackend(args.backend);
  const metric = args.task === 'classifier' ? 'testAccuracy' : 'testLoss';
  const sizes = sizesFor(args.model, args.quick);
  const data = protocolSplits(pool, sizes);
  const train = new TrainSet(args.task, args.model, { ...data.train, flips: pool.flips });
  const [xTest, yTest] = evaluationSet(args.task, args.model, data.test);
  const seeds = Array.from({ length: args.seeds }, (_, i) => i + 1);
  console.log(
    `${pool.source === 'mnist' ? 'MNIST' : pool.source} ${args.task} (${describeModel(args.task, args.model, image, pool.flips)}), ${sizes.train}/${sizes.test} real images, batch ${args.batch}, ${epochs} epochs,\n` +
      `seeds ${seeds.join(',')}, backend ${backend}, initializer ${init}\ntuned settings: ${relative(shownFrom, tunedFile)} (${tuned.trialsPerOptimizer} trials per optimizer, ${tuned.epochs} epochs, validation split)`,
  );
  for (const o of only) console.log(`  ${o.padEnd(11)} ${describeConfig(tuned.best[o]!.config)}`);
  if (only.some((o) => o.startsWith('fngd') || o === 'kfac')) {
    console.log(
      "(n fresh): batches whose FNGD coefficients were computed in that epoch — the others reused the cached ones —\n" +
        'or, for KFAC, the steps that refreshed its inverses.',
    );
  }

  // warm-up (JIT, wasm compilation) so that the first timed optimizer is not penalised
  const warmers = (['sgd', 'fngd'] as const).filter((o) => only.includes(o));
  for (const name of warmers.length > 0 ? warmers : [only[0]!]) {
    const m = buildModel(args.task, args.model, init, 999, image);
    const options = trainerOptions(args.task, name, tuned.best[name]!.config);
    const t = await FngdTrainer.create(m, options);
    const warm = train.epoch(0, 0);
    const xb = tf.slice(warm.x, [0], [Math.min(args.batch, sizes.train)]);
    const yb = tf.slice(train.y, [0], [Math.min(args.batch, sizes.train)]);
    warm.release();
    for (let i = 0; i < 3; i++) await t.trainBatch(xb, yb, { batchKey: 0, epoch: i });
    tf.dispose([xb, yb]);
    t.dispose();
    releaseOptions(options);
    m.dispose();
  }

  // every (seed, optimizer) advances in lockstep — epoch e of each before epoch e+1 of any — so that load on
  // the machine hits all of them alike; each has its own model, trainer and seeded batch partition
  const live: { run: Run; model: ReturnType<typeof buildModel>; trainer: FngdTrainer; options: FngdTrainerOptions; diverged: boolean }[] = [];
  for (const seed of seeds) {
    for (const name of only) {
      const model = buildModel(args.task, args.model, init, seedPlan(seed).weights, image);
      const options = trainerOptions(args.task, name, tuned.best[name]!.config);
      const trainer = await FngdTrainer.create(model, options);
      live.push({ run: { optimizer: name, seed, epochs: [], diverged: null }, model, trainer, options, diverged: false });
    }
  }
  const tty = process.stderr.isTTY;
  for (let e = 0; e < epochs; e++) {
    // one epoch's (augmented) inputs per seed, shared by every optimizer of that seed
    const epochInputs = new Map<number, ReturnType<typeof train.epoch>>();
    for (const l of live) {
      if (l.diverged) continue;
      const { run } = l;
      let inputs = epochInputs.get(run.seed);
      if (!inputs) epochInputs.set(run.seed, (inputs = train.epoch(run.seed, e)));
      try {
        await l.trainer.fit(inputs.x, train.y, {
          ...train.identity,
          epochs: 1,
          batchSize: args.batch,
          seed: seedPlan(run.seed).partition,
          validationData: [xTest, yTest],
          callbacks: {
            onBatchEnd(b, logs) {
              if (tty && (b % 4 === 0 || b === logs.batches - 1))
                process.stderr.write(
                  `\r  ${run.optimizer.padEnd(11)} seed ${run.seed} epoch ${e + 1}/${epochs} ${bar(b + 1, logs.batches)} loss ${logs.loss.toFixed(4)}   `,
                );
            },
            onEpochEnd(_e, lg: EpochLogs) {
              const row: EpochRow = {
                epoch: e + 1,
                seconds: lg.seconds,
                trainLoss: lg.trainLoss,
                testLoss: lg.valLoss ?? NaN,
                ...(lg.valAccuracy === undefined ? {} : { testAccuracy: lg.valAccuracy }),
              };
              run.epochs.push(row);
              if (!Number.isFinite(row.trainLoss) || !Number.isFinite(row.testLoss)) {
                run.diverged = `epoch ${e + 1}: non-finite loss`;
                l.diverged = true;
              }
              if (tty) process.stderr.write('\r');
              const m =
                row.testAccuracy !== undefined
                  ? `test acc ${(row.testAccuracy * 100).toFixed(2)}%`
                  : `test loss ${row.testLoss.toFixed(2)}`;
              console.log(
                `  ${run.optimizer.padEnd(11)} seed ${run.seed} epoch ${String(row.epoch).padStart(2)}/${epochs} ${row.seconds.toFixed(2)} s  train loss ${row.trainLoss.toFixed(4)}  ${m}${lg.freshBatches ? `  (${lg.freshBatches} fresh)` : ''}`,
              );
            },
          },
        });
      } catch (err) {
        if (!(err instanceof NonFiniteError) && !(err instanceof FactorizationError)) throw err;
        run.diverged = `epoch ${e + 1}: ${err.message}`;
        l.diverged = true;
        console.log(`  ${run.optimizer.padEnd(11)} seed ${run.seed} DIVERGED at epoch ${e + 1}`);
      }
    }
    for (const inputs of epochInputs.values()) inputs.release();
  }
  // BatchNorm models: the final test metric once more, with running statistics re-estimated (not timed)
  if (live.some((l) => batchNormLayers(l.model).length > 0)) {
    const [xFit, yFit] = evaluationSet(args.task, args.model, data.train);
    yFit.dispose();
    for (const l of live) {
      if (l.diverged || batchNormLayers(l.model).length === 0) continue;
      recalibrateBatchNorm(l.model, xFit);
      const v = await l.trainer.evaluate(xTest, yTest);
      l.run.recalibrated = { testLoss: v.loss, ...(v.accuracy === undefined ? {} : { testAccuracy: v.accuracy }) };
    }
    xFit.dispose();
  }
  for (const l of live) {
    const stats = l.trainer.stats;
    if (stats) l.run.stats = stats;
    l.trainer.dispose();
    releaseOptions(l.options);
    l.model.dispose();
  }
  train.dispose();
  tf.dispose([xTest, yTest]);

  const report = buildReport({
    task: args.task,
    model: args.model,
    ...(pool.source === 'mnist' ? {} : { data: { source: pool.source, shape: [...pool.shape], flips: pool.flips } }),
    backend,
    metric,
    batchSize: args.batch,
    epochs,
    seeds,
    sizes: { train: sizes.train, test: sizes.test },
    tuned: {
      file: relative(resolve('.'), tunedFile),
      initializer: init,
      best: Object.fromEntries(only.map((o) => [o, tuned.best[o]!.config])),
      scores: Object.fromEntries(only.map((o) => [o, tuned.best[o]!.score])),
      trialsPerOptimizer: tuned.trialsPerOptimizer,
    },
    runs: live.map((l) => l.run),
  });
  printReport(report);
  const out = resolve(args.out);
  mkdirSync(out, { recursive: true });
  const base = `${runName(args.task, args.model, args.batch, pool.source)}${args.quick ? '-quick' : ''}`;
  const files = await renderCharts(report, join(out, base));
  const jsonPath = resolve(args.json ?? join(out, `${base}.json`));
  writeFileSync(jsonPath, JSON.stringify(report, null, 1) + '\n');
  files.push(jsonPath);
  console.log(`\nwrote:\n${files.map((p) => `  ${relative(shownFrom, p)}`).join('\n')}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});
