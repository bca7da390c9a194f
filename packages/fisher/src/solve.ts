/**
 * The robust, host-facing coefficient solve: batched Cholesky, per-entry jitter retries, never a NaN.
 * @module
 */
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import { takeEntries } from './combine.js';
import { FactorizationError, FisherArgumentError, NonFiniteError } from './errors.js';
import { Scope } from './scope.js';
import { dampingShift, requireMatrix, requireSquare } from './validate.js';

/** Result of {@link solveCoefficients}. */
export interface CoefficientSolve {
  /** `α = (G + nλI + jitter·I)⁻¹·1`, `L·n` (or n) floats, batch-major. */
  readonly alpha: Float32Array;
  /** Extra factorizations spent on jitter retries, summed over batch entries (0 when none failed). */
  readonly jitterRetries: number;
  /** Per batch entry: the extra diagonal jitter finally used (0 when the first factorization succeeded). */
  readonly shift: Float64Array;
}

/** Options of {@link solveCoefficients}. */
export interface SolveOptions {
  /** Retries per failing entry, each with 10× the previous jitter. Default 6. */
  readonly maxJitterRetries?: number;
  /**
   * First jitter, *relative* to the entry's scale `mean(diag G) + nλ` (absolute jitter = initialJitter·scale).
   * Default 1e-6 (float32 round-off level).
   */
  readonly initialJitter?: number;
}

/**
 * Solves `α = (G + nλI)⁻¹·1` for every batch entry of G (`[n,n]` or `[L,n,n]`) and reads α back.
 *
 * All entries are factorized in one batched Cholesky. Entries whose float32 factorization breaks down
 * (`info ≠ 0`) or gives a non-finite α are retried alone with an extra diagonal jitter
 * `initialJitter·(mean(diag G) + nλ)`, ×10 per retry. The returned α is always finite.
 *
 * @throws {@link InvalidDampingError} unless `damping` is finite and > 0.
 * @throws {@link NonFiniteError} when G holds NaN/±∞ (checked on the device through G·1), or α overflows.
 * @throws {@link FactorizationError} when an entry still fails after `maxJitterRetries` retries.
 */
export async function solveCoefficients(
  dev: LinalgDevice,
  gram: Matrix,
  damping: number,
  options: SolveOptions = {},
): Promise<CoefficientSolve> {
  const what = 'solveCoefficients';
  requireMatrix(gram, 'gram', what);
  requireSquare(gram, 'gram', what);
  const shift = dampingShift(damping, gram.rows, what);
  const maxRetries = options.maxJitterRetries ?? 6;
  const initial = options.initialJitter ?? 1e-6;
  if (!Number.isSafeInteger(maxRetries) || maxRetries < 0) {
    throw new FisherArgumentError(`${what}: maxJitterRetries must be an integer ≥ 0, got ${String(maxRetries)}`);
  }
  if (typeof initial !== 'number' || !Number.isFinite(initial) || initial <= 0) {
    throw new FisherArgumentError(`${what}: initialJitter must be a finite number > 0, got ${String(initial)}`);
  }
  const { n, batch } = { n: gram.rows, batch: gram.batch };

  const first = await firstPass(dev, gram, shift);
  const nonFinite = entriesWhere(batch, (b) => !allFinite(first.rowSums.subarray(b * n, (b + 1) * n)));
  if (nonFinite.length > 0) {
    throw new NonFiniteError(`${what}: Gram [${gram.shape.join(',')}] holds NaN or ±Infinity in entries ${nonFinite.join(', ')}`, nonFinite);
  }
  const alpha = first.alpha;
  const jitter = new Float64Array(batch);
  let failing = entriesWhere(batch, (b) => first.info[b] !== 0 || !allFinite(alpha.subarray(b * n, (b + 1) * n)));
  if (failing.length === 0) return { alpha, jitterRetries: 0, shift: jitter };

  const host = await readEntries(dev, gram, failing);
  const base = new Map(failing.map((b, i) => [b, initial * scaleOf(host.subarray(i * n * n, (i + 1) * n * n), n, shift)]));
  const data = new Map(failing.map((b, i) => [b, host.subarray(i * n * n, (i + 1) * n * n)]));
  let retries = 0;
  let lastInfo = new Map<number, number>(failing.map((b) => [b, first.info[b] ?? 0]));
  for (let r = 0; r < maxRetries && failing.length > 0; r++) {
    const tries = failing.map((b) => ({ b, jitter: base.get(b)! * 10 ** r }));
    const results = await Promise.all(tries.map((t) => solveOne(dev, data.get(t.b)!, n, shift + t.jitter)));
    retries += tries.length;
    lastInfo = new Map();
    tries.forEach((t, i) => {
      const res = results[i]!;
      if (res.info === 0 && allFinite(res.alpha)) {
        alpha.set(res.alpha, t.b * n);
        jitter[t.b] = t.jitter;
      } else {
        lastInfo.set(t.b, res.info);
      }
    });
    failing = failing.filter((b) => lastInfo.has(b));
  }
  if (failing.length > 0) {
    const info = failing.map((b) => lastInfo.get(b) ?? 0);
    if (info.every((v) => v === 0)) {
      throw new NonFiniteError(`${what}: coefficients overflow in entries ${failing.join(', ')}`, failing);
    }
    throw new FactorizationError(
      `${what}: Gram [${gram.shape.join(',')}] + ${shift}·I is not positive definite in entries ${failing
        .map((b, i) => `${b} (pivot ${info[i]})`)
        .join(', ')} even after ${maxRetries} jitter retries`,
      failing,
      info,
    );
  }
  return { alpha, jitterRetries: retries, shift: jitter };
}

/** One batched solve for every entry, plus the row sums G·1 that expose non-finite entries. */
async function firstPass(
  dev: LinalgDevice,
  gram: Matrix,
  shift: number,
): Promise<{ alpha: Float32Array; info: Int32Array; rowSums: Float32Array }> {
  const s = new Scope();
  try {
    const ones = s.tmp(dev.full([gram.rows, 1], 1));
    const rowSums = s.tmp(dev.gemm(gram, ones));
    const alpha = s.tmp(dev.choleskySolve(gram, ones, { shift }));
    const [sums, a, info] = await Promise.all([dev.read(rowSums), dev.read(alpha, { allowFailed: true }), dev.readInfo(alpha)]);
    return { alpha: a, info, rowSums: sums };
  } finally {
    s.close();
  }
}

/** Host copy of the selected batch entries of G. */
async function readEntries(dev: LinalgDevice, gram: Matrix, entries: readonly number[]): Promise<Float32Array> {
  if (gram.batch === 1) return dev.read(gram);
  const sub = takeEntries(dev, gram, entries);
  try {
    return await dev.read(sub);
  } finally {
    sub.dispose();
  }
}

/** Solves one n×n entry (uploaded from the host copy) with the given total shift. */
async function solveOne(dev: LinalgDevice, g: Float32Array, n: number, shift: number): Promise<{ alpha: Float32Array; info: number }> {
  const s = new Scope();
  try {
    const gm = s.tmp(dev.matrix(g, [n, n]));
    const x = s.tmp(dev.choleskySolve(gm, s.tmp(dev.full([n, 1], 1)), { shift }));
    const [alpha, info] = await Promise.all([dev.read(x, { allowFailed: true }), dev.readInfo(x)]);
    return { alpha, info: info[0] ?? 0 };
  } finally {
    s.close();
  }
}

/** `mean |diag G| + shift`: the scale jitter is relative to (positive because shift > 0). */
function scaleOf(g: Float32Array, n: number, shift: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.abs(g[i * n + i]!);
  return s / n + shift;
}

function allFinite(xs: Float32Array): boolean {
  for (const x of xs) if (!Number.isFinite(x)) return false;
  return true;
}

function entriesWhere(batch: number, pred: (b: number) => boolean): number[] {
  const out: number[] = [];
  for (let b = 0; b < batch; b++) if (pred(b)) out.push(b);
  return out;
}
