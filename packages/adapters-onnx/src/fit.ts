/**
 * What {@link OnnxTrainer.fit} needs besides steps: its dataset and options, the seeded batch order and
 * row slices of the full arrays.
 * @module
 */
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
  /** Shuffle the *order* of the fixed batches each epoch (seeded); default true. */
  readonly shuffle?: boolean;
  readonly seed?: number;
  /** After each epoch, with the mean training loss; may be async. */
  readonly onEpochEnd?: (epoch: number, info: { loss: number; seconds: number }) => void | Promise<void>;
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
  rejectUnknownKeys(o, ['epochs', 'batchSize', 'shuffle', 'seed', 'onEpochEnd'], 'fit.');
  const f = o as Record<string, unknown>;
  for (const key of ['epochs', 'batchSize']) if (!Number.isSafeInteger(f[key]) || (f[key] as number) < 1) fail(key, f[key], 'must be an integer ≥ 1');
  if (f.shuffle !== undefined && typeof f.shuffle !== 'boolean') fail('shuffle', f.shuffle, 'must be a boolean');
  if (f.seed !== undefined && !Number.isSafeInteger(f.seed)) fail('seed', f.seed, 'must be a safe integer');
  if (f.onEpochEnd !== undefined && typeof f.onEpochEnd !== 'function') fail('onEpochEnd', f.onEpochEnd, 'must be a function');
  const d = data as { inputs?: unknown } | null;
  if (typeof d !== 'object' || d === null || typeof d.inputs !== 'object' || d.inputs === null) {
    throw new InvalidOptionError(`fit: the dataset must be { inputs, targets }, got ${show(data)}`, { key: 'fit.data', value: data });
  }
  return { data: data as Dataset, options: o as FitOptions };
}

/** The order of `batches` batch indices for one epoch: a seeded Fisher–Yates shuffle, or in order. */
export function batchOrder(batches: number, rand: () => number, shuffle: boolean): number[] {
  const order = Array.from({ length: batches }, (_, i) => i);
  if (shuffle) for (let i = batches - 1; i > 0; i--) { const j = Math.floor(rand() * (i + 1)); [order[i], order[j]] = [order[j]!, order[i]!]; }
  return order;
}

/** Rows `[lo, hi)` of a sample-major tensor (a view of its data, same dtype). */
export function sliceRows(ort: OrtRuntime, t: Tensor, lo: number, hi: number): Tensor {
  const row = t.dims.slice(1).reduce((a, d) => a * d, 1);
  const dims = [hi - lo, ...t.dims.slice(1)];
  const data = (t.data as Float32Array).subarray(lo * row, hi * row);
  if (t.type === 'float32') return new ort.Tensor('float32', data, dims);
  const Ctor = (t as unknown as { constructor: new (type: string, data: unknown, dims: readonly number[]) => Tensor }).constructor;
  return new Ctor(t.type, data, dims);
}
