/**
 * A trainer's progress across calls: the epoch counter and the batch plan of the last `fit` (with how that
 * `fit` changed it) — what `fit` reads and advances, and what checkpoints carry beside the optimizer state.
 * @module
 */
import type { BatchPlan, PlanChange } from 'ifngd';

/** Epoch, batch plan and the last plan change. */
export class TrainingProgress {
  #epoch = 0;
  #plan: BatchPlan | null = null;
  #change: PlanChange | null = null;

  /** Epochs trained so far. */
  get epoch(): number {
    return this.#epoch;
  }

  /** The plan of the last `fit` (null before one). */
  get plan(): BatchPlan | null {
    return this.#plan;
  }

  /** How the last `fit` changed the plan (null before one, and after a restore). */
  get change(): PlanChange | null {
    return this.#change;
  }

  /** Adopts a `fit`'s plan. */
  setPlan(plan: BatchPlan, change: PlanChange): void {
    this.#plan = plan;
    this.#change = change;
  }

  /** Counts a finished epoch. */
  endEpoch(): void {
    this.#epoch++;
  }

  /** Takes a checkpoint's epoch and (checked) plan; `undefined` leaves that part as it is. */
  restore(epoch: number | undefined, plan: BatchPlan | null | undefined): void {
    if (epoch !== undefined) this.#epoch = epoch;
    if (plan !== undefined) {
      this.#plan = plan;
      this.#change = null;
    }
  }
}
