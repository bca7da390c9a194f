/**
 * Typed errors of the ONNX adapter. Every error is thrown before anything changes (sessions, parameters,
 * optimizer state). The shared concepts (`UnsupportedModelError`, `DisposedError`, `InvalidOptionError`,
 * `TargetError`, the root `IfngdError`) are
 * `ifngd`'s classes, re-exported by the package index.
 * @module
 */
import { DisposedError, IfngdError, InvalidOptionError, TargetError, UnsupportedModelError, type TensorSignature } from 'ifngd';

export { DisposedError, InvalidOptionError, TargetError, UnsupportedModelError, type TensorSignature };

/** Machine-readable reason of an {@link OnnxAdapterError}. */
export type OnnxAdapterErrorCode =
  | 'malformed-model'
  | 'unsupported-op'
  | 'invalid-feed'
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
    super('unsupported-op', `unsupported nodes: ${list}. The ops the trainer supports, and how: SUPPORTED_OPS, and "Supported ops" in docs/guides/onnx-trainer.md`);
    this.nodes = nodes;
    this.opTypes = [...new Set(nodes.map((n) => n.opType))];
  }
}

/** Feeds are missing a model input, name an unknown one, or have the wrong type or shape. */
export class FeedError extends OnnxAdapterError {
  constructor(message: string) {
    super('invalid-feed', message);
  }
}

/** No ONNX Runtime could be loaded (neither the optional peers nor a global `ort`) and none was passed as `ort`. */
export class RuntimeUnavailableError extends OnnxAdapterError {
  constructor(message: string) {
    super('runtime-unavailable', message);
  }
}
