/**
 * `npm run scan -- --task T --batch N --optimizer O --lr a,b --damping c,d [--mode global,layerwise] [--epochs E] --out F`
 *
 * A sensitivity scan **outside the tuning protocol**: the grid of settings given on the command line, each run
 * like a tuning trial (fit digits, validation split, tuning seed 0, the initializer the tuned file chose). It
 * answers "could this optimizer reach X under *any* of these settings?" — a bound, not a benchmark: the report
 * never reads it, and nothing it finds may be fed back into a reported run (that would be tuning the report).
 * @module
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { setBackend } from './backend.js';
import { FULL_SIZES, loadAll, protocolSplits } from './data.js';
import { TASKS, type Task } from './models.js';
import { evaluationSet, TrainSet } from './train-set.js';
import { OPTIMIZERS, type OptName, type TrialConfig } from './search.js';
import { runTrial, TUNING_SEED } from './trial.js';
import { readTuned, tunedPath, type CurvePoint } from './tuned.js';

function list(name: string, v: string | undefined): number[] {
  if (v === undefined) throw new Error(`--${name} is required`);
  const xs = v.split(',').map(Number);
  if (xs.some((x) => !(x > 0) || !Number.isFinite(x))) throw new Error(`--${name} must be positive numbers, got ${v}`);
  return xs;
}

/** A scan's settings, checked: every value the command line gave, nothing read from disk yet. */
export interface ScanArgs {
  readonly task: Task;
  readonly batch: number;
  readonly optimizer: OptName;
  readonly epochs: number;
  readonly out: string;
  readonly lrs: readonly number[];
  /** `[undefined]` for optimizers without damping (Adam, SGD). */
  readonly dampings: readonly (number | undefined)[];
  /** `[undefined]` for optimizers without a mode (all but the FNGD variants). */
  readonly modes: readonly ('global' | 'layerwise' | undefined)[];
}

const SCAN_HELP = `npm run scan -w examples/mnist -- --lr a,b,… --damping c,d,… --out FILE [flags]

A sensitivity scan outside the tuning protocol: every setting of the grid, each run as a tuning trial (fit digits,
validation split, tuning seed). It bounds what an optimizer could reach; a reported run never reads it.

  --task classifier|autoencoder   (default autoencoder)
  --batch N                       (default 128; the tuned file for task and batch gives the initializer)
  --optimizer NAME                (default fngd-always)
  --lr a,b,…                      learning rates (required)
  --damping c,d,…                 damping values (required except for adam and sgd)
  --mode global,layerwise         FNGD's damping modes (default global)
  --epochs N                      (default 10)
  --out FILE                      where the JSON goes (required)
  -h, --help                      this text`;

/** Parses and checks the command line; throws on the first bad value (before any file is read or written). */
export function scanArgs(argv: readonly string[]): ScanArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      task: { type: 'string', default: 'autoencoder' },
      batch: { type: 'string', default: '128' },
      optimizer: { type: 'string', default: 'fngd-always' },
      lr: { type: 'string' },
      damping: { type: 'string' },
      mode: { type: 'string', default: 'global' },
      epochs: { type: 'string', default: '10' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(SCAN_HELP);
    process.exit(0);
  }
  const task = values.task as Task;
  if (!TASKS.includes(task)) throw new Error(`--task must be one of ${TASKS.join(', ')}`);
  const optimizer = values.optimizer as OptName;
  if (!OPTIMIZERS.includes(optimizer)) throw new Error(`--optimizer must be one of ${OPTIMIZERS.join(', ')}`);
  const batch = Number(values.batch);
  const epochs = Number(values.epochs);
  if (!Number.isSafeInteger(batch) || batch < 1) throw new Error(`--batch must be a positive integer`);
  if (!Number.isSafeInteger(epochs) || epochs < 1) throw new Error(`--epochs must be a positive integer`);
  if (!values.out) throw new Error('--out is required');
  const lrs = list('lr', values.lr);
  const dampings = optimizer === 'adam' || optimizer === 'sgd' || optimizer === 'adamw' || optimizer === 'muon' ? [undefined] : list('damping', values.damping);
  const modes = values.mode.split(',');
  if (modes.some((m) => m !== 'global' && m !== 'layerwise')) throw new Error('--mode must be global and/or layerwise');
  return {
    task,
    batch,
    optimizer,
    epochs,
    out: values.out,
    lrs,
    dampings,
    modes: optimizer.startsWith('fngd') ? (modes as ('global' | 'layerwise')[]) : [undefined],
  };
}

async function main(): Promise<void> {
  const { task, batch, optimizer, epochs, out, lrs, dampings, modes } = scanArgs(process.argv.slice(2));
  const tuned = readTuned(tunedPath(task, batch));
  const init = tuned.initializer.chosen;
  if (!init) throw new Error('the tuned file has no chosen initializer');
  const backend = await setBackend('wasm');
  const s = protocolSplits(loadAll(), FULL_SIZES);
  const train = new TrainSet(task, 'mlp', s.fit);
  const [xVal, yVal] = evaluationSet(task, 'mlp', s.validation);
  const runs: { config: TrialConfig; curve: CurvePoint[]; diverged: string | null }[] = [];
  for (const learningRate of lrs)
    for (const damping of dampings)
      for (const mode of modes) {
        const config = {
          learningRate,
          ...(damping === undefined ? {} : { damping }),
          ...(mode === undefined ? {} : { mode }),
        } as TrialConfig;
        const { curve, diverged } = await runTrial(
          { task, model: 'mlp', optimizer, initializer: init, config, epochs, batchSize: batch, seed: TUNING_SEED },
          { train, xVal, yVal },
        );
        runs.push({ config, curve, diverged });
        console.log(JSON.stringify(config), curve.map((p) => p.valLoss.toFixed(1)).join(' '), diverged ?? '');
        writeFileSync(
          out,
          `${JSON.stringify({ note: 'sensitivity scan outside the tuning protocol (src/scan.ts); never read by the report', task, batch, optimizer, initializer: init, backend, epochs, seed: TUNING_SEED, runs }, null, 1)}\n`,
        );
      }
  train.dispose();
  tf.dispose([xVal, yVal]);
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(1);
  });
}
