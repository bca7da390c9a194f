/**
 * `@ifngd/adapters-onnx`: train inference ONNX models from JavaScript with FNGD (or KFAC) on ONNX Runtime
 * (onnxruntime-node cpu/webgpu in Node, onnxruntime-web wasm/webgpu in browsers and Node; both optional peers,
 * or pass `ort`). The training graph — parameters as inputs, symbolic batch,
 * appended loss, backward derived op by op from standard ONNX ops — is built in JS.
 *
 * ```ts
 * const trainer = await OnnxTrainer.create(modelBytes, { loss: 'softmax-cross-entropy' }); // FNGD_DEFAULTS
 * // or KFAC on the same factor pass: { loss: 'softmax-cross-entropy', kfac: { learningRate: 0.1 } }
 * const loss = await trainer.step({ x }, labels, { batchKey: 0 });
 * await trainer.fit({ inputs: { x: allX }, targets: allLabels }, { epochs: 3, batchSize: 128 });
 * const trained = trainer.exportModel();   // loadable by a plain InferenceSession
 * ```
 * @packageDocumentation
 */
export { OnnxTrainer } from './trainer.js';
export type { OnnxTrainerOptions, StepOptions } from './options.js';
export type { ExportOptions } from './export-model.js';
export type { FitOptions, Dataset, OnnxEpochLogs, OnnxEvaluation, OnnxFitHistory } from './fit.js';
export type { OnnxKfacOptions } from './kfac.js';
export type { ParameterInfo } from './analyze.js';
export type { LossKind } from './loss.js';
export type { OrtRuntime } from './runtime-check.js';
export { SUPPORTED_OPS } from './ops/index.js';
export { FNGD_DEFAULTS, KFAC_DEFAULTS } from 'ifngd';
export {
  OnnxAdapterError,
  MalformedModelError,
  UnsupportedOpError,
  FeedError,
  RuntimeUnavailableError,
  type OnnxAdapterErrorCode,
  type UnsupportedNode,
} from './errors.js';
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
