/**
 * The tuned-settings file (`examples/mnist/tuned/<task>-b<batch>.json`): the protocol, every trial with its
 * validation curve, the initializer chosen by Adam's score, and the best configuration of each optimizer.
 * Written after every trial (atomically), so a killed tuning run resumes where it stopped.
 * @module
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Initializer, ModelKind, Task } from './models.js';
import type { OptName, TrialConfig } from './search.js';

/** One epoch of a tuning trial (validation digits only). */
export interface CurvePoint {
  readonly epoch: number;
  readonly seconds: number;
  readonly trainLoss: number;
  readonly valLoss: number;
  readonly valAccuracy?: number;
}

/** One trial. `score` is the final-epoch validation metric; null when the trial diverged. */
export interface TrialRecord {
  readonly optimizer: OptName;
  readonly initializer: Initializer;
  readonly index: number;
  readonly config: TrialConfig;
  readonly curve: readonly CurvePoint[];
  readonly diverged: string | null;
  readonly score: number | null;
}

/** What must match for a file to be resumed. */
export interface Protocol {
  readonly task: Task;
  readonly model: ModelKind;
  readonly batchSize: number;
  readonly epochs: number;
  readonly trialsPerOptimizer: number;
  readonly quick: boolean;
  readonly data: {
    /** Where the images came from when not the shipped MNIST digits (`--data`: `cifar10`, an IDX directory's name). */
    readonly source?: string;
    /** The pool's size and image shape when not the shipped digits (another file under the same name differs). */
    readonly images?: number;
    readonly shape?: readonly number[];
    readonly fit: number;
    readonly validation: number;
    readonly validationSeed: number;
    readonly note: string;
  };
  /** Weights and batch-partition seed of every trial (reported runs use other seeds). */
  readonly seed: number;
  readonly search: {
    readonly method: string;
    readonly seed: number;
    readonly momentum: number;
    readonly spaces: unknown;
  };
  /** `valAccuracy` (higher is better) or `valLoss` (lower is better), at the final epoch. */
  readonly metric: 'valAccuracy' | 'valLoss';
}

export interface TunedFile extends Protocol {
  readonly schema: 1;
  backend: string;
  initializer: {
    readonly chosenBy: 'adam';
    scores: Partial<Record<Initializer, number | null>>;
    chosen: Initializer | null;
  };
  trials: TrialRecord[];
  best: Partial<Record<OptName, { readonly config: TrialConfig; readonly score: number; readonly index: number }>>;
  complete: boolean;
  /** Wall-clock seconds spent in trials so far. */
  seconds: number;
}

const HERE = dirname(fileURLToPath(import.meta.url));
/** Where the committed tuned files live. */
export const TUNED_DIR = join(HERE, '..', 'tuned');

/**
 * `<task>[-<model>][-<source>]-b<batch>` (no model part for the MLP, no source part for the shipped MNIST digits)
 * — the stem of a task's tuned and result files.
 */
export function runName(task: Task, model: ModelKind, batchSize: number, source = 'mnist'): string {
  return `${task}${model === 'mlp' ? '' : `-${model}`}${source === 'mnist' ? '' : `-${source}`}-b${batchSize}`;
}

/** `tuned/<task>[-<model>][-<source>]-b<batch>.json` under `dir`. */
export function tunedPath(task: Task, batchSize: number, dir = TUNED_DIR, model: ModelKind = 'mlp', source = 'mnist'): string {
  return join(dir, `${runName(task, model, batchSize, source)}.json`);
}

/** `a` is better than `b` under the protocol's metric (null = diverged, worst). */
export function better(metric: Protocol['metric'], a: number | null, b: number | null): boolean {
  if (a === null) return false;
  if (b === null) return true;
  return metric === 'valAccuracy' ? a > b : a < b;
}

/** The best trial of `opt` under `init` (null if none finished without diverging). */
export function bestTrial(
  file: Pick<TunedFile, 'trials' | 'metric'>,
  opt: OptName,
  init: Initializer,
): TrialRecord | null {
  let best: TrialRecord | null = null;
  for (const t of file.trials) {
    if (t.optimizer !== opt || t.initializer !== init || t.score === null) continue;
    if (best === null || better(file.metric, t.score, best.score)) best = t;
  }
  return best;
}

/** The `npm run tune` command line that (re)tunes a file's setting: task, model, data and batch. */
export function tuneCommand(f: Pick<Protocol, 'task' | 'model' | 'batchSize'>, data = 'mnist'): string {
  return `npm run tune -- --task ${f.task}${f.model === 'mlp' ? '' : ` --model ${f.model}`}${data === 'mnist' ? '' : ` --data ${data}`} --batch ${f.batchSize}`;
}

/** Loads a tuned file; throws with a clear message when it is missing or malformed. */
export function readTuned(path: string): TunedFile {
  if (!existsSync(path))
    throw new Error(`no tuned settings at ${path}: run \`npm run tune -- --task <task> [--model <model>] [--data <spec>] --batch <n>\` first`);
  const f = JSON.parse(readFileSync(path, 'utf8')) as TunedFile;
  if (f.schema !== 1 || !Array.isArray(f.trials)) throw new Error(`${path}: not a tuned-settings file (schema 1)`);
  return f;
}

/** Writes atomically (temp file + rename), so a kill never leaves a half-written file. */
export function writeTuned(path: string, f: TunedFile): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, JSON.stringify(f, null, 1) + '\n');
  renameSync(tmp, path);
}

/**
 * Fields of the protocol that differ between the file `a` and the current protocol `b` (empty: the file can be
 * resumed). A protocol that only *adds* optimizers (search spaces the file lacks, every other space equal) is
 * not a mismatch: resuming runs the new optimizers' trials and keeps every trial already made.
 */
export function protocolMismatch(a: Protocol, b: Protocol): string[] {
  const keys = ['task', 'model', 'batchSize', 'epochs', 'trialsPerOptimizer', 'quick', 'data', 'seed', 'metric'] as const;
  const out: string[] = keys.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
  const { spaces: sa, ...ra } = a.search;
  const { spaces: sb, ...rb } = b.search;
  const as = (sa ?? {}) as Record<string, unknown>;
  const bs = (sb ?? {}) as Record<string, unknown>;
  const onlyAdded = Object.keys(as).every((k) => k in bs && JSON.stringify(as[k]) === JSON.stringify(bs[k]));
  if (!onlyAdded || JSON.stringify(ra) !== JSON.stringify(rb)) out.push('search');
  return out;
}

/**
 * Which of `wanted` a tuned file can run: those with a best configuration; those the file holds no trial of
 * (tuned before they were added to the protocol) are `absent`; those whose every trial diverged are
 * `diverged`.
 */
export function tunedOptimizers(
  file: Pick<TunedFile, 'trials' | 'best'>,
  wanted: readonly OptName[],
): { run: OptName[]; absent: OptName[]; diverged: OptName[] } {
  const tried = new Set(file.trials.map((t) => t.optimizer));
  return {
    run: wanted.filter((o) => file.best[o]),
    absent: wanted.filter((o) => !file.best[o] && !tried.has(o)),
    diverged: wanted.filter((o) => !file.best[o] && tried.has(o)),
  };
}
