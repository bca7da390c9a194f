/**
 * Typed errors of the ONNX adapter. Every error is thrown before anything changes (sessions, parameters,
 * optimizer state). The shared concepts (`UnsupportedModelError`, `DisposedError`, the root `IfngdError`) are
 * `ifngd`'s classes, re-exported by the package index.
 * @module
 */
import { DisposedError, IfngdError, UnsupportedModelError } from 'ifngd';

export { DisposedError, UnsupportedModelError };

/** Machine-readable reason of an {@link OnnxAdapterError}. */
export type OnnxAdapterErrorCode =
  | 'malformed-model'
  | 'unsupported-op'
  | 'invalid-option'
  | 'invalid-feed'
  | 'invalid-target'
  | 'runtime-unavailable';

/** Base class of every error thrown by `@ifngd/adapters-onnx`. */
export class OnnxAdapterError extends IfngdError<OnnxAdapterErrorCode> {}

/** The bytes are not an ONNX `ModelProto` (or lack a graph). */
export class MalformedModelError extends OnnxAdapterError {
  constructor(message: string) {
    super('malformed-model', message);
  }
}

/** One node the adapter cannot differentiate, with the reason. */
export interface UnsupportedNode {
  readonly opType: string;
  readonly name: string;
  readonly reason: string;
}

/** Lists *every* unsupported node (op type and node name) found before anything runs. */
export class UnsupportedOpError extends OnnxAdapterError {
  /** All offending nodes. */
  readonly nodes: readonly UnsupportedNode[];
  /** Distinct unsupported op types. */
  readonly opTypes: readonly string[];
  constructor(nodes: readonly UnsupportedNode[]) {
    const list = nodes.map((n) => `${n.opType} '${n.name}' (${n.reason})`).join('; ');
    super('unsupported-op', `unsupported nodes: ${list}`);
    this.nodes = nodes;
    this.opTypes = [...new Set(nodes.map((n) => n.opType))];
  }
}

/**
 * An option of the trainer (of `create`, `step` or `fit`) is invalid or unknown. `key` and `value` name it
 * where one option is at fault.
 */
export class InvalidOptionError extends OnnxAdapterError {
  /** The option's path, e.g. `'loss'`, `'kfac.layers'`, `'fit.batchSize'`; absent when no single option is at fault. */
  readonly key: string | undefined;
  /** The value given for {@link InvalidOptionError.key}. */
  readonly value: unknown;
  constructor(message: string, option?: { readonly key: string; readonly value: unknown }) {
    super('invalid-option', message);
    this.key = option?.key;
    this.value = option?.value;
  }
}

/** Feeds are missing a model input, name an unknown one, or have the wrong type or shape. */
export class FeedError extends OnnxAdapterError {
  constructor(message: string) {
    super('invalid-feed', message);
  }
}

/** A tensor's dtype and dims, as an error reports them. */
export interface TensorDescription {
  readonly type: string;
  readonly dims: readonly number[];
}

/**
 * Targets have the wrong dtype, shape or values for the model output and the loss. The message names the
 * targets' and the output's dtype and shape, and what the loss accepts.
 */
export class TargetError extends OnnxAdapterError {
  /** The targets as given (absent when they were not a tensor). */
  readonly targets: TensorDescription | undefined;
  /** The model output the loss applies to, with the batch dimension set to the inputs' batch size. */
  readonly output: TensorDescription | undefined;
  constructor(message: string, detail?: { readonly targets?: TensorDescription; readonly output?: TensorDescription }) {
    super('invalid-target', message);
    this.targets = detail?.targets;
    this.output = detail?.output;
  }
}

/** No ONNX Runtime could be loaded (neither the optional peers nor a global `ort`) and none was passed as `ort`. */
export class RuntimeUnavailableError extends OnnxAdapterError {
  constructor(message: string) {
    super('runtime-unavailable', message);
  }
}
