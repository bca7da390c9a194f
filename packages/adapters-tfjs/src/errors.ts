/**
 * Typed errors of the TensorFlow.js adapter. The shared concepts (`UnsupportedModelError`, `NonFiniteError`,
 * `InvalidArgumentError`, the root `IfngdError`, …) are `ifngd`'s classes, re-exported by the package index.
 * @module
 */
import { IfngdError, UnsupportedModelError } from 'ifngd';

export { UnsupportedModelError };

/** Codes of {@link AdapterError}. */
export type AdapterErrorCode = 'UNSUPPORTED_LAYER' | 'INVALID_ARGUMENT' | 'CHECKPOINT';

/** Base class of every error this package throws (errors of `ifngd`, `@ifngd/fisher` pass through unchanged). */
export class AdapterError extends IfngdError<AdapterErrorCode> {}

/** A layer the trainer cannot compute per-sample factors (or a forward pass) for. Thrown before any weight changes. */
export class UnsupportedLayerError extends AdapterError {
  /** The layer's name (`layer.name`). */
  readonly layerName: string;
  /** The layer's class (`layer.getClassName()`). */
  readonly className: string;
  constructor(layerName: string, className: string, reason: string) {
    super('UNSUPPORTED_LAYER', `layer '${layerName}' (${className}): ${reason}`);
    this.layerName = layerName;
    this.className = className;
  }
}

/** A bad argument (shapes, options). */
export class AdapterArgumentError extends AdapterError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

/** A saved model without (or with an unreadable) optimizer state. */
export class AdapterCheckpointError extends AdapterError {
  constructor(message: string) {
    super('CHECKPOINT', message);
  }
}
