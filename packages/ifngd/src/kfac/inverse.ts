/**
 * Inverses of symmetric positive-definite matrices on the linalg device, batched by size.
 *
 * Matrices of the same order m (the A and G factors of every layer, whichever have that order) are uploaded
 * as one `[b, m, m]` batch; then one batched Cholesky `M = L·Lᵀ`, one batched triangular solve
 * `X = L⁻ᵀ` (`Lᵀ·X = I`, the identity broadcast over the batch), and one batched GEMM `M⁻¹ = X·Xᵀ`. Every group
 * is enqueued before anything is read back. Cost per group: `b·(m³/3 + m³/2 + m³)` ≈ `1.8·b·m³` multiply-adds
 * (Cholesky, triangular solve with m right-hand sides, GEMM).
 * @module
 */
import { FactorizationError } from '@ifngd/fisher';
import { NotPositiveDefiniteError, type LinalgDevice } from '@ifngd/linalg-gpu';
import { collecting, readAll } from './read.js';

/** A matrix to invert: row-major `[order, order]` float32. */
export interface SpdMatrix {
  readonly data: Float32Array;
  readonly order: number;
}

/** Diagonal jitter of a retried factorization: `INITIAL_JITTER·mean(diag M)`, ×10 per retry. */
export const INITIAL_JITTER = 1e-6;
/** Retries per matrix before {@link spdInverses} gives up. */
export const MAX_JITTER_RETRIES = 6;

/**
 * `M⁻¹` of every matrix, in input order. The damped factors are positive definite in exact arithmetic, but
 * float32 can fail a Cholesky pivot when the π-rule gives one factor a damping tiny against its scale; then
 * each matrix is inverted alone, and one that fails is retried with a diagonal jitter
 * `INITIAL_JITTER·mean(diag M)`, ×10 per retry (as `@ifngd/fisher` does for Grams). Still failing after
 * `MAX_JITTER_RETRIES` → fisher's `FactorizationError`. All device memory is released either way.
 */
export async function spdInverses(dev: LinalgDevice, ms: readonly SpdMatrix[]): Promise<Float32Array[]> {
  try {
    return await batchedInverses(dev, ms);
  } catch (err) {
    if (!(err instanceof NotPositiveDefiniteError)) throw err;
  }
  const out: Float32Array[] = [];
  for (let i = 0; i < ms.length; i++) out.push(await jitteredInverse(dev, ms[i] as SpdMatrix, i));
  return out;
}

async function jitteredInverse(dev: LinalgDevice, m: SpdMatrix, index: number): Promise<Float32Array> {
  const { order, data } = m;
  let trace = 0;
  for (let r = 0; r < order; r++) trace += data[r * order + r] as number;
  const scale = trace > 0 && Number.isFinite(trace) ? trace / order : 1;
  let info = 0;
  for (let k = 0; k <= MAX_JITTER_RETRIES; k++) {
    let d = data;
    if (k > 0) {
      d = data.slice();
      const eps = INITIAL_JITTER * scale * 10 ** (k - 1);
      for (let r = 0; r < order; r++) d[r * order + r] = (d[r * order + r] as number) + eps;
    }
    try {
      return (await batchedInverses(dev, [{ data: d, order }]))[0] as Float32Array;
    } catch (err) {
      if (!(err instanceof NotPositiveDefiniteError)) throw err;
      info = err.info[0] ?? 0;
    }
  }
  throw new FactorizationError(
    `kfac: factor ${index} (order ${order}) is not positive definite after ${MAX_JITTER_RETRIES} jitter retries (pivot ${info})`,
    [index],
    [info],
  );
}

async function batchedInverses(dev: LinalgDevice, ms: readonly SpdMatrix[]): Promise<Float32Array[]> {
  const groups = new Map<number, number[]>();
  ms.forEach((m, i) => {
    const g = groups.get(m.order);
    if (g) g.push(i);
    else groups.set(m.order, [i]);
  });
  const plan = [...groups.entries()];
  const { result: inverses, tmp } = collecting((t) =>
    plan.map(([order, members]) => {
      const size = order * order;
      const batch = new Float32Array(members.length * size);
      members.forEach((i, k) => batch.set((ms[i] as SpdMatrix).data, k * size));
      const identity = new Float32Array(size);
      for (let r = 0; r < order; r++) identity[r * order + r] = 1;
      const m = dev.matrix(batch, [members.length, order, order]);
      t.push(m);
      const eye = dev.matrix(identity, [order, order]);
      t.push(eye);
      const l = dev.cholesky(m);
      t.push(l);
      const x = dev.triangularSolve(l, eye, { transpose: true });
      t.push(x);
      const inv = dev.gemm(x, x, { transB: true });
      t.push(inv);
      return inv;
    }),
  );
  const data = await readAll(dev, inverses, tmp);
  const out: Float32Array[] = new Array<Float32Array>(ms.length);
  plan.forEach(([order, members], k) => {
    const size = order * order;
    const d = data[k] as Float32Array;
    members.forEach((i, j) => (out[i] = d.slice(j * size, (j + 1) * size)));
  });
  return out;
}
