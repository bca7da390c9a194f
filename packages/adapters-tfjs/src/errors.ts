/**
 * Typed errors of the TensorFlow.js adapter.
 * @module
 */

/** Codes of {@link AdapterError}. */
export type AdapterErrorCode =
  | 'UNSUPPORTED_LAYER'
  | 'UNSUPPORTED_MODEL'
  | 'INVALID_ARGUMENT'
  | 'INVALID_OPTION'
  | 'INVALID_TARGET'
  | 'CHECKPOINT'
  | 'DISPOSED';

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

/** A bad argument (shapes, options). Subclasses narrow the `code`: {@link InvalidOptionError}, {@link TargetError}. */
export class AdapterArgumentError extends AdapterError {
  constructor(message: string, code: 'INVALID_ARGUMENT' | 'INVALID_OPTION' | 'INVALID_TARGET' = 'INVALID_ARGUMENT') {
    super(code, message);
  }
}

/** An option of `FngdTrainer.create` (or `fit`) is unknown, of the wrong type, or conflicts with another. */
export class InvalidOptionError extends AdapterArgumentError {
  /** The option's key (dotted for nested options, e.g. `kfac.device`). */
  readonly key: string;
  /** The offending value. */
  readonly value: unknown;
  constructor(key: string, value: unknown, reason: string) {
    super(`option '${key}' (${describeValue(value)}): ${reason}`, 'INVALID_OPTION');
    this.key = key;
    this.value = value;
  }
}

/** Shape and dtype of a tensor, as {@link TargetError} reports them. */
export interface TensorSignature {
  readonly shape: readonly number[];
  readonly dtype: string;
}

/**
 * Targets that do not fit the model output and the loss (shape, dtype, sample count, values: NaN/±Infinity,
 * class indices outside `[0, C)`). Thrown before anything runs; nothing changes.
 */
export class TargetError extends AdapterArgumentError {
  /** The targets as given. */
  readonly targets: TensorSignature;
  /** The model output for the same inputs. */
  readonly output: TensorSignature;
  constructor(where: string, targets: TensorSignature, output: TensorSignature, reason: string) {
    super(`${where}: targets ${signature(targets)} do not fit the model output ${signature(output)}: ${reason}`, 'INVALID_TARGET');
    this.targets = { shape: [...targets.shape], dtype: targets.dtype };
    this.output = { shape: [...output.shape], dtype: output.dtype };
  }
}

/** The trainer was disposed (calls made after `dispose()`, and calls still queued when it was called). */
export class DisposedError extends AdapterError {
  constructor(message: string) {
    super('DISPOSED', message);
  }
}

function signature(t: TensorSignature): string {
  return `${t.dtype}[${t.shape.join(',')}]`;
}

function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'function') return 'a function';
  if (Array.isArray(v)) return 'an array';
  if (v !== null && typeof v === 'object') return `an object {${Object.keys(v).slice(0, 6).join(', ')}}`;
  return String(v);
}

/** A saved model without (or with an unreadable) optimizer state. */
export class AdapterCheckpointError extends AdapterError {
  constructor(message: string) {
    super('CHECKPOINT', message);
  }
}
