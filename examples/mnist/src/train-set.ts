/**
 * A run's training and evaluation tensors as each model takes them. The image tasks' models ({@link augments})
 * see their training images shifted (and, where the data allow, flipped) anew every epoch; their samples keep
 * their identity across epochs — the trainer is given row numbers as sample ids (`sampleIds: 'index'`), not a
 * hash of the (changing) pixels — so FNGD keeps its batches and reuses each batch's coefficients by the samples
 * it holds, as the paper reuses them.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { FitOptions } from '@ifngd/adapters-tfjs';
import type { Images } from '@ifngd/mnist-data';
import { augmentImages, shiftSeed } from './augment.js';
import { augments, DIGITS, modelInputs, tensors, type ModelKind, type Task } from './models.js';

/** Inputs of one epoch; `release` frees what was made for it. */
export interface EpochInputs {
  readonly x: tf.Tensor;
  release(): void;
}

/** Images with their shape and classes (MNIST's when absent) and whether flips keep their labels. */
export type ImageData = Pick<Images, 'images' | 'labels' | 'count'> & Partial<Pick<Images, 'shape' | 'classes'>> & { readonly flips?: boolean };

function specOf(d: ImageData): { shape: readonly [number, number, number]; classes: number } {
  return { shape: d.shape ?? DIGITS.shape, classes: d.classes ?? DIGITS.classes };
}

export class TrainSet {
  readonly #kind: ModelKind;
  readonly #data: ImageData;
  readonly #x: tf.Tensor;
  readonly y: tf.Tensor;

  constructor(task: Task, kind: ModelKind, data: ImageData) {
    this.#kind = kind;
    this.#data = data;
    [this.#x, this.y] = tensors(task, data.images, data.labels, data.count, specOf(data));
  }

  /** Whether the epochs' inputs change (augmentation). */
  get augmented(): boolean {
    return augments(this.#kind);
  }

  /** The fit options that name the samples: row numbers under augmentation, else the trainer's default (content). */
  get identity(): Pick<FitOptions, 'sampleIds'> {
    return this.augmented ? { sampleIds: 'index' } : {};
  }

  /** The inputs of epoch `epoch` (0-based) of a run with seed `seed`. */
  epoch(seed: number, epoch: number): EpochInputs {
    const spec = specOf(this.#data);
    const d = this.#data;
    const x = this.augmented
      ? tf.tensor2d(augmentImages(d.images, d.count, shiftSeed(seed, epoch), { shape: spec.shape, flips: d.flips ?? false }), this.#x.shape as [number, number])
      : this.#x;
    const inputs = modelInputs(this.#kind, x, spec);
    const made = [...(x === this.#x ? [] : [x]), ...(inputs === x ? [] : [inputs])];
    return { x: inputs, release: () => tf.dispose(made) };
  }

  dispose(): void {
    tf.dispose([this.#x, this.y]);
  }
}

/** Evaluation inputs and targets (never augmented); dispose both with `tf.dispose`. */
export function evaluationSet(task: Task, kind: ModelKind, data: ImageData): [tf.Tensor, tf.Tensor] {
  const spec = specOf(data);
  const [x, y] = tensors(task, data.images, data.labels, data.count, spec);
  const inputs = modelInputs(kind, x, spec);
  if (inputs !== x) x.dispose();
  return [inputs, y];
}
