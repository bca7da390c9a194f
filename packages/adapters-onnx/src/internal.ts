/**
 * `@ifngd/adapters-onnx/internal`: a tiny ONNX writer for models built in JS (`buildModel`) that this repository's
 * tests, examples and consumer check use to make models without ONNX files. Not part of the public API (no semver
 * promise); train your own exported `.onnx` models with `OnnxTrainer`.
 * @module
 */
export { buildModel, type ModelSpec } from './model-builder.js';
export type { AttrValue } from './proto.js';
