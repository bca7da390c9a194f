/**
 * Learning-rate schedules: pure functions of the step count (0-based).
 * @module
 */
import { InvalidArgumentError } from './errors.js';

/** A schedule maps the step count (0, 1, 2, …) to a value. */
export type Schedule = (step: number) => number;

function finite(x: number, name: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) throw new InvalidArgumentError(`${name} must be finite, got ${String(x)}`);
  return x;
}

function positiveInt(x: number, name: string): number {
  if (!Number.isSafeInteger(x) || x < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got ${String(x)}`);
  return x;
}

/** Always `value`. */
export function constantSchedule(value: number): Schedule {
  finite(value, 'constantSchedule: value');
  return () => value;
}

/** `init · factor^⌊step / every⌋` (step decay). */
export function stepSchedule(init: number, every: number, factor: number): Schedule {
  finite(init, 'stepSchedule: init');
  positiveInt(every, 'stepSchedule: every');
  finite(factor, 'stepSchedule: factor');
  return (step) => init * factor ** Math.floor(step / every);
}

/** Cosine decay from `init` to `init·alpha` over `decaySteps`, then constant. */
export function cosineSchedule(init: number, decaySteps: number, alpha = 0): Schedule {
  finite(init, 'cosineSchedule: init');
  positiveInt(decaySteps, 'cosineSchedule: decaySteps');
  finite(alpha, 'cosineSchedule: alpha');
  return (step) => {
    const t = Math.min(step, decaySteps) / decaySteps;
    return init * ((1 - alpha) * 0.5 * (1 + Math.cos(Math.PI * t)) + alpha);
  };
}

/** Linear warmup from `start` to `after(0)` over `steps`, then `after(step − steps)`. */
export function warmup(after: Schedule, steps: number, start = 0): Schedule {
  positiveInt(steps, 'warmup: steps');
  finite(start, 'warmup: start');
  return (step) => (step < steps ? start + ((after(0) - start) * step) / steps : after(step - steps));
}

/** A number becomes a constant schedule; a schedule is returned as is. */
export function asSchedule(value: number | Schedule, name: string): Schedule {
  if (typeof value === 'function') return value;
  finite(value, name);
  return () => value;
}
