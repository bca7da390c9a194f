/**
 * A layer's weight and bias leaves as one matrix W̄ with the bias as the extra input (the last column of A's
 * order), and back.
 *
 * - `'out-in'` (`W` is `[q, p]`): `W̄ = [W | b]`, `[q, p+1]` — the bias is the last *column*.
 * - `'in-out'` (`W` is `[p, q]`): `W̄ᵀ = [W; bᵀ]`, `[p+1, q]` — the bias is the last *row*.
 *
 * Without bias, W̄ is W itself.
 * @module
 */
import { aOrder, type LayerDims } from './dims.js';
import type { WeightLayout } from './options.js';

/** Row-major W̄ (`'out-in'`) or W̄ᵀ (`'in-out'`) from the leaves. */
export function gather(layout: WeightLayout, dims: LayerDims, w: Float32Array, b: Float32Array | null): Float32Array {
  const { p, q } = dims;
  if (!b) return w.slice();
  if (layout === 'in-out') {
    const out = new Float32Array((p + 1) * q);
    out.set(w);
    out.set(b, p * q);
    return out;
  }
  const m = p + 1;
  const out = new Float32Array(q * m);
  for (let o = 0; o < q; o++) {
    out.set(w.subarray(o * p, (o + 1) * p), o * m);
    out[o * m + p] = b[o] as number;
  }
  return out;
}

/** The weight and bias leaves of a row-major W̄ (`'out-in'`) or W̄ᵀ (`'in-out'`). */
export function scatter(
  layout: WeightLayout,
  dims: LayerDims,
  x: Float32Array,
): { w: Float32Array; b: Float32Array | null } {
  const { p, q } = dims;
  if (!dims.bias) return { w: x.slice(0, p * q), b: null };
  if (layout === 'in-out') return { w: x.slice(0, p * q), b: x.slice(p * q, (p + 1) * q) };
  const m = aOrder(dims);
  const w = new Float32Array(p * q);
  const b = new Float32Array(q);
  for (let o = 0; o < q; o++) {
    w.set(x.subarray(o * m, o * m + p), o * p);
    b[o] = x[o * m + p] as number;
  }
  return { w, b };
}
