/**
 * The FNGD optimizer's own state beyond its transformation chain (checkpointed with it).
 * @module
 */

/** Step count, λ, the guard's reference, adaptive damping's pending step, and the refresh policy's state. */
export interface CoreState {
  /** Applied steps: the learning-rate schedule's position. */
  step: number;
  /** λ for the next computation. */
  damping: number;
  /** Largest fresh update norm seen (guard reference). */
  maxFreshNorm: number;
  /** Adaptive damping: the last fresh step awaiting its after-step loss. */
  pending: { lossBefore: number; predicted: number } | null;
  /** The refresh policy's state (its rule's plain data). */
  policy: unknown;
}
