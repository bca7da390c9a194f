/**
 * Unknown option keys are errors: a misspelled key (`learningrate`) would otherwise be ignored silently and
 * training would run on the default.
 * @module
 */
import { InvalidArgumentError, InvalidOptionError } from './errors.js';

/**
 * Throws `InvalidOptionError` naming the first own key of `options` that is not in `known` (with the known key it
 * differs from only in case, if any): its `key` is the option's path inside the optimizer's options
 * (`'learningrate'`, `'refresh.auto.warmpu'`, `'layers[0].layuot'`) and its `value` the value given. `where` prefixes
 * the message (`'fngd'`, `'refresh: drift'`, `'kfac: layers[0]'`).
 */
export function checkKeys(options: object, known: readonly string[], where: string): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const near = known.find((k) => k.toLowerCase() === key.toLowerCase());
    const path = where.replace(/^(fngd|kfac|sgd|adamw?|muon)(: |$)/, '').replace(/: /g, '.');
    throw new InvalidOptionError(
      `${where}: unknown option '${key}'${near ? ` (did you mean '${near}'?)` : ''}; known: ${known.join(', ')}`,
      { key: path ? `${path}.${key}` : key, value: (options as Record<string, unknown>)[key] },
    );
  }
}

/** Throws `InvalidArgumentError` unless `v` is a plain object (not null, not an array). */
export function checkObject(v: unknown, where: string): asserts v is object {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new InvalidArgumentError(`${where} must be an options object, got ${Array.isArray(v) ? 'an array' : String(v)}`);
  }
}
