/**
 * Typed errors of the TensorFlow.js adapter. The shared concepts (`UnsupportedModelError`, `InvalidOptionError`,
 * `TargetError`, `DisposedError`, `NonFiniteError`, the root `IfngdError`, …) are `ifngd`'s classes, re-exported
 * by the package index; this module builds their messages the adapter's way.
 * @module
 */
import { IfngdError, InvalidOptionError, TargetError, UnsupportedModelError, type TensorSignature } from 'ifngd';

export { DisposedError } from 'ifngd';
export { InvalidOptionError, TargetError, UnsupportedModelError, type TensorSignature };

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

/** A bad argument (shapes of inputs, batch keys, epochs…). Options and targets have their own classes. */
export class AdapterArgumentError extends AdapterError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

/** An {@link InvalidOptionError} naming `key` and `value`, with the adapter's message. */
export function optionError(key: string, value: unknown, reason: string): InvalidOptionError {
  return new InvalidOptionError(`option '${key}' (${describeValue(value)}): ${reason}`, { key, value });
}

/** A {@link TargetError} naming both shapes and dtypes, with the adapter's message. */
export function targetError(where: string, targets: TensorSignature, output: TensorSignature, reason: string): TargetError {
  return new TargetError(`${where}: targets ${signature(targets)} do not fit the model output ${signature(output)}: ${reason}`, { targets, output });
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
