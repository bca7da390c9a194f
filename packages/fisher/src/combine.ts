/**
 * Combining layer Grams: summed (global mode) or stacked into one batch (layer-wise mode), plus selecting
 * batch entries. Stacking and selection are exact device-side copies (`LinalgDevice.stack` / `take`): a
 * non-finite value stays in its own entry.
 * @module
 */
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import { FisherArgumentError, ShapeMismatchError } from './errors.js';
import { fmt, requireMatrix, requireSquare } from './validate.js';

function checkGrams(grams: readonly Matrix[], what: string): number {
  if (!Array.isArray(grams) || grams.length === 0) {
    throw new FisherArgumentError(`${what}: grams must be a non-empty array of matrices`);
  }
  grams.forEach((g, l) => {
    requireMatrix(g, `grams[${l}]`, what);
    requireSquare(g, `grams[${l}]`, what);
  });
  const n = grams[0]!.rows;
  if (grams.some((g) => g.rows !== n)) {
    throw new ShapeMismatchError(`${what}: every Gram must be n×n for one n, got ${grams.map(fmt).join(', ')}`);
  }
  return n;
}

/**
 * The whole-model Gram `Σₗ Gₗ` (global mode: J stacks every layer's per-sample gradients side by side).
 * All Grams must have the same shape. Always returns a new matrix (a copy for one Gram).
 */
export function sumGrams(dev: LinalgDevice, grams: readonly Matrix[]): Matrix {
  checkGrams(grams, 'sumGrams');
  const [first, ...rest] = grams as [Matrix, ...Matrix[]];
  const bad = rest.find((g) => g.batch !== first.batch || g.shape.length !== first.shape.length);
  if (bad) throw new ShapeMismatchError(`sumGrams: Grams must all have one shape, got ${fmt(first)} and ${fmt(bad)}`);
  let acc = dev.scale(first, 1);
  try {
    for (const g of rest) {
      const next = dev.add(acc, g);
      acc.dispose();
      acc = next;
    }
  } catch (err) {
    acc.dispose();
    throw err;
  }
  return acc;
}

/**
 * Concatenates Grams along the batch: `[n,n]` (or `[bₗ,n,n]`) each → `[Σbₗ,n,n]`, so every layer's system is
 * solved in one batched call. A device-side copy (`LinalgDevice.stack`): values, NaN/±∞ included, land
 * exactly in their own entry.
 */
export function stackGrams(dev: LinalgDevice, grams: readonly Matrix[]): Matrix {
  checkGrams(grams, 'stackGrams');
  return dev.stack(grams);
}

/**
 * Selected batch entries of `m` (`[b,r,c]` → `[entries.length,r,c]`), in the order given: a device-side
 * gather (`LinalgDevice.take`).
 * @internal
 */
export function takeEntries(dev: LinalgDevice, m: Matrix, entries: readonly number[]): Matrix {
  return dev.take(m, entries);
}
