/**
 * Unknown option keys are errors: a misspelled key (`learningrate`) would otherwise be ignored silently and
 * training would run on the default.
 * @module
 */
import { InvalidArgumentError } from './errors.js';

/**
 * Throws `InvalidArgumentError` naming the first own key of `options` that is not in `known` (with the known
 * key it differs from only in case, if any). `where` prefixes the message (`'fngd'`, `'fngd: refresh.drift'`).
 */
export function checkKeys(options: object, known: readonly string[], where: string): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const near = known.find((k) => k.toLowerCase() === key.toLowerCase());
    throw new InvalidArgumentError(
      `${where}: unknown option '${key}'${near ? ` (did you mean '${near}'?)` : ''}; known: ${known.join(', ')}`,
    );
  }
}

/** Throws `InvalidArgumentError` unless `v` is a plain object (not null, not an array). */
export function checkObject(v: unknown, where: string): asserts v is object {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new InvalidArgumentError(`${where} must be an options object, got ${Array.isArray(v) ? 'an array' : String(v)}`);
  }
}
