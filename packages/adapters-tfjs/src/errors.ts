/**
 * Typed errors of the TensorFlow.js adapter.
 * @module
 */

/** Codes of {@link AdapterError}. */
export type AdapterErrorCode = 'UNSUPPORTED_LAYER' | 'UNSUPPORTED_MODEL' | 'INVALID_ARGUMENT' | 'CHECKPOINT';

/** Base class of every error this package throws (errors of `ifngd`, `@ifngd/fisher` pass through unchanged). */
export class AdapterError extends Error {
  readonly code: AdapterErrorCode;
  constructor(code: AdapterErrorCode, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

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

/** The model's topology is not a single chain of supported layers. */
export class UnsupportedModelError extends AdapterError {
  constructor(message: string) {
    super('UNSUPPORTED_MODEL', message);
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
