/**
 * Typed errors thrown by `@ifngd/linalg-gpu`. Every error carries a stable `code` so callers can branch
 * without string matching; messages name the shapes involved.
 *
 * This module also defines, once for the whole stack, the root {@link IfngdError} and the error concepts
 * every layer shares ({@link ShapeError}, {@link InvalidArgumentError}, {@link DisposedError}): the upper packages
 * re-export these classes rather than defining their own, so `instanceof` holds whichever package a caller
 * imports them from.
 * @module
 */

/** Stable machine-readable error codes. */
export type LinalgErrorCode =
  | 'SHAPE'
  | 'INVALID_ARGUMENT'
  | 'DISPOSED'
  | 'DEVICE_MISMATCH'
  | 'DEVICE_LIMIT'
  | 'NOT_POSITIVE_DEFINITE'
  | 'SINGULAR'
  | 'DEVICE_LOST'
  | 'BACKEND_UNAVAILABLE'
  | 'GPU';

/**
 * Root of every error thrown by the `@ifngd` packages and `ifngd` (each re-exports this one class):
 * `err instanceof IfngdError` catches them all, `err.code` tells which.
 */
export class IfngdError<C extends string = string> extends Error {
  /** Stable, machine-readable error code. */
  readonly code: C;
  constructor(code: C, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Base class of every error this package throws (and of the shared concepts below). */
export class LinalgError extends IfngdError<LinalgErrorCode> {}

/**
 * Shapes do not fit (inner dimensions, batch broadcasting, squareness, rank; gradients that do not match the
 * parameters). Shared by every package of the stack.
 */
export class ShapeError extends LinalgError {
  constructor(message: string) {
    super('SHAPE', message);
  }
}

/**
 * An argument or option is invalid (non-finite alpha, wrong data length, a learning rate ≤ 0, an unknown option
 * key…). Shared by every package of the stack.
 */
export class InvalidArgumentError extends LinalgError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

/** A matrix, device, optimizer or trainer was used after `dispose()` / `destroy()`. Shared by every package. */
export class DisposedError extends LinalgError {
  constructor(message: string) {
    super('DISPOSED', message);
  }
}

/** Matrices created by two different devices were mixed in one operation. */
export class DeviceMismatchError extends LinalgError {
  constructor(message: string) {
    super('DEVICE_MISMATCH', message);
  }
}

/** An operand or result exceeds a limit of the device (buffer binding size, buffer size). */
export class DeviceLimitError extends LinalgError {
  constructor(message: string) {
    super('DEVICE_LIMIT', message);
  }
}

/** No usable backend of the requested kind (no WebGPU adapter, adapter request failed…). */
export class BackendUnavailableError extends LinalgError {
  constructor(message: string) {
    super('BACKEND_UNAVAILABLE', message);
  }
}

/** The GPU reported a validation or out-of-memory error, or a shader failed to compile. */
export class GpuError extends LinalgError {
  constructor(message: string) {
    super('GPU', message);
  }
}

/**
 * The `GPUDevice` behind a WebGPU linear-algebra device was lost (`GPUDevice.destroy()` by its owner, a
 * driver reset, the GPU process crashing…). Once seen, every later operation of that device —
 * and every use of its matrices — throws this error; create a new device to continue.
 */
export class DeviceLostError extends LinalgError {
  /** `GPUDeviceLostInfo.reason` and message as the implementation reported them (or what failed). */
  readonly reason: string;
  constructor(what: string, reason: string) {
    super('DEVICE_LOST', `${what}: the GPU device was lost (${reason}); create a new device`);
    this.reason = reason;
  }
}

/** Batch indices whose code is not 0, and a short text naming the first few. */
function failures(info: Int32Array, noun: string): { failed: number[]; text: string } {
  const failed: number[] = [];
  info.forEach((v, i) => {
    if (v !== 0) failed.push(i);
  });
  const shown = failed
    .slice(0, 8)
    .map((b) => `entry ${b}: ${noun} ${info[b]}`)
    .join(', ');
  return { failed, text: `${failed.length} of ${info.length} batch entries (${shown}${failed.length > 8 ? ', …' : ''})` };
}

/**
 * A Cholesky factorization met a non-positive (or non-finite) pivot in at least one batch entry.
 *
 * `info[b]` follows LAPACK's `potrf` convention: `0` when entry `b` factorized, otherwise the 1-based index
 * of the first failing pivot.
 */
export class NotPositiveDefiniteError extends LinalgError {
  /** Per batch entry: 0 on success, else the 1-based index of the first failing pivot. */
  readonly info: Int32Array;
  /** Batch indices whose factorization failed. */
  readonly failed: readonly number[];
  constructor(info: Int32Array) {
    const { failed, text } = failures(info, 'pivot');
    super('NOT_POSITIVE_DEFINITE', `matrix is not positive definite in ${text}`);
    this.info = info;
    this.failed = failed;
  }
}

/**
 * A triangular solve met a diagonal entry of L that is zero or not finite (±∞, NaN) in at least one batch
 * entry, so its solution is undefined there.
 *
 * `info[b]` follows LAPACK's `trtrs` convention, extended to non-finite diagonals: `0` when entry `b` solved,
 * otherwise the 1-based index of the first diagonal entry of L that is 0 or not finite.
 */
export class SingularMatrixError extends LinalgError {
  /** Per batch entry: 0 on success, else the 1-based index of the first zero or non-finite diagonal entry. */
  readonly info: Int32Array;
  /** Batch indices whose solve failed. */
  readonly failed: readonly number[];
  constructor(info: Int32Array) {
    const { failed, text } = failures(info, 'diagonal');
    super('SINGULAR', `triangular matrix is singular in ${text}`);
    this.info = info;
    this.failed = failed;
  }
}
