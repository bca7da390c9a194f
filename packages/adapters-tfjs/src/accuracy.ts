/**
 * The training accuracy `fit` logs as tfjs's `acc` (softmax cross-entropy, one output): the top-1 accuracy of the
 * step's own training forward pass, before the update — what tfjs's `model.fit` reports with
 * `metrics: ['accuracy']`. The probe sits in the steps' loss: armed before a step, it counts the correct
 * predictions of the first loss call on the whole batch, on the backend, and the trainer reads that one scalar
 * after the step.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { PerSampleLoss } from './losses.js';

/** Counts correct top-1 predictions of one step's forward pass (see the module doc). */
export class AccuracyProbe {
  #want: number | null = null;
  #correct: Tensor | null = null;

  /** The loss with the probe in it (outputs as logits or scores, targets one-hot or probabilities). */
  wrap(base: PerSampleLoss): PerSampleLoss {
    return (out, y) => {
      const n = out.shape[0] as number;
      if (this.#want === n) {
        this.#want = null;
        this.#correct = tf.keep(
          tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(tf.reshape(out, [n, -1]), 1), tf.argMax(tf.reshape(y, [n, -1]), 1)), 'float32'))),
        );
      }
      return base(out, y);
    };
  }

  /** Runs one step with the probe armed for a batch of `n`; resolves to its result and the batch's accuracy. */
  async measure<R>(n: number, step: () => Promise<R>): Promise<{ result: R; accuracy: number | null }> {
    this.#release();
    this.#want = n;
    try {
      const result = await step();
      const t = this.#correct;
      const accuracy = t ? ((await t.data())[0] as number) / n : null;
      return { result, accuracy };
    } finally {
      this.#release();
    }
  }

  #release(): void {
    this.#want = null;
    this.#correct?.dispose();
    this.#correct = null;
  }
}
