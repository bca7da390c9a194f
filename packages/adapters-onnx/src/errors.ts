/**
 * Typed errors of the ONNX adapter. Every error is thrown before anything changes (sessions, parameters,
 * optimizer state).
 * @module
 */

/** Machine-readable reason of an {@link OnnxAdapterError}. */
export type OnnxAdapterErrorCode =
  | 'malformed-model'
  | 'unsupported-model'
  | 'unsupported-op'
  | 'invalid-option'
  | 'invalid-feed'
  | 'invalid-target'
  | 'disposed'
  | 'runtime-unavailable';

/** Base class of every error thrown by `@ifngd/adapters-onnx`. */
export class OnnxAdapterError extends Error {
  /** The reason, for programmatic handling. */
  readonly code: OnnxAdapterErrorCode;
  constructor(code: OnnxAdapterErrorCode, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The bytes are not an ONNX `ModelProto` (or lack a graph). */
export class MalformedModelError extends OnnxAdapterError {
  constructor(message: string) {
    super('malformed-model', message);
  }
}

/** The model is valid ONNX but outside what the adapter trains (opset, dtype, external data, shapes). */
export class UnsupportedModelError extends OnnxAdapterError {
  constructor(message: string) {
    super('unsupported-model', message);
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

/** An option of the trainer is invalid. */
export class InvalidOptionError extends OnnxAdapterError {
  constructor(message: string) {
    super('invalid-option', message);
  }
}

/** Feeds are missing a model input, name an unknown one, or have the wrong type or shape. */
export class FeedError extends OnnxAdapterError {
  constructor(message: string) {
    super('invalid-feed', message);
  }
}

/** Targets have the wrong type, shape or values for the loss. */
export class TargetError extends OnnxAdapterError {
  constructor(message: string) {
    super('invalid-target', message);
  }
}

/** The trainer was disposed. */
export class DisposedError extends OnnxAdapterError {
  constructor(message: string) {
    super('disposed', message);
  }
}

/** No ONNX Runtime could be loaded (neither the optional peers nor a global `ort`) and none was passed as `ort`. */
export class RuntimeUnavailableError extends OnnxAdapterError {
  constructor(message: string) {
    super('runtime-unavailable', message);
  }
}
