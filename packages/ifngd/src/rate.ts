/**
 * The learning rate a step will use, checked before the step runs: a schedule is a user function, so its value
 * at use is validated like an option.
 * @module
 */
import { InvalidArgumentError, NonFiniteError } from './errors.js';
import type { Schedule } from './schedule.js';

/**
 * `schedule(count)`, checked. Throws `InvalidArgumentError` for a negative rate or a value that is not a
 * number (a schedule that ascends the loss is a configuration error, whatever `onNonFinite` says), and
 * `NonFiniteError` for NaN or ±Infinity unless `skip` — then it returns the value, and the step is skipped
 * and counted like one with non-finite gradients. 0 is allowed: `warmup`'s default start and `cosineSchedule`'s
 * default end are 0 (a step that changes nothing but the optimizer's state).
 */
export function scheduledRate(schedule: Schedule, count: number, skip: boolean, where: string): number {
  const lr = schedule(count);
  if (typeof lr !== 'number') throw new InvalidArgumentError(`${where}: the learning-rate schedule returned ${String(lr)} at step ${count} (not a number)`);
  if (!Number.isFinite(lr)) {
    if (skip) return lr;
    throw new NonFiniteError(`${where}: the learning-rate schedule returned ${String(lr)} at step ${count}`);
  }
  if (lr < 0) throw new InvalidArgumentError(`${where}: the learning-rate schedule returned ${lr} at step ${count} (must be ≥ 0)`);
  return lr;
}
