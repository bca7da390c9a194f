/**
 * One batch's Kronecker factors Â, Ĝ of every layer, computed on the device and read back in float64.
 *
 * **Loss scaling.** The factors are those of fisher's `LayerFactors`: `Δ` holds the output-gradients of the
 * *summed* loss `Σⱼ ℓⱼ`, so row i is sample i's own gradient `δᵢ = ∂ℓᵢ/∂zᵢ`. With `āᵢ = [aᵢ; 1]` (the bias
 * column appended last; without bias `āᵢ = aᵢ`):
 *
 * - **Dense** (n samples): `Â = (1/n)·Σᵢ āᵢāᵢᵀ`, `Ĝ = (1/n)·Σᵢ δᵢδᵢᵀ = ΔᵀΔ/n`. Sample i's gradient w.r.t.
 *   `W̄ = [W | b]` (`[q, p+1]`, out-in) is `δᵢāᵢᵀ`, whose row-major vectorisation is `δᵢ ⊗ āᵢ`; so the
 *   empirical Fisher of the *mean* loss `L = (1/n)Σᵢℓᵢ`, `F = (1/n)·Σᵢ (δᵢδᵢᵀ) ⊗ (āᵢāᵢᵀ)`, is approximated by
 *   `Ĝ ⊗ Â` (exactly for n = 1). Were Δ the gradients of the mean loss (`δᵢ/n`), Ĝ would be `n·ΔᵀΔ`.
 * - **Conv2D** (KFC, Grosse & Martens 2016; T positions, `āᵢₜ` the im2col patch with a 1 appended):
 *   `Â = (1/(nT))·Σᵢₜ āᵢₜāᵢₜᵀ` (patches averaged over samples *and* positions) and `Ĝ = (1/n)·Σᵢₜ δᵢₜδᵢₜᵀ`
 *   (summed over positions: T times the position average). Their product is the paper's `Ω ⊗ Γ` with
 *   `Ω = E[Σₜ āₜāₜᵀ]`, `Γ = (1/T)·E[Σₜ δₜδₜᵀ]`, exact when the derivatives at different positions are
 *   uncorrelated and the statistics do not depend on the position. (Which factor carries T is immaterial
 *   under the π-rule: the damped product is unchanged when A is scaled by c and G by 1/c.)
 *
 * Cost per layer: three GEMMs `aᵀa`, `aᵀ1`, `ΔᵀΔ` over n (conv: n·T) rows, and one read of `(p+1)² + q²` floats.
 * @module
 */
import type { LayerFactors } from '@ifngd/fisher';
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import { NonFiniteError } from '../errors.js';
import { aOrder, type LayerDims } from './dims.js';
import { collecting, readAll } from './read.js';

/** One layer's batch factors, row-major float64: Â `[p(+1), p(+1)]`, Ĝ `[q, q]`. */
export interface BatchFactors {
  readonly a: Float64Array;
  readonly g: Float64Array;
}

interface Pending {
  readonly aa: Matrix;
  readonly as: Matrix | null;
  readonly gg: Matrix;
}

/** Enqueues one layer's products (scaled as in the module comment); temporaries go to `tmp`. */
function enqueue(
  dev: LinalgDevice,
  f: LayerFactors,
  bias: boolean,
  ones: (rows: number) => Matrix,
  tmp: Matrix[],
): Pending {
  let a: Matrix;
  let d: Matrix;
  let n: number;
  if (f.kind === 'conv2d') {
    n = f.patches.batch;
    const rows = n * f.patches.rows;
    a = dev.reshape(f.patches, [rows, f.patches.cols]);
    tmp.push(a);
    d = dev.reshape(f.outputGrads, [rows, f.outputGrads.cols]);
    tmp.push(d);
  } else if (f.kind === 'dense') {
    n = f.inputs.rows;
    a = f.inputs;
    d = f.outputGrads;
  } else {
    throw new TypeError('unreachable: factors are validated before');
  }
  const sa = 1 / a.rows;
  const aa = dev.gemm(a, a, { transA: true, alpha: sa });
  tmp.push(aa);
  const as = bias ? dev.gemm(a, ones(a.rows), { transA: true, alpha: sa }) : null;
  if (as) tmp.push(as);
  const gg = dev.gemm(d, d, { transA: true, alpha: 1 / n });
  tmp.push(gg);
  return { aa, as, gg };
}

/** Whether every element is finite (a plain loop: these arrays hold up to ~10⁶ elements). */
function allFinite(x: Float64Array): boolean {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return false;
  return true;
}

/** Assembles `Â = [[aᵀa, aᵀ1], [1ᵀa, 1]]/rows` (bias) or `aᵀa/rows` in float64. */
function assembleA(aa: Float32Array, as: Float32Array | null, p: number): Float64Array {
  if (!as) return Float64Array.from(aa);
  const m = p + 1;
  const out = new Float64Array(m * m);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j < p; j++) out[i * m + j] = aa[i * p + j] as number;
    out[i * m + p] = as[i] as number;
    out[p * m + i] = as[i] as number;
  }
  out[p * m + p] = 1;
  return out;
}

/**
 * Â and Ĝ of every layer (factors already validated against `dims`). Throws `NonFiniteError` naming the layer
 * when a factor holds NaN or ±Infinity (they reach the diagonals of the products); enqueued work is released.
 */
export async function batchFactors(
  dev: LinalgDevice,
  factors: readonly LayerFactors[],
  dims: readonly LayerDims[],
): Promise<BatchFactors[]> {
  const { result: pending, tmp } = collecting((t) => {
    const cache = new Map<number, Matrix>();
    const ones = (rows: number): Matrix => {
      let m = cache.get(rows);
      if (!m) {
        m = dev.full([rows, 1], 1);
        t.push(m);
        cache.set(rows, m);
      }
      return m;
    };
    return factors.map((f, l) => enqueue(dev, f, (dims[l] as LayerDims).bias, ones, t));
  });
  const wanted = pending.flatMap((p) => (p.as ? [p.aa, p.as, p.gg] : [p.aa, p.gg]));
  const data = await readAll(dev, wanted, tmp);
  let at = 0;
  return pending.map((p, l) => {
    const aa = data[at++] as Float32Array;
    const as = p.as ? (data[at++] as Float32Array) : null;
    const gg = data[at++] as Float32Array;
    const dim = dims[l] as LayerDims;
    const a = assembleA(aa, as, dim.p);
    const g = Float64Array.from(gg);
    if (!allFinite(a) || !allFinite(g)) {
      throw new NonFiniteError(`kfac: factors[${l}] hold NaN or ±Infinity (A or G of the batch is not finite)`);
    }
    if (a.length !== aOrder(dim) ** 2 || g.length !== dim.q ** 2) throw new TypeError('unreachable: factor sizes');
    return { a, g };
  });
}
