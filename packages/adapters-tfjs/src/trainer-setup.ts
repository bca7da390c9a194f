/**
 * What `FngdTrainer.create` sets up before the optimizer: the model as a {@link FunctionModel} (a LayersModel
 * compiled, its final activation folded into the loss) and the step context (variables, unique names, loss).
 * @module
 */
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { AdapterArgumentError } from './errors.js';
import { resolveLoss } from './losses.js';
import { fromLayersModel, type FoldActivation, type FunctionModel } from './model.js';
import { PatchFilters } from './patches.js';
import type { StepContext } from './step-context.js';
import type { FngdTrainerOptions } from './trainer-types.js';

/** The model a trainer trains. */
export interface TrainerModel {
  /** The model as a function over its variables. */
  readonly fm: FunctionModel;
  /** The LayersModel given (saves and restores checkpoints), else null. */
  readonly layers: LayersModel | null;
  /** The activation folded into the loss. */
  readonly folded: FoldActivation;
}

function isLayersModel(m: unknown): m is LayersModel {
  return typeof m === 'object' && m !== null && typeof (m as { getClassName?: unknown }).getClassName === 'function' && Array.isArray((m as { layers?: unknown }).layers);
}

/**
 * Compiles a LayersModel (unsupported layers throw `UnsupportedLayerError` before any weight changes) or checks a
 * FunctionModel's form (`AdapterArgumentError`).
 */
export function trainerModel(model: LayersModel | FunctionModel, options: FngdTrainerOptions): TrainerModel {
  const fold: FoldActivation = options.loss === 'softmax-cross-entropy' ? 'softmax' : options.loss === 'sigmoid-cross-entropy' ? 'sigmoid' : null;
  const layers = isLayersModel(model) ? model : null;
  const optimizer = options.kfac !== undefined ? 'KFAC' : options.optimizer !== undefined ? 'the tfjs-optimizer baseline' : 'FNGD';
  // FNGD's one-sample fallback passes need samples that do not interact; the exact route never runs them
  const perSample = optimizer === 'FNGD' && options.perSample !== 'exact';
  const compiled = layers ? fromLayersModel(layers, fold, { optimizer, perSample, ...(optimizer === 'FNGD' ? {} : { warn: () => {} }) }) : null;
  const fm: FunctionModel = compiled ?? (model as FunctionModel);
  if (!layers && (!Array.isArray(fm.variables) || typeof fm.forward !== 'function')) {
    throw new AdapterArgumentError('FngdTrainer.create: expected a tf.LayersModel or a FunctionModel { variables, forward }');
  }
  return { fm, layers, folded: compiled?.folded ?? null };
}

/** The step context of a model: its variables with one unique name each (`AdapterArgumentError` otherwise) and the loss. */
export function stepContext(model: FunctionModel, options: FngdTrainerOptions, checkCoupling = false): StepContext {
  const names = model.names ?? model.variables.map((_, i) => `p${i}`);
  if (names.length !== model.variables.length || new Set(names).size !== names.length) {
    throw new AdapterArgumentError('names: one unique name per variable is required');
  }
  return { model, loss: resolveLoss(options.loss), variables: model.variables, names, filters: new PatchFilters(), checkCoupling };
}
