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
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import { collecting, readAll } from './read.js';

/** A matrix to invert: row-major `[order, order]` float32. */
export interface SpdMatrix {
  readonly data: Float32Array;
  readonly order: number;
}

/**
 * `M⁻¹` of every matrix, in input order. Throws linalg's `NotPositiveDefiniteError` when a factorization fails
 * (the damped factors are positive definite in exact arithmetic; float32 can still fail for damping that is
 * tiny against the factor's scale); all device memory is released either way.
 */
export async function spdInverses(dev: LinalgDevice, ms: readonly SpdMatrix[]): Promise<Float32Array[]> {
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
