/**
 * The tfjs-optimizer baseline step of the trainer (`FngdTrainer.create(model, { loss, optimizer })`): the mean
 * loss minimised by the tfjs optimizer in the same loop as FNGD, for like-for-like comparisons; the gradients of the
 * model's penalties (regularizers) join its gradient, as in tfjs's `fit`.
 *
 * A transaction: gradients first, then one awaited read of the loss and of their finiteness, and only then
 * `optimizer.applyGradients` — so a non-finite loss or gradient throws `NonFiniteError` with the variables
 * and the optimizer's moments untouched (`minimize` would have applied NaN).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import { NonFiniteError } from 'ifngd';
import { identityTap } from './model.js';
import type { StepContext } from './step-context.js';
import { addPenaltyGrads } from './penalties.js';
import { releaseTapeOnThrow } from './tape.js';
import type { BatchResult } from './trainer-types.js';

/** One baseline step on a batch (see the module comment). */
export async function baselineStep(optimizer: tf.Optimizer, c: StepContext, x: Tensor, y: Tensor): Promise<BatchResult> {
  const { value, grads } = releaseTapeOnThrow(() => tf.variableGrads(() => tf.mean(c.loss(c.model.forward(x, identityTap, true), y)) as tf.Scalar, [...c.variables]));
  try {
    // penalties (regularizers) join the gradient, as in tfjs's fit
    // (a variable the loss does not reach has no gradient entry, and gets none)
    const byVar = new Map(c.variables.flatMap((v) => (grads[v.name] ? [[v, grads[v.name] as Tensor] as const] : [])));
    addPenaltyGrads(byVar, c.model.penalties, 1);
    for (const [v, g] of byVar) grads[v.name] = g;
    const gs = Object.values(grads);
    const probe = tf.tidy(() => tf.stack([tf.cast(value, 'float32'), ...gs.map((g) => tf.cast(tf.all(tf.isFinite(g)), 'float32'))]));
    let v: Float32Array;
    try {
      v = (await probe.data()) as Float32Array;
    } finally {
      probe.dispose();
    }
    const loss = v[0] as number;
    if (!Number.isFinite(loss)) throw new NonFiniteError(`step: loss is ${String(loss)}`);
    if (v.subarray(1).some((f) => f !== 1)) throw new NonFiniteError('step: gradients hold NaN or ±Infinity');
    optimizer.applyGradients(grads);
    return { loss, fresh: false };
  } finally {
    value.dispose();
    tf.dispose(grads);
  }
}
