/**
 * Combining layer Grams: summed (global mode) or stacked into one batch (layer-wise mode), plus selecting
 * batch entries. Built from GEMMs with 0/1 placement matrices, which copy float32 values exactly
 * (a non-finite value, though, spreads along its column: 0·∞ = NaN).
 * @module
 */
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import { FisherArgumentError, ShapeMismatchError } from './errors.js';
import { scoped } from './scope.js';
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
 * solved in one batched call. Costs `Σbₗ·n²` per input.
 */
export function stackGrams(dev: LinalgDevice, grams: readonly Matrix[]): Matrix {
  const n = checkGrams(grams, 'stackGrams');
  const total = grams.reduce((s, g) => s + g.batch, 0);
  return scoped((s) => {
    let acc: Matrix | null = null;
    try {
      let offset = 0;
      for (const g of grams) {
        const place = s.tmp(dev.matrix(placement(total, offset, g.batch), [total, g.batch]));
        const flat = s.tmp(dev.reshape(g, [g.batch, n * n]));
        const next: Matrix = dev.gemm(place, flat, acc ? { c: acc } : {});
        acc?.dispose();
        acc = next;
        offset += g.batch;
      }
      return dev.reshape(acc!, [total, n, n]);
    } finally {
      acc?.dispose(); // the result is a view that keeps the storage alive
    }
  });
}

/**
 * Selected batch entries of `m` (`[b,r,c]` → `[entries.length,r,c]`), in the order given.
 * @internal
 */
export function takeEntries(dev: LinalgDevice, m: Matrix, entries: readonly number[]): Matrix {
  return scoped((s) => {
    const select = new Float32Array(entries.length * m.batch);
    entries.forEach((b, i) => (select[i * m.batch + b] = 1));
    const sel = s.tmp(dev.matrix(select, [entries.length, m.batch]));
    const flat = s.tmp(dev.reshape(m, [m.batch, m.entrySize]));
    const out = s.tmp(dev.gemm(sel, flat));
    return dev.reshape(out, [entries.length, m.rows, m.cols]);
  });
}

/** `[rows, cols]` 0/1 matrix with ones at `(offset + i, i)`. */
function placement(rows: number, offset: number, cols: number): Float32Array {
  const p = new Float32Array(rows * cols);
  for (let i = 0; i < cols; i++) p[(offset + i) * cols + i] = 1;
  return p;
}
