/**
 * What the trainer's step implementations (FNGD, KFAC, tfjs baseline) and its evaluation share.
 * @module
 */
import type { Variable } from '@tensorflow/tfjs-core';
import type { PerSampleLoss } from './losses.js';
import type { FunctionModel } from './model.js';
import type { PatchFilters } from './patches.js';

/** The model, its variables in parameter order with their tree names, and the loss. */
export interface StepContext {
  readonly model: FunctionModel;
  readonly loss: PerSampleLoss;
  readonly variables: readonly Variable[];
  /** One unique name per variable (the parameter tree's keys). */
  readonly names: readonly string[];
  readonly filters: PatchFilters;
  /** Check at the first training step whether the forward couples samples (FunctionModels; compiled models know). */
  readonly checkCoupling?: boolean;
}
