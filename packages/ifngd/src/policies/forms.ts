/**
 * The forms a policy takes in `fngd({ refresh })`: its name alone, or an object with its name as the only key.
 * @module
 */

/**
 * Resolves `p` when it is `name` (`bare`: the name alone resolves with `{}`) or `{ [name]: options }`;
 * `undefined` when it is neither.
 */
export function namedForm<O, R>(p: unknown, name: string, resolve: (options: O) => R, bare = true): R | undefined {
  if (p === name) return bare ? resolve({} as O) : undefined;
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return undefined;
  const keys = Object.keys(p);
  return keys.length === 1 && keys[0] === name ? resolve((p as Record<string, O>)[name] as O) : undefined;
}
