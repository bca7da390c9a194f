/**
 * What {@link OnnxTrainer.fit} needs besides steps: its dataset and options, the sample ids its batch plan is
 * keyed by, and the rows of one batch gathered from the full arrays.
 * @module
 */
import type { SampleId } from 'ifngd';
import type { Tensor } from 'onnxruntime-common';
import { InvalidOptionError } from './errors.js';
import { rejectUnknownKeys, show } from './options.js';
import type { OrtRuntime } from './runtime-check.js';

/** A dataset for {@link OnnxTrainer.fit}: full arrays, sample-major. */
export interface Dataset {
  /** One tensor per model input, `[S, ...]`. */
  readonly inputs: Readonly<Record<string, Tensor>>;
  /** Targets `[S]` (class indices) or `[S, ...]`. */
  readonly targets: Tensor;
}

/** Options of {@link OnnxTrainer.fit}. */
export interface FitOptions {
  readonly epochs: number;
  readonly batchSize: number;
  /**
   * `true` (default): visit the planned batches in a seeded order per epoch, `permutation(B, mixSeed(seed, epoch))`;
   * `false`: plan order; `'samples'`: re-partition the samples every epoch (tfjs's `shuffle`; every batch is new,
   * so FNGD computes every coefficient afresh).
   */
  readonly shuffle?: boolean | 'samples';
  /** Seeds the batch plan (the partition of samples into batches) and the per-epoch order; default 0. */
  readonly seed?: number;
  /**
   * Sample identity, which the batch plan — and so the batch keys of the coefficient cache — follows:
   * `'index'` (default: the row number, right for append-only data) or one unique id per sample (`string` or
   * finite `number`, e.g. a database key: right when samples are removed or replaced).
   */
  readonly sampleIds?: 'index' | readonly SampleId[];
  /** Evaluated after every epoch (`val_loss`, and `val_acc` under softmax cross-entropy). */
  readonly validationData?: Dataset;
  /** After each epoch, with its logs; may be async. */
  readonly onEpochEnd?: (epoch: number, info: OnnxEpochLogs) => void | Promise<void>;
}

/** One epoch of {@link OnnxTrainer.fit}. */
export interface OnnxEpochLogs {
  /** Mean training loss (each batch's before its step, weighted by batch size). */
  readonly loss: number;
  /** Wall-clock seconds of the training pass (validation excluded). */
  readonly seconds: number;
  readonly valLoss?: number;
  readonly valAccuracy?: number;
}

/** What `fit` returns: tfjs's `History` shape (`epoch`, `history` by log key) and the epochs' logs. */
export interface OnnxFitHistory {
  /** Trainer epochs trained, in order. */
  readonly epoch: number[];
  /** `loss`, and `val_loss` / `val_acc` with validation data: one value per epoch. */
  readonly history: { readonly loss: number[]; readonly val_loss?: number[]; readonly val_acc?: number[] };
  readonly logs: readonly OnnxEpochLogs[];
}

/** What `evaluate` returns. */
export interface OnnxEvaluation {
  /** Mean per-sample loss. */
  readonly loss: number;
  /** Top-1 accuracy (softmax cross-entropy only). */
  readonly accuracy?: number;
}

/** The history of epochs `epochs` with logs `logs`. */
export function onnxHistory(epochs: readonly number[], logs: readonly OnnxEpochLogs[]): OnnxFitHistory {
  const val = logs.some((l) => l.valLoss !== undefined);
  const acc = logs.some((l) => l.valAccuracy !== undefined);
  return {
    epoch: [...epochs],
    history: {
      loss: logs.map((l) => l.loss),
      ...(val ? { val_loss: logs.map((l) => l.valLoss ?? NaN) } : {}),
      ...(acc ? { val_acc: logs.map((l) => l.valAccuracy ?? NaN) } : {}),
    },
    logs,
  };
}

const fail = (key: string, value: unknown, why: string): never => {
  throw new InvalidOptionError(`fit: ${key} ${why}, got ${show(value)}`, { key: `fit.${key}`, value });
};

/**
 * Validates {@link FitOptions} (no unknown key; `epochs`, `batchSize` integers ≥ 1; `shuffle` a boolean; `seed`
 * a safe integer; `onEpochEnd` a function) and the dataset's form (`inputs` a record, `targets` present — their
 * contents are the feeds' and targets' checks). Throws `InvalidOptionError`.
 */
export function checkFit(data: unknown, o: unknown): { data: Dataset; options: FitOptions } {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return fail('options', o, 'must be an object ({ epochs, batchSize, … })');
  rejectUnknownKeys(o, ['epochs', 'batchSize', 'shuffle', 'seed', 'sampleIds', 'validationData', 'onEpochEnd'], 'fit.');
  const f = o as Record<string, unknown>;
  for (const key of ['epochs', 'batchSize']) if (!Number.isSafeInteger(f[key]) || (f[key] as number) < 1) fail(key, f[key], 'must be an integer ≥ 1');
  if (f.shuffle !== undefined && typeof f.shuffle !== 'boolean' && f.shuffle !== 'samples') fail('shuffle', f.shuffle, "must be true, false or 'samples'");
  if (f.seed !== undefined && !Number.isSafeInteger(f.seed)) fail('seed', f.seed, 'must be a safe integer');
  if (f.onEpochEnd !== undefined && typeof f.onEpochEnd !== 'function') fail('onEpochEnd', f.onEpochEnd, 'must be a function');
  if (f.sampleIds !== undefined && f.sampleIds !== 'index' && !Array.isArray(f.sampleIds)) fail('sampleIds', f.sampleIds, "must be 'index' or an array of ids");
  const v = f.validationData as { inputs?: unknown; targets?: unknown } | undefined;
  if (v !== undefined && (typeof v !== 'object' || v === null || typeof v.inputs !== 'object' || v.inputs === null || v.targets === undefined)) {
    fail('validationData', v, 'must be a dataset { inputs, targets }');
  }
  const d = data as { inputs?: unknown } | null;
  if (typeof d !== 'object' || d === null || typeof d.inputs !== 'object' || d.inputs === null) {
    throw new InvalidOptionError(`fit: the dataset must be { inputs, targets }, got ${show(data)}`, { key: 'fit.data', value: data });
  }
  return { data: data as Dataset, options: o as FitOptions };
}

/** One id per sample: the row numbers for `'index'`, else the given ids (their count checked against `total`). */
export function sampleIdsOf(mode: FitOptions['sampleIds'], total: number): SampleId[] {
  if (mode === undefined || mode === 'index') return Array.from({ length: total }, (_, i) => i);
  if (mode.length !== total) fail('sampleIds', mode, `must hold one id per sample (${total}), not ${mode.length}`);
  return [...mode];
}

/** The given rows of a sample-major tensor, in that order (a copy, same dtype). */
export function gatherRows(ort: OrtRuntime, t: Tensor, rows: readonly number[]): Tensor {
  const row = t.dims.slice(1).reduce((a, d) => a * d, 1);
  const src = t.data as Float32Array;
  const out = new (src.constructor as new (n: number) => Float32Array)(rows.length * row);
  rows.forEach((r, i) => out.set(src.subarray(r * row, (r + 1) * row), i * row));
  const dims = [rows.length, ...t.dims.slice(1)];
  if (t.type === 'float32') return new ort.Tensor('float32', out, dims);
  const Ctor = (t as unknown as { constructor: new (type: string, data: unknown, dims: readonly number[]) => Tensor }).constructor;
  return new Ctor(t.type, out, dims);
}
