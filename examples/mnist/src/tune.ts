/**
 * `npm run tune -- --task classifier|autoencoder [--model mlp|cnn|resnet|vit] [--data SPEC] [--batch N] [--trials K]
 *   [--epochs E] [--optimizers a,b] [--quick] [--out DIR]`
 *
 * The fair-benchmark tuning protocol (see search.ts for the sampling):
 * 1. Validation digits are carved from the 8,000 training digits (6,400 fit / 1,600 validation); the 2,000
 *    test digits are never loaded into a trial.
 * 2. Set-up choice shared by all optimizers — the weight initializer (glorot-uniform vs lecun-normal) — is made
 *    by **Adam's** best validation score: Adam's `K` trials run under each initializer.
 * 3. Every optimizer then gets the same `K` trials under the chosen initializer; the horizon is the reported
 *    run's epoch budget; the score is the final-epoch validation metric (accuracy for the classifier, summed
 *    BCE for the autoencoder). One seed (0) for tuning; reported runs use seeds 1…K.
 * The file is rewritten after every trial, so a killed run resumes.
 * @module
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { BACKENDS, setBackend, type BackendName } from './backend.js';
import { DATA_HELP, loadData, protocolSplits, sizesFor, VALIDATION_SEED, type Dataset } from './data.js';
import { defaultEpochs, INITIALIZERS, MODEL_KINDS, TASKS, type Initializer, type ModelKind, type Task } from './models.js';
import { evaluationSet, TrainSet } from './train-set.js';
import { describeConfig } from './optimizers.js';
import { MOMENTUM, OPTIMIZERS, sampleTrials, SEARCH_SEED, SPACES, type OptName } from './search.js';
import { runTrial, TUNING_SEED } from './trial.js';
import {
  better,
  bestTrial,
  protocolMismatch,
  readTuned,
  tunedPath,
  TUNED_DIR,
  writeTuned,
  type Protocol,
  type TrialRecord,
  type TunedFile,
} from './tuned.js';

/** Order in which optimizers are tuned after the initializer is chosen. */
const AFTER_INIT: readonly OptName[] = ['sgd', 'fngd-always', 'fngd', 'fngd-drift', 'fngd-auto', 'kfac', 'kfac-sampled', 'kfac-adaptive', 'kfac-gn', 'kfac-lm', 'adamw', 'muon', 'shampoo'];

function args(argv: string[]): {
  task: Task;
  model: ModelKind;
  batch: number;
  trials: number;
  epochs: number;
  quick: boolean;
  out: string;
  backend: string;
  fresh: boolean;
  only: readonly OptName[];
  data: string;
} {
  const { values } = parseArgs({
    args: argv,
    options: {
      task: { type: 'string', default: 'classifier' },
      model: { type: 'string', default: 'mlp' },
      batch: { type: 'string', default: '128' },
      trials: { type: 'string' },
      epochs: { type: 'string' },
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      backend: { type: 'string', default: 'auto' },
      fresh: { type: 'boolean', default: false },
      optimizers: { type: 'string' },
      data: { type: 'string', default: 'mnist' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(`npm run tune -- --task classifier|autoencoder [flags]

The fair tuning protocol: every optimizer gets the same number of random-search trials on a validation split
over the reported horizon; the settings with the best validation score go to examples/mnist/tuned/. Resumes an
interrupted file; --fresh starts over.

  --task classifier|autoencoder   (required)
  --model mlp|cnn|resnet|vit      the classifier's model (default mlp)
  --batch N                       (default 128)
  --trials N                      trials per optimizer (default 8)
  --epochs N                      the horizon (default 10; resnet 5)
  --optimizers a,b,…              tune only these (Adam always: it chooses the initializer)
  --data SPEC                     ${DATA_HELP}
  --quick                         fewer digits, trials and epochs: a smoke run
  --out DIR                       where the tuned file goes (default examples/mnist/tuned)
  --backend auto|wasm|cpu|webgpu  (default auto)
  --fresh                         discard an existing file's trials
  -h, --help                      this text`);
    process.exit(0);
  }
  const task = values.task as Task;
  if (!TASKS.includes(task)) throw new Error(`--task must be one of ${TASKS.join(', ')}, got ${values.task}`);
  const int = (name: string, v: string | undefined, d: number): number => {
    const n = v === undefined ? d : Number(v);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
    return n;
  };
  const quick = values.quick;
  const model = values.model as ModelKind;
  if (!MODEL_KINDS.includes(model)) throw new Error(`--model must be one of ${MODEL_KINDS.join(', ')}, got ${values.model}`);
  if (model !== 'mlp' && task !== 'classifier') throw new Error(`--model ${model} is a classifier`);
  const only = (values.optimizers?.split(',') ?? [...OPTIMIZERS]) as OptName[];
  for (const o of only) if (!OPTIMIZERS.includes(o)) throw new Error(`--optimizers: unknown ${o} (one of ${OPTIMIZERS.join(', ')})`);
  return {
    task,
    model,
    batch: int('batch', values.batch, 128),
    trials: int('trials', values.trials, quick ? 2 : 8),
    epochs: int('epochs', values.epochs, quick ? 2 : defaultEpochs(model)),
    quick,
    out: values.out ?? (quick ? 'mnist-out/tuned' : TUNED_DIR),
    backend: values.backend,
    fresh: values.fresh,
    only,
    data: values.data,
  };
}

function protocol(a: ReturnType<typeof args>, pool: Dataset): Protocol {
  const sizes = sizesFor(a.model, a.quick);
  return {
    task: a.task,
    model: a.model,
    batchSize: a.batch,
    epochs: a.epochs,
    trialsPerOptimizer: a.trials,
    quick: a.quick,
    data: {
      ...(pool.source === 'mnist' ? {} : { source: pool.source, images: pool.count, shape: [...pool.shape] }),
      fit: sizes.train - sizes.validation,
      validation: sizes.validation,
      validationSeed: VALIDATION_SEED,
      note: 'validation digits carved from the training digits; test digits never used',
    },
    seed: TUNING_SEED,
    search: {
      method: 'stratified random search (Latin hypercube over log grids), same K trials per optimizer',
      seed: SEARCH_SEED,
      momentum: MOMENTUM,
      spaces: SPACES,
    },
    metric: a.task === 'classifier' ? 'valAccuracy' : 'valLoss',
  };
}

async function main(): Promise<void> {
  const a = args(process.argv.slice(2));
  if (!BACKENDS.includes(a.backend as BackendName)) throw new Error(`--backend must be one of ${BACKENDS.join(', ')}`);
  const backend = await setBackend(a.backend as BackendName);
  const pool = loadData(a.data);
  const image = { shape: pool.shape, classes: pool.classes };
  const p = protocol(a, pool);
  const path = tunedPath(a.task, a.batch, a.out, a.model, pool.source);
  let file: TunedFile;
  if (existsSync(path) && !a.fresh) {
    file = readTuned(path);
    const diff = protocolMismatch(file, p);
    if (file.trials.length > 0 && file.backend !== backend) diff.push(`backend (${file.backend} vs ${backend})`);
    if (diff.length > 0)
      throw new Error(
        `${path} was tuned under another protocol (${diff.join(', ')} differ): pass --fresh to start over`,
      );
    const added = Object.keys(p.search.spaces as object).filter((k) => !(k in (file.search.spaces as object)));
    if (added.length > 0) console.log(`the protocol adds ${added.join(', ')}: its trials run, the others are kept`);
    file = { ...file, search: p.search, complete: false };
    console.log(`resuming ${path}: ${file.trials.length} trials done`);
  } else {
    file = {
      schema: 1,
      ...p,
      backend,
      initializer: { chosenBy: 'adam', scores: {}, chosen: null },
      trials: [],
      best: {},
      complete: false,
      seconds: 0,
    };
  }

  file.backend = backend; // equal to the file's unless it had no trial yet

  const sizes = sizesFor(a.model, a.quick);
  const s = protocolSplits(pool, sizes);
  const train = new TrainSet(a.task, a.model, { ...s.fit, flips: pool.flips });
  const [xVal, yVal] = evaluationSet(a.task, a.model, s.validation);
  const after = AFTER_INIT.filter((o) => a.only.includes(o));
  const total = a.trials * (INITIALIZERS.length + after.length);
  console.log(
    `tuning ${a.task} batch ${a.batch}: ${a.trials} trials × ${a.epochs} epochs per optimizer, ${p.data.fit} fit / ${p.data.validation} validation digits, backend ${backend}, ${total} trials in all → ${path}`,
  );

  const run = async (opt: OptName, init: Initializer): Promise<void> => {
    const configs = sampleTrials(opt, a.trials);
    for (let i = 0; i < configs.length; i++) {
      if (file.trials.some((t) => t.optimizer === opt && t.initializer === init && t.index === i)) continue;
      const config = configs[i]!;
      const t0 = performance.now();
      const { curve, diverged } = await runTrial(
        {
          task: a.task,
          model: a.model,
          optimizer: opt,
          initializer: init,
          config,
          epochs: a.epochs,
          batchSize: a.batch,
          seed: TUNING_SEED,
          image,
        },
        { train, xVal, yVal },
      );
      const last = curve.at(-1);
      const score =
        diverged !== null || !last ? null : p.metric === 'valAccuracy' ? (last.valAccuracy ?? null) : last.valLoss;
      const rec: TrialRecord = { optimizer: opt, initializer: init, index: i, config, curve, diverged, score };
      file.trials.push(rec);
      file.seconds += (performance.now() - t0) / 1000;
      writeTuned(path, file);
      const shown =
        score === null
          ? `diverged (${diverged})`
          : p.metric === 'valAccuracy'
            ? `val acc ${(score * 100).toFixed(2)}%`
            : `val loss ${score.toFixed(2)}`;
      console.log(
        `  [${file.trials.filter((t) => t.optimizer === 'adam' || after.includes(t.optimizer)).length}/${total}] ${opt.padEnd(11)} ${init.padEnd(14)} #${i} ${describeConfig(config).padEnd(30)} ${shown}  (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
      );
    }
  };

  for (const init of INITIALIZERS) await run('adam', init);
  const scores: Partial<Record<Initializer, number | null>> = {};
  for (const init of INITIALIZERS) scores[init] = bestTrial(file, 'adam', init)?.score ?? null;
  // ties keep the first (glorot-uniform, tfjs's default)
  const chosen = INITIALIZERS.reduce<Initializer | null>(
    (c, i) => (better(p.metric, scores[i] ?? null, c === null ? null : (scores[c] ?? null)) ? i : c),
    null,
  );
  if (!chosen) throw new Error('every Adam trial diverged: no initializer can be chosen');
  file.initializer = { chosenBy: 'adam', scores, chosen };
  writeTuned(path, file);
  console.log(
    `initializer chosen by Adam's validation score: ${chosen} (${INITIALIZERS.map((i) => `${i} ${scores[i]}`).join(', ')})`,
  );

  for (const opt of after) await run(opt, chosen);
  for (const opt of OPTIMIZERS) {
    const b = bestTrial(file, opt, chosen);
    if (b && b.score !== null) file.best[opt] = { config: b.config, score: b.score, index: b.index };
  }
  file.complete = true;
  writeTuned(path, file);
  console.log('\nbest configuration per optimizer (validation, final epoch):');
  for (const opt of OPTIMIZERS) {
    const b = file.best[opt];
    const tried = file.trials.some((t) => t.optimizer === opt);
    console.log(
      `  ${opt.padEnd(11)} ${b ? `${describeConfig(b.config).padEnd(30)} ${b.score}` : tried ? 'every trial diverged' : 'not tuned'}`,
    );
  }
  train.dispose();
  tf.dispose([xVal, yVal]);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});
