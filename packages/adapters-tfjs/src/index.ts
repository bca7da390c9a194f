/**
 * `@ifngd/adapters-tfjs`: FNGD (arXiv 2403.03473) — and KFAC on the same factor capture — for TensorFlow.js
 * 4.22 models.
 *
 * ```ts
 * const trainer = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy' }); // FNGD at FNGD_DEFAULTS
 * // or: { loss, fngd: { learningRate: 0.1, damping: 10, momentum: 0.9, refresh: 'first-epoch' } }
 * // or KFAC on the same capture: { loss, kfac: { learningRate: 0.1, damping: 0.01, inverseEvery: 10 } }
 * await trainer.fit(xs, ys, { epochs: 10, batchSize: 128, seed: 1, validationData: [xt, yt] });
 * trainer.evaluate(xt, yt);            // { loss, accuracy }
 * await trainer.save(handler);          // weights + optimizer state (model.json metadata)
 * ```
 * @packageDocumentation
 */
export { FngdTrainer, type BatchResult, type EpochLogs, type Evaluation, type FitCallbacks, type FitOptions, type FngdTrainerOptions, type TrainerData, type TrainerFngdOptions } from './trainer.js';
export type { TrainerKfacOptions } from './trainer-types.js';
export type { FitHistory } from './fit-callbacks.js';
export type { DatasetLike, FitDatasetOptions } from './fit-dataset.js';
export type { BatchLogs, CallbackEpochLogs, TfCallback } from './trainer-types.js';
export { fromLayersModel, denseMatMul, identityTap, type CompiledModel, type CompileOptions, type Conv2dGeometry, type FoldActivation, type FunctionModel, type Penalty, type Tap, type TapWeights } from './model.js';
export type { IoSpec, ModelIo } from './io.js';
export { registerLayerBlock, supportedLayers } from './layers/registry.js';
export type { CompileContext, LayerBlock, LayerLike, LayerOp } from './layers/types.js';
export { WEIGHTLESS_LAYERS } from './layers/weightless.js';
export { registerSiteRule } from './sites/registry.js';
export type { RuleContext, SiteGroup, SiteParams, SiteRecord, SiteRule, TensorFactors } from './sites/types.js';
export { meanSquaredError, resolveLoss, sigmoidCrossEntropy, softmaxCrossEntropy, type LossName, type PerSampleLoss } from './losses.js';
export { tfTreeOps, type TfTree, type TfTreeOps } from './tree-ops.js';
export { linalgDeviceForTf, sharesTfDevice, tfGpuDevice } from './device.js';
export { permutation } from './rng.js';
export { registerWasmConvFilterGradient } from './wasm-conv-filter.js';
export { FNGD_DEFAULTS, KFAC_DEFAULTS } from 'ifngd';
export { AdapterArgumentError, AdapterCheckpointError, AdapterError, UnsupportedLayerError, type AdapterErrorCode } from './errors.js';
/** The stack's shared error concepts (one class each, whichever package they are imported from). */
export {
  DeviceLostError,
  DisposedError,
  IfngdError,
  InvalidArgumentError,
  InvalidOptionError,
  NonFiniteError,
  ShapeError,
  TargetError,
  UnsupportedModelError,
  type TensorSignature,
} from 'ifngd';
