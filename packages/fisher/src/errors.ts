/**
 * Typed errors thrown by `@ifngd/fisher`. Each carries a stable `code`; messages name the shapes or values
 * involved. Errors of the linear-algebra layer (`LinalgError`) pass through unchanged. {@link NonFiniteError}
 * is defined here once for the stack (`ifngd` and the adapters re-export it); the root `IfngdError` comes from
 * `@ifngd/linalg-gpu`.
 * @module
 */
import { IfngdError } from '@ifngd/linalg-gpu';

/** Stable machine-readable error codes of this package. */
export type FisherErrorCode = 'INVALID_DAMPING' | 'NON_FINITE' | 'FACTORIZATION' | 'SHAPE_MISMATCH' | 'INVALID_ARGUMENT';

/** Base class of every error this package throws. */
export class FisherError extends IfngdError<FisherErrorCode> {}

/** The damping λ is not a finite number > 0 (or n·λ overflows). */
export class InvalidDampingError extends FisherError {
  /** The rejected value. */
  readonly damping: unknown;
  constructor(message: string, damping: unknown) {
    super('INVALID_DAMPING', message);
    this.damping = damping;
  }
}

/**
 * Non-finite values (NaN, ±Infinity): in a Gram matrix or the coefficients solved from it (`entries` names the
 * layers), or — thrown by `ifngd` and the adapters — in factors, gradients, parameters, losses or updates.
 */
export class NonFiniteError extends FisherError {
  /** Batch entries (layers) found non-finite; empty when the values are not per layer. */
  readonly entries: readonly number[];
  constructor(message: string, entries: readonly number[] = []) {
    super('NON_FINITE', message);
    this.entries = entries;
  }
}

/** The damped Gram stayed not positive definite even after every jitter retry. */
export class FactorizationError extends FisherError {
  /** Batch entries (layers) that could not be factorized. */
  readonly entries: readonly number[];
  /** LAPACK-style `info` (1-based failing pivot) of each entry in {@link FactorizationError.entries}. */
  readonly info: readonly number[];
  constructor(message: string, entries: readonly number[], info: readonly number[]) {
    super('FACTORIZATION', message);
    this.entries = entries;
    this.info = info;
  }
}

/** Operands disagree in shape (sample counts n, patch counts T, batch of layers…). */
export class ShapeMismatchError extends FisherError {
  constructor(message: string) {
    super('SHAPE_MISMATCH', message);
  }
}

/** An argument is not of the expected kind (not a matrix, unknown factor kind, bad option…). */
export class FisherArgumentError extends FisherError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}
