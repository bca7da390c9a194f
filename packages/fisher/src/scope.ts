/**
 * Lifetime helper: intermediates registered in a scope are disposed when it closes, on success and on
 * error alike, so no code path leaks device storage.
 * @internal
 * @module
 */
import type { Matrix } from '@ifngd/linalg-gpu';

/** Collects intermediate matrices to dispose together. */
export class Scope {
  readonly #held: Matrix[] = [];
  /** Registers `m` for disposal when the scope closes; returns it. */
  tmp<T extends Matrix>(m: T): T {
    this.#held.push(m);
    return m;
  }
  /** Disposes every registered matrix (newest first). */
  close(): void {
    for (let m = this.#held.pop(); m; m = this.#held.pop()) m.dispose();
  }
}

/** Runs `fn` with a fresh scope and closes it afterwards, whatever happens. */
export function scoped<T>(fn: (s: Scope) => T): T {
  const s = new Scope();
  try {
    return fn(s);
  } finally {
    s.close();
  }
}
