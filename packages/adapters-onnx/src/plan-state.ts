/**
 * The batch plan an ONNX trainer carries from one `fit` to the next (see `fit-run.ts`), how the last `fit`
 * changed it, and the check of a plan handed back (`restorePlan`).
 * @module
 */
import { checkPlan, type BatchPlan, type PlanChange } from 'ifngd';
import { InvalidOptionError } from './errors.js';

/** The plan of the last `fit` (null before one) and its change against the one before. */
export class PlanState {
  plan: BatchPlan | null = null;
  change: PlanChange | null = null;
  readonly #adopted: (plan: BatchPlan) => void;

  /** `adopted`: called with each adopted plan (the trainer drops cached coefficients of batches outside it). */
  constructor(adopted: (plan: BatchPlan) => void = () => {}) {
    this.#adopted = adopted;
  }

  /** Adopts a `fit`'s plan. */
  set(plan: BatchPlan, change: PlanChange): void {
    this.plan = plan;
    this.change = change;
    this.#adopted(plan);
  }

  /** A plan handed back, checked (`InvalidOptionError`, key `plan`); null stays null. */
  static check(plan: unknown): BatchPlan | null {
    if (plan === null) return null;
    try {
      return checkPlan(plan);
    } catch (e) {
      throw new InvalidOptionError(`restorePlan: ${(e as Error).message}`, { key: 'plan', value: plan });
    }
  }
}
