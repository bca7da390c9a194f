/**
 * Shape checking and broadcasting: turns operand dimensions into backend plans or throws a
 * {@link ShapeError} that names the shapes. Pure functions, shared by every backend.
 * @internal
 * @module
 */
import type { CholeskyPlan, CopyRange, ElementwisePlan, GemmPlan, GramPlan, TrsmPlan } from './backend.js';
import { InvalidArgumentError, ShapeError } from './errors.js';
import type { Shape } from './matrix.js';

/** The dimensions of an operand, as far as planning is concerned. */
export interface Dims {
  readonly shape: Shape;
  readonly batch: number;
  readonly rows: number;
  readonly cols: number;
}

const fmt = (d: Dims): string => `[${d.shape.join(',')}]`;

/** Validates a user shape; returns it frozen. */
export function checkShape(shape: readonly number[], what: string): Shape {
  if (!Array.isArray(shape) || (shape.length !== 2 && shape.length !== 3)) {
    throw new ShapeError(`${what}: shape must be [rows, cols] or [batch, rows, cols], got [${String(shape)}]`);
  }
  for (const s of shape) {
    if (!Number.isSafeInteger(s) || s < 1) {
      throw new ShapeError(`${what}: every dimension must be a positive integer, got [${shape.join(',')}]`);
    }
  }
  return shape as unknown as Shape;
}

/** Throws unless `x` is a finite number. */
export function checkFinite(x: number, name: string, what: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) {
    throw new InvalidArgumentError(`${what}: ${name} must be a finite number, got ${String(x)}`);
  }
  return x;
}

/** Broadcast batch sizes: equal, or one of them 1. Returns the result batch. */
export function broadcastBatch(what: string, ...ops: Dims[]): number {
  let batch = 1;
  for (const d of ops) {
    if (d.batch === 1) continue;
    if (batch !== 1 && batch !== d.batch) {
      throw new ShapeError(`${what}: batch sizes do not broadcast: ${ops.map(fmt).join(' and ')}`);
    }
    batch = d.batch;
  }
  return batch;
}

/** Result shape: 3-D when any operand is 3-D, else 2-D. */
export function resultShape(batch: number, rows: number, cols: number, ...ops: Dims[]): Shape {
  return ops.some((d) => d.shape.length === 3) ? [batch, rows, cols] : [rows, cols];
}

const stride = (d: Dims): number => (d.batch === 1 ? 0 : d.rows * d.cols);

export interface GemmInput {
  readonly transA: boolean;
  readonly transB: boolean;
  readonly alpha: number;
  readonly beta: number;
}

/** Plans `alpha·op(A)·op(B) + beta·C`. */
export function planGemm(a: Dims, b: Dims, c: Dims | null, o: GemmInput): { plan: GemmPlan; shape: Shape } {
  const what = 'gemm';
  const m = o.transA ? a.cols : a.rows;
  const k = o.transA ? a.rows : a.cols;
  const kb = o.transB ? b.cols : b.rows;
  const n = o.transB ? b.rows : b.cols;
  if (k !== kb) {
    throw new ShapeError(
      `${what}: inner dimensions differ: op(A) is ${m}×${k} (A ${fmt(a)}${o.transA ? 'ᵀ' : ''}), op(B) is ${kb}×${n} (B ${fmt(b)}${o.transB ? 'ᵀ' : ''})`,
    );
  }
  const ops = c ? [a, b, c] : [a, b];
  const batch = broadcastBatch(what, ...ops);
  if (c && (c.rows !== m || c.cols !== n)) {
    throw new ShapeError(`${what}: C ${fmt(c)} must be ${m}×${n} per batch entry for A ${fmt(a)} and B ${fmt(b)}`);
  }
  const plan: GemmPlan = {
    batch,
    m,
    n,
    k,
    transA: o.transA,
    transB: o.transB,
    alpha: checkFinite(o.alpha, 'alpha', what),
    beta: c ? checkFinite(o.beta, 'beta', what) : 0,
    strideA: stride(a),
    strideB: stride(b),
    strideC: c ? stride(c) : 0,
  };
  return { plan, shape: resultShape(batch, m, n, ...ops) };
}

/** Plans `A·Aᵀ` per batch entry. */
export function planGram(a: Dims): { plan: GramPlan; shape: Shape } {
  return {
    plan: { batch: a.batch, n: a.rows, d: a.cols },
    shape: resultShape(a.batch, a.rows, a.rows, a),
  };
}

/** Plans a Cholesky factorization of square batch entries. */
export function planCholesky(a: Dims, shift: number, what = 'cholesky'): { plan: CholeskyPlan; shape: Shape } {
  if (a.rows !== a.cols) throw new ShapeError(`${what}: matrix must be square, got ${fmt(a)}`);
  checkFinite(shift, 'shift', what);
  return { plan: { batch: a.batch, n: a.rows, shift }, shape: a.shape };
}

/** Plans `L·X = B` / `Lᵀ·X = B`. */
export function planTrsm(l: Dims, b: Dims, transpose: boolean, what = 'triangularSolve'): { plan: TrsmPlan; shape: Shape } {
  if (l.rows !== l.cols) throw new ShapeError(`${what}: L must be square, got ${fmt(l)}`);
  if (b.rows !== l.rows) {
    throw new ShapeError(`${what}: B ${fmt(b)} must have ${l.rows} rows to match L ${fmt(l)}`);
  }
  const batch = broadcastBatch(what, l, b);
  return {
    plan: { batch, n: l.rows, nrhs: b.cols, transpose, strideL: stride(l), strideB: stride(b) },
    shape: resultShape(batch, b.rows, b.cols, l, b),
  };
}

/** Plans an element-wise map of A (and B, same per-entry shape, broadcast over batch). */
export function planElementwise(
  op: ElementwisePlan['op'],
  a: Dims,
  b: Dims | null,
  scalars: { alpha: number; beta: number; gamma: number },
  what: string,
): { plan: ElementwisePlan; shape: Shape } {
  if (b && (b.rows !== a.rows || b.cols !== a.cols)) {
    throw new ShapeError(`${what}: per-entry shapes differ: ${fmt(a)} and ${fmt(b)}`);
  }
  const ops = b ? [a, b] : [a];
  const batch = broadcastBatch(what, ...ops);
  return {
    plan: {
      op,
      batch,
      size: a.rows * a.cols,
      alpha: checkFinite(scalars.alpha, 'alpha', what),
      beta: checkFinite(scalars.beta, 'beta', what),
      gamma: checkFinite(scalars.gamma, 'shift', what),
      strideA: stride(a),
      strideB: b ? stride(b) : 0,
    },
    shape: resultShape(batch, a.rows, a.cols, ...ops),
  };
}

/**
 * Plans the concatenation of operands along the batch: each operand `i` lands at `offsets[i]` (in batch
 * entries) of a `[Σbatch, rows, cols]` result. Every operand must have the first one's rows×cols.
 */
export function planStack(ms: readonly Dims[], what = 'stack'): { shape: readonly [number, number, number]; offsets: number[] } {
  const [first] = ms;
  if (!first) throw new InvalidArgumentError(`${what}: expected a non-empty array of matrices`);
  const bad = ms.find((d) => d.rows !== first.rows || d.cols !== first.cols);
  if (bad) {
    throw new ShapeError(
      `${what}: every matrix must be ${first.rows}×${first.cols} per batch entry, got ${ms.map(fmt).join(', ')}`,
    );
  }
  const offsets: number[] = [];
  let total = 0;
  for (const d of ms) {
    offsets.push(total);
    total += d.batch;
  }
  return { shape: [total, first.rows, first.cols], offsets };
}

/** Validates gather indices into `m`'s batch (integers in `[0, batch)`, duplicates allowed, non-empty). */
export function planTake(m: Dims, entries: readonly number[], what = 'take'): { shape: readonly [number, number, number] } {
  if (!Array.isArray(entries) || entries.length === 0) {
    throw new InvalidArgumentError(`${what}: entries must be a non-empty array of batch indices`);
  }
  entries.forEach((e, i) => {
    if (!Number.isSafeInteger(e) || e < 0 || e >= m.batch) {
      throw new InvalidArgumentError(
        `${what}: entries[${i}] = ${String(e)} is not an integer batch index in [0, ${m.batch}) of ${fmt(m)}`,
      );
    }
  });
  return { shape: [entries.length, m.rows, m.cols] };
}

/**
 * Copy ranges moving `pairs` of `[srcEntry, dstEntry]` (entries of `size` elements), merging runs where both
 * indices advance by one (a whole operand, or consecutive gather indices, becomes one copy).
 */
export function copyRuns(pairs: readonly (readonly [number, number])[], size: number): CopyRange[] {
  const runs: { src: number; dst: number; len: number }[] = [];
  for (const [src, dst] of pairs) {
    const last = runs[runs.length - 1];
    if (last && last.src + last.len === src && last.dst + last.len === dst) last.len++;
    else runs.push({ src, dst, len: 1 });
  }
  return runs.map((r) => ({ srcOffset: r.src * size, dstOffset: r.dst * size, count: r.len * size }));
}
