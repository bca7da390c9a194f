/**
 * What `FngdTrainer.create` sets up before the optimizer: the model as a {@link FunctionModel} (a LayersModel
 * compiled, its final activation folded into the loss) and the step context (variables, unique names, loss).
 * @module
 */
import type { EngineChoice } from './step-engine.js';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { AdapterArgumentError, UnsupportedModelError } from './errors.js';
import { byName, ModelIo, type IoModelLike } from './io.js';
import { resolveLoss, type LossName, type PerSampleLoss } from './losses.js';
import { fromLayersModel, type FoldActivation, type FunctionModel } from './model.js';
import { packedLoss, resolveOutputLosses, type OutputLoss, type OutputLosses } from './output-losses.js';
import { PatchFilters } from './patches.js';
import type { StepContext } from './step-context.js';
import type { FngdTrainerOptions } from './trainer-types.js';

/** The model a trainer trains. */
export interface TrainerModel {
  /** The model as a function over its variables. */
  readonly fm: FunctionModel;
  /** The LayersModel given (saves and restores checkpoints), else null. */
  readonly layers: LayersModel | null;
  /** The activation folded into the loss (one output). */
  readonly folded: FoldActivation;
  /** A model with several inputs or outputs: its packing, and its per-output losses (else null). */
  readonly io: ModelIo | null;
  readonly losses: OutputLosses | null;
  /** The loss of a single-output model (a name or a function), else null. */
  readonly loss: OutputLoss | null;
  /** The activation folded into each output's loss. */
  readonly outputsFolded: readonly FoldActivation[];
}

const isOutputLoss = (v: unknown): v is OutputLoss => typeof v === 'function' || typeof v === 'string';

/** The one loss of a single-output model, given alone or as a one-element array / record. */
function singleLoss(loss: unknown, outputName: string): OutputLoss {
  if (isOutputLoss(loss)) return loss;
  if (Array.isArray(loss) || (typeof loss === 'object' && loss !== null)) {
    return byName('FngdTrainer.create', 'outputs (loss)', loss, [{ name: outputName, shape: [], size: 0, dtype: 'float32' }], isOutputLoss)[0] as OutputLoss;
  }
  throw new AdapterArgumentError('FngdTrainer.create: `loss` must be a loss name or a per-sample function');
}

function isLayersModel(m: unknown): m is LayersModel {
  return typeof m === 'object' && m !== null && typeof (m as { getClassName?: unknown }).getClassName === 'function' && Array.isArray((m as { layers?: unknown }).layers);
}

/**
 * Compiles a LayersModel (unsupported layers throw `UnsupportedLayerError` before any weight changes) or checks a
 * FunctionModel's form (`AdapterArgumentError`).
 */
export function trainerModel(model: LayersModel | FunctionModel, options: FngdTrainerOptions, choice: EngineChoice): TrainerModel {
  const layers = isLayersModel(model) ? model : null;
  const packing = layers ? ModelIo.of(layers as unknown as IoModelLike) : null;
  const losses = packing ? resolveOutputLosses(options.loss, options.lossWeights, packing.outputs) : null;
  if (!packing && options.lossWeights !== undefined) throw new AdapterArgumentError('FngdTrainer.create: `lossWeights` is for models with several outputs');
  const loss = packing ? null : singleLoss(options.loss, layers?.outputNames[0] ?? 'output');
  const foldOf = (l: OutputLoss | null): FoldActivation => (l === 'softmax-cross-entropy' ? 'softmax' : l === 'sigmoid-cross-entropy' ? 'sigmoid' : null);
  const fold: FoldActivation | readonly FoldActivation[] = losses ? losses.folds : foldOf(loss);
  const kind = 'tf' in choice ? null : choice.resolved.definition.kind;
  const optimizer = kind === null ? 'the tfjs-optimizer baseline' : kind === 'fngd' ? 'FNGD' : kind === 'kfac' ? 'KFAC' : kind;
  // an optimizer of per-sample gradients (FNGD): its one-sample fallback passes need samples that do not interact;
  // the exact route never runs them
  const gram = 'resolved' in choice && choice.resolved.definition.perSampleGradients === true;
  const perSample = gram && options.perSample !== 'exact';
  if (!layers && options.skipLayers !== undefined) throw new AdapterArgumentError('FngdTrainer.create: skipLayers names layers of a LayersModel; a FunctionModel lists its plain-gradient variables in `plain`');
  const skip = options.skipLayers ?? [];
  const compiled = layers ? fromLayersModel(layers, fold, { optimizer, perSample, skip, ...(gram ? {} : { warn: () => {} }) }) : null;
  const fm: FunctionModel = compiled ?? (model as FunctionModel);
  if (!layers && (!Array.isArray(fm.variables) || typeof fm.forward !== 'function')) {
    throw new AdapterArgumentError('FngdTrainer.create: expected a tf.LayersModel or a FunctionModel { variables, forward }');
  }
  checkPlain(fm, optimizer, gram);
  const folded = compiled?.folded ?? null;
  return { fm, layers, folded, io: compiled?.io ?? null, losses, loss, outputsFolded: compiled?.outputsFolded ?? [folded] };
}

/**
 * Throws unless the model's plain variables are among its variables and none is a tap's kernel or bias; under
 * FNGD, unless some variable is left to precondition.
 */
function checkPlain(fm: FunctionModel, optimizer: string, gram: boolean): void {
  const plain = fm.plain ?? [];
  if (plain.length === 0) return;
  if (!Array.isArray(plain)) throw new AdapterArgumentError('FngdTrainer.create: `plain` must be an array of the model\'s variables');
  const vars = new Set(fm.variables);
  const foreign = plain.find((v) => !vars.has(v));
  if (foreign) throw new AdapterArgumentError(`FngdTrainer.create: plain variable '${foreign.name}' is not among the model's variables`);
  const tapped = new Set((fm.taps ?? []).flatMap((t) => (t.bias ? [t.kernel, t.bias] : [t.kernel])));
  const both = plain.find((v) => tapped.has(v));
  if (both) throw new AdapterArgumentError(`FngdTrainer.create: variable '${both.name}' is both plain and a tapped layer's weight`);
  if (gram && new Set(plain).size >= fm.variables.length) {
    throw new UnsupportedModelError(`${optimizer}: every trainable weight is skipped (plain gradient), so nothing is preconditioned; skip fewer layers, or train with a first-order optimizer`);
  }
}

/** The step context of a model: its variables with one unique name each (`AdapterArgumentError` otherwise) and the loss. */
export function stepContext(m: Pick<TrainerModel, 'fm' | 'io' | 'losses' | 'loss'>, checkCoupling = false): StepContext {
  const model = m.fm;
  const names = model.names ?? model.variables.map((_, i) => `p${i}`);
  if (names.length !== model.variables.length || new Set(names).size !== names.length) {
    throw new AdapterArgumentError('names: one unique name per variable is required');
  }
  const loss: PerSampleLoss = m.io && m.losses ? packedLoss(m.io, m.losses) : resolveLoss(m.loss as LossName | PerSampleLoss);
  return { model, loss, variables: model.variables, names, filters: new PatchFilters(), checkCoupling };
}
