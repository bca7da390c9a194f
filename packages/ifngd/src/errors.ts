/**
 * Typed errors thrown by `ifngd`. Every error carries a stable `code`; whenever one is thrown, the optimizer's
 * state, coefficient cache and the caller's parameters are unchanged.
 *
 * One definition per concept for the whole stack: the root {@link IfngdError} and the shared
 * {@link InvalidArgumentError}, {@link ShapeError}, {@link DisposedError}, {@link DeviceLostError} come from
 * `@ifngd/linalg-gpu`,
 * {@link NonFiniteError} and {@link FactorizationError} (a damped matrix
 * that stays indefinite after every jitter retry) from `@ifngd/fisher`; they are re-exported here unchanged. {@link UnsupportedModelError}
 * is defined here for both adapters.
 * @module
 */
import { DeviceLostError, DisposedError, IfngdError, InvalidArgumentError, ShapeError } from '@ifngd/linalg-gpu';
import { FactorizationError, NonFiniteError } from '@ifngd/fisher';

export { DeviceLostError, DisposedError, FactorizationError, IfngdError, InvalidArgumentError, NonFiniteError, ShapeError };

/** Stable machine-readable codes of the errors `ifngd` throws (its own and the shared concepts). */
export type IfngdErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NON_FINITE'
  | 'SHAPE'
  | 'BATCH_SIZE_MISMATCH'
  | 'NOT_INITIALIZED'
  | 'STALE_COEFFICIENTS'
  | 'CHECKPOINT_FORMAT'
  | 'CHECKPOINT_VERSION'
  | 'CHECKPOINT_CHECKSUM'
  | 'CHECKPOINT_MODEL'
  | 'UNSUPPORTED_MODEL'
  | 'INVALID_OPTION'
  | 'INVALID_TARGET'
  | 'DISPOSED';

/** A batch key was reused with a different number of samples than the coefficients cached for it. */
export class BatchSizeMismatchError extends IfngdError<'BATCH_SIZE_MISMATCH'> {
  constructor(message: string) {
    super('BATCH_SIZE_MISMATCH', message);
  }
}

/** The optimizer was used before `init(params)` (or `restore`). */
export class NotInitializedError extends IfngdError<'NOT_INITIALIZED'> {
  constructor(message: string) {
    super('NOT_INITIALIZED', message);
  }
}

/**
 * Coefficients handed to `step` that can no longer be committed: already used by a successful step, requested
 * before an `init`/`restore`, or served from a cache entry of the batch that has changed since (another step on
 * the same batch committed first, or `invalidate`).
 */
export class StaleCoefficientsError extends IfngdError<'STALE_COEFFICIENTS'> {
  constructor(message: string) {
    super('STALE_COEFFICIENTS', message);
  }
}

/** A checkpoint could not be restored; `code` tells why (format, version, checksum, other model). */
export class CheckpointError extends IfngdError<'CHECKPOINT_FORMAT' | 'CHECKPOINT_VERSION' | 'CHECKPOINT_CHECKSUM' | 'CHECKPOINT_MODEL'> {
  constructor(
    code: 'CHECKPOINT_FORMAT' | 'CHECKPOINT_VERSION' | 'CHECKPOINT_CHECKSUM' | 'CHECKPOINT_MODEL',
    message: string,
  ) {
    super(code, message);
  }
}

/**
 * A model the adapters cannot train (topology, layer kinds, opset, dtypes…). Defined once here for both adapters,
 * which re-export it.
 */
export class UnsupportedModelError extends IfngdError<'UNSUPPORTED_MODEL'> {
  constructor(message: string) {
    super('UNSUPPORTED_MODEL', message);
  }
}

/** Shape and dtype of a tensor, as {@link TargetError} reports them. */
export interface TensorSignature {
  readonly shape: readonly number[];
  readonly dtype: string;
}

/**
 * An option of a trainer (or of one of its calls) is unknown, of the wrong type, out of range, or conflicts with
 * another. Defined once here for both adapters; `key` names the option (dotted when nested, e.g. `kfac.layers`).
 */
export class InvalidOptionError extends IfngdError<'INVALID_OPTION'> {
  /** The option's key, when one option is at fault. */
  readonly key: string | undefined;
  /** The offending value. */
  readonly value: unknown;
  constructor(message: string, detail?: { readonly key: string; readonly value: unknown }) {
    super('INVALID_OPTION', message);
    this.key = detail?.key;
    this.value = detail?.value;
  }
}

/**
 * Targets that do not fit the model output and the loss (shape, dtype, sample count, values: NaN/±Infinity,
 * class indices outside `[0, C)`). Both adapters apply one rule and throw this before anything runs.
 */
export class TargetError extends IfngdError<'INVALID_TARGET'> {
  /** The targets as given (absent when they were not a tensor). */
  readonly targets: TensorSignature | undefined;
  /** The model output the loss applies to. */
  readonly output: TensorSignature | undefined;
  constructor(message: string, detail?: { readonly targets?: TensorSignature; readonly output?: TensorSignature }) {
    super('INVALID_TARGET', message);
    this.targets = detail?.targets && { shape: [...detail.targets.shape], dtype: detail.targets.dtype };
    this.output = detail?.output && { shape: [...detail.output.shape], dtype: detail.output.dtype };
  }
}
