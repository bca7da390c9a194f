/**
 * Reading several device matrices back at once, and disposing temporaries whatever happens.
 * @module
 */
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';

/**
 * Reads `ms` (in parallel), then disposes every matrix in `dispose` (after all reads settled, so nothing is
 * released under a pending read) and returns the data or throws the first read's error.
 */
export async function readAll(
  dev: LinalgDevice,
  ms: readonly Matrix[],
  dispose: readonly Matrix[],
): Promise<Float32Array[]> {
  const results = await Promise.allSettled(ms.map((m) => dev.read(m)));
  for (const m of dispose) m.dispose();
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<Float32Array>).value);
}

/** Runs `build` with a list to collect temporaries in; disposes them if `build` throws. */
export function collecting<R>(build: (tmp: Matrix[]) => R): { result: R; tmp: Matrix[] } {
  const tmp: Matrix[] = [];
  try {
    return { result: build(tmp), tmp };
  } catch (err) {
    for (const m of tmp) m.dispose();
    throw err;
  }
}
