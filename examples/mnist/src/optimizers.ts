/**
 * Trainer options of each benchmark optimizer from one trial configuration. All run in the same
 * `FngdTrainer` loop (FNGD, KFAC, AdamW, Muon and Shampoo through `ifngd`'s optimizer contract, Adam and SGD as tfjs's own
 * optimizers), so they share data handling and timing.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { FngdTrainerOptions } from '@ifngd/adapters-tfjs';
import type { Task } from './models.js';
import { KFAC_LM_SETUP, MOMENTUM, MUON_ADAM_RATIO, SHAMPOO_SETUP, type OptName, type TrialConfig } from './search.js';

/** The per-sample loss of a task. */
export function lossOf(task: Task): 'softmax-cross-entropy' | 'sigmoid-cross-entropy' {
  return task === 'classifier' ? 'softmax-cross-entropy' : 'sigmoid-cross-entropy';
}

const REFRESH = { fngd: 'first-epoch', 'fngd-drift': 'drift', 'fngd-auto': 'auto', 'fngd-always': 'always' } as const;

/** `FngdTrainer.create` options for `name` with hyper-parameters `c`. */
export function trainerOptions(task: Task, name: OptName, c: TrialConfig): FngdTrainerOptions {
  const loss = lossOf(task);
  if (name === 'kfac-adaptive' || name === 'kfac-gn') {
    if (c.damping === undefined) throw new Error(`${name}: a trial needs its initial damping`);
    // kfac-jax's adaptive mode at its defaults (λ adapted every 5 steps by 0.9, the sampled Fisher) and KFAC_DEFAULTS'
    // factor and inverse periods; no learning rate, momentum or clipping to set. kfac-gn: the quadratic model's
    // curvature is the batch's exact Gauss–Newton matrix (kfac-jax's), not the factors' one-sample estimate
    const adaptive = name === 'kfac-gn' ? { quadraticModel: 'gauss-newton' as const } : true;
    return { loss, kfac: { damping: c.damping, adaptive, fisher: 'sampled' } };
  }
  const learningRate = c.learningRate;
  if (learningRate === undefined) throw new Error(`${name}: a trial needs a learning rate`);
  if (name === 'adam') return { loss, optimizer: tf.train.adam(learningRate) };
  if (name === 'sgd') return { loss, optimizer: tf.train.momentum(learningRate, MOMENTUM) };
  // ifngd's registered optimizers, through the same capture as FNGD and KFAC, with their references' defaults
  if (name === 'adamw') return { loss, optimizer: { kind: 'adamw', learningRate } };
  if (name === 'muon') return { loss, optimizer: { kind: 'muon', learningRate, adam: { learningRate: learningRate * MUON_ADAM_RATIO } } };
  if (name === 'shampoo') {
    if (c.damping === undefined) throw new Error('shampoo: a trial needs its epsilon (damping)');
    return { loss, optimizer: { kind: 'shampoo', learningRate, epsilon: c.damping, ...SHAMPOO_SETUP } };
  }
  if (name === 'kfac-lm') {
    if (c.damping === undefined) throw new Error('kfac-lm: a trial needs its initial damping');
    // kfac-jax's stochastic recipe: the tuned learning rate and momentum 0.9 fix the step's coefficients, λ adapts from
    // the trial's by the Levenberg–Marquardt rule at its ResNet-50 example's settings (KFAC_LM_SETUP); the sampled
    // Fisher and no clipping, as kfac-sampled, so the two differ in λ's adaptation only
    return { loss, kfac: { learningRate, momentum: MOMENTUM, damping: c.damping, adaptive: { ...KFAC_LM_SETUP }, fisher: 'sampled' } };
  }
  if (name === 'kfac' || name === 'kfac-sampled') {
    if (c.damping === undefined) throw new Error('kfac: a trial needs damping');
    // the rest at KFAC_DEFAULTS (factors every step, inverses every 10, decay 0.95) except KL clipping, off: its
    // κ = 0.001 presumes a mean loss of order one nat, while the autoencoder's loss sums 784 pixels' cross-entropy,
    // so the clip binds at every learning rate of the grid and would make KFAC's learning-rate search void (its
    // first tuning trials, clip on: validation loss 411 and 455 where Adam reaches 188). Off, KFAC is tuned on the
    // same terms as FNGD — a learning rate and λ, momentum 0.9, no step clipping — on both tasks.
    // kfac-sampled: the true Fisher (targets drawn from the model at each factor step), kfac-jax's default
    const fisher = name === 'kfac-sampled' ? { fisher: 'sampled' as const } : {};
    return { loss, kfac: { learningRate, damping: c.damping, momentum: MOMENTUM, klClip: false, ...fisher } };
  }
  if (c.damping === undefined || c.mode === undefined) throw new Error(`${name}: a trial needs damping and mode`);
  return {
    loss,
    fngd: {
      learningRate,
      damping: c.damping,
      mode: c.mode,
      momentum: MOMENTUM,
      refresh: REFRESH[name],
    },
  };
}

/** Frees what {@link trainerOptions} made: a tfjs optimizer's slots (the trainer leaves a `tf.Optimizer` to its owner). */
export function releaseOptions(options: FngdTrainerOptions): void {
  const o = options.optimizer;
  // tf.Optimizer's instanceof test reads `minimize` off its operand: undefined must not reach it
  if (typeof o === 'object' && o instanceof tf.Optimizer) o.dispose();
}

/** Short label of a configuration, e.g. `lr 0.03 λ 10 layerwise`. */
export function describeConfig(c: TrialConfig): string {
  const parts = [c.learningRate === undefined ? null : `lr ${c.learningRate}`, c.damping === undefined ? null : `λ ${c.damping}`, c.mode ?? null];
  return parts.filter((p) => p !== null).join(' ');
}
