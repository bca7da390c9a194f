/**
 * The tfjs-optimizer baseline step of the trainer (`FngdTrainer.create(model, { loss, optimizer })`): the mean
 * loss minimised by the tfjs optimizer in the same loop as FNGD, for like-for-like comparisons.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import { identityTap } from './model.js';
import type { StepContext } from './step-context.js';
import type { BatchResult } from './trainer-types.js';

/** One baseline step on a batch: `optimizer.minimize` of the mean loss; reads the loss with an awaited read. */
export async function baselineStep(optimizer: tf.Optimizer, c: StepContext, x: Tensor, y: Tensor): Promise<BatchResult> {
  const cost = optimizer.minimize(() => tf.mean(c.loss(c.model.forward(x, identityTap, true), y)) as tf.Scalar, true, [...c.variables]);
  const loss = cost ? ((await cost.data())[0] as number) : NaN;
  cost?.dispose();
  return { loss, fresh: false };
}
