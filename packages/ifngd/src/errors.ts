/**
 * Typed errors thrown by `ifngd`. Every error carries a stable `code`; whenever one is thrown, the optimizer's
 * state, coefficient cache and the caller's parameters are unchanged.
 *
 * One definition per concept for the whole stack: the root {@link IfngdError} and the shared
 * {@link InvalidArgumentError}, {@link ShapeError}, {@link DisposedError} come from `@ifngd/linalg-gpu`,
 * {@link NonFiniteError} from `@ifngd/fisher`; they are re-exported here unchanged. {@link UnsupportedModelError}
 * is defined here for both adapters.
 * @module
 */
import { DisposedError, IfngdError, InvalidArgumentError, ShapeError } from '@ifngd/linalg-gpu';
import { NonFiniteError } from '@ifngd/fisher';

export { DisposedError, IfngdError, InvalidArgumentError, NonFiniteError, ShapeError };

/** Stable machine-readable codes of the errors `ifngd` throws (its own and the shared concepts). */
export type IfngdErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NON_FINITE'
  | 'SHAPE'
  | 'BATCH_SIZE_MISMATCH'
  | 'NOT_INITIALIZED'
  | 'CHECKPOINT_FORMAT'
  | 'CHECKPOINT_VERSION'
  | 'CHECKPOINT_CHECKSUM'
  | 'CHECKPOINT_MODEL'
  | 'UNSUPPORTED_MODEL'
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
