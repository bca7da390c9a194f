/**
 * Typed errors thrown by `ifngd`. Every error carries a stable `code`; whenever one is thrown, the optimizer's
 * state, coefficient cache and the caller's parameters are unchanged.
 * @module
 */

/** Stable machine-readable error codes. */
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
  | 'CHECKPOINT_MODEL';

/** Base class of every error this package throws. */
export class IfngdError extends Error {
  /** Stable error code. */
  readonly code: IfngdErrorCode;
  constructor(code: IfngdErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

/** An option or argument is invalid (λ ≤ 0, n = 0, a learning rate that is not finite…). */
export class InvalidArgumentError extends IfngdError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

/** Non-finite values (NaN, ±Infinity) in curvature factors, gradients, parameters or coefficients. */
export class NonFiniteError extends IfngdError {
  constructor(message: string) {
    super('NON_FINITE', message);
  }
}

/** Shapes disagree: layers with different n, gradients that do not match the parameters, … */
export class ShapeError extends IfngdError {
  constructor(message: string) {
    super('SHAPE', message);
  }
}

/** A batch key was reused with a different number of samples than the coefficients cached for it. */
export class BatchSizeMismatchError extends IfngdError {
  constructor(message: string) {
    super('BATCH_SIZE_MISMATCH', message);
  }
}

/** The optimizer was used before `init(params)` (or `restore`). */
export class NotInitializedError extends IfngdError {
  constructor(message: string) {
    super('NOT_INITIALIZED', message);
  }
}

/**
 * Coefficients handed to `step` that can no longer be committed: already used by a successful step, requested
 * before an `init`/`restore`, or served from a cache entry of the batch that has changed since (another step on
 * the same batch committed first, or `invalidate`).
 */
export class StaleCoefficientsError extends IfngdError {
  constructor(message: string) {
    super('STALE_COEFFICIENTS', message);
  }
}

/** A checkpoint could not be restored; `code` tells why (format, version, checksum, other model). */
export class CheckpointError extends IfngdError {
  constructor(
    code: 'CHECKPOINT_FORMAT' | 'CHECKPOINT_VERSION' | 'CHECKPOINT_CHECKSUM' | 'CHECKPOINT_MODEL',
    message: string,
  ) {
    super(code, message);
  }
}
