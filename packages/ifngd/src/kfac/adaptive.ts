/**
 * KFAC's adaptive mode, as kfac-jax runs it (Martens & Grosse 2015, §6–7): the learning rate and momentum from the
 * quadratic model (or fixed, each on its own), the damping by the Levenberg–Marquardt rule.
 *
 * - **Quadratic model.** With g the mean-loss gradient, P the preconditioned gradient and v the previous update,
 *   the update is `c₀·P + c₁·v` with `c = −(Vᵀ(C + λI)V)⁻¹·Vᵀg` for `V = [P, v]`: the minimum of
 *   `M(u) = gᵀu + ½·uᵀ(C + λI)u` over that plane (on the first step, over the line of P). The learning rate is
 *   −c₀, the momentum c₁. A fixed learning rate or momentum fixes its coefficient, and the model minimizes over
 *   the other; with both fixed (kfac-jax's stochastic recipe) the update is `−lr·P + μ·v` and the model only
 *   measures it, on the steps that adapt λ.
 * - **The curvature C** is the Fisher the step's factors describe — the true Fisher's one-sample estimate with
 *   `fisher: 'sampled'` (kfac-jax's curvature estimate), the empirical Fisher otherwise — restricted to the
 *   Kronecker layers: `uᵀCw = (1/n)·Σᵢ sᵢ(u)·sᵢ(w)` with `sᵢ(u) = Σₜ δᵢₜᵀ·Ū·āᵢₜ` sample i's directional derivative
 *   (`sampleProducts`). For the free coefficients kfac-jax takes C exactly, by Jacobian-vector products through the
 *   network (`quadraticModel: 'gauss-newton'` here); with both fixed, its default takes ρ's C from its
 *   Kronecker-factored running averages. The factors give the batch's products at one GEMM per layer and vector,
 *   with no forward-mode pass.
 * - **Levenberg–Marquardt.** On the last of every `interval` steps, `ρ = (L(θ + u) − L(θ)) / (gᵀu + ½uᵀCu)` on the
 *   same batch (g the data loss's gradient: L holds no regularizer): λ ← λ·decayⁱⁿᵗᵉʳᵛᵃˡ when ρ > 3/4, divided by it
 *   when ρ < 1/4, clamped to [minDamping, maxDamping] (kfac-jax's defaults: every 5 steps, decay 0.9). The same λ
 *   damps the Kronecker inverses (π-rule) and the quadratic model.
 * @module
 */
import type { LayerFactors } from '@ifngd/fisher';
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import type { HostTree } from '../tree.js';
import type { LayerDims } from './dims.js';
import { gather } from './layout.js';
import type { KfacLayer, ResolvedAdaptive } from './options.js';

export type { KfacAdaptiveOptions, ResolvedAdaptive } from './options.js';
import { collecting, readAll } from './read.js';

/** The adaptive mode's state: λ, the last update, and what the last step chose. */
export interface KfacAdaptiveState {
  readonly damping: number;
  /** The last applied update by leaf (null before the first step). */
  readonly velocity: Readonly<Record<string, Float32Array>> | null;
  /** The last step's learning rate (−c₀) and momentum (c₁); null before the first. */
  readonly learningRate: number | null;
  readonly momentum: number | null;
  /** The last reduction ratio ρ (null before the first adaptation). */
  readonly rho: number | null;
}

/** The state before any step. */
export function freshAdaptive(o: ResolvedAdaptive): KfacAdaptiveState {
  return { damping: o.initialDamping, velocity: null, learningRate: null, momentum: null, rho: null };
}

/**
 * Each sample's directional derivative along every vector, summed over the Kronecker layers:
 * `sᵢ(u) = Σₗ Σₜ δᵢₜᵀ·Ūₗ·āᵢₜ` (`[vectors][n]`, float64). One GEMM `[nT, p]·[p, q]` per layer and vector, an
 * element-wise product with Δ and two row sums, on the device.
 */
export async function sampleProducts(
  dev: LinalgDevice,
  factors: readonly LayerFactors[],
  layers: readonly Required<KfacLayer>[],
  dims: readonly LayerDims[],
  vectors: readonly HostTree[],
): Promise<Float64Array[]> {
  const n = factors.length > 0 ? samplesOf(factors[0]!) : 0;
  const { result: outs, tmp } = collecting((t) => {
    const keep = <M extends Matrix>(m: M): M => (t.push(m), m);
    return vectors.map((vec) => {
      let total: Matrix | null = null;
      layers.forEach((layer, l) => {
        const f = factors[l]!;
        const d = dims[l]!;
        const { a, delta, positions } = rowsOf(dev, f, keep);
        const { w, b } = outIn(layer, d, vec);
        // M = A·Wᵀ (+ 1·bᵀ), then Σ_q (M ∘ Δ): each row's δᵀ·W̄·ā
        const m = keep(dev.gemm(a, keep(dev.matrix(w, [d.q, d.p])), { transB: true }));
        const prod = keep(dev.mul(m, delta));
        const ones = keep(dev.full([d.q, 1], 1));
        const bias = b ? keep(dev.gemm(delta, keep(dev.matrix(b, [d.q, 1])))) : undefined;
        const rows = keep(dev.gemm(prod, ones, bias ? { c: bias } : {})); // [nT, 1]
        const perSample = positions === 1 ? rows : keep(dev.gemm(keep(dev.reshape(rows, [n, positions])), keep(dev.full([positions, 1], 1))));
        total = total ? keep(dev.add(total, perSample)) : perSample;
      });
      return total ?? keep(dev.full([n, 1], 0));
    });
  });
  const data = await readAll(dev, outs, tmp);
  return data.map((d) => Float64Array.from(d));
}

function samplesOf(f: LayerFactors): number {
  return f.kind === 'conv2d' ? f.patches.batch : f.kind === 'dense' ? f.inputs.rows : 0;
}

/** A layer's inputs `[nT, p]` and output-gradients `[nT, q]`, one row per sample and position. */
function rowsOf(dev: LinalgDevice, f: LayerFactors, keep: <M extends Matrix>(m: M) => M): { a: Matrix; delta: Matrix; positions: number } {
  if (f.kind === 'conv2d') {
    const rows = f.patches.batch * f.patches.rows;
    return { a: keep(dev.reshape(f.patches, [rows, f.patches.cols])), delta: keep(dev.reshape(f.outputGrads, [rows, f.outputGrads.cols])), positions: f.patches.rows };
  }
  if (f.kind !== 'dense') throw new TypeError('unreachable: KFAC factors are dense or conv2d');
  return { a: f.inputs, delta: f.outputGrads, positions: 1 };
}

/** A layer's block of a vector as `W [q, p]` (out-in) and `b [q]`. */
function outIn(layer: Required<KfacLayer>, d: LayerDims, vec: HostTree): { w: Float32Array; b: Float32Array | null } {
  const raw = gather(layer.layout, d, vec[layer.weight] as Float32Array, layer.bias === null ? null : (vec[layer.bias] as Float32Array));
  const { p, q } = d;
  const a = p + (d.bias ? 1 : 0);
  const w = new Float32Array(q * p);
  const b = d.bias ? new Float32Array(q) : null;
  for (let o = 0; o < q; o++) {
    for (let i = 0; i < p; i++) w[o * p + i] = layer.layout === 'out-in' ? (raw[o * a + i] as number) : (raw[i * q + o] as number);
    if (b) b[o] = layer.layout === 'out-in' ? (raw[o * a + p] as number) : (raw[p * q + o] as number);
  }
  return { w, b };
}

/** `⟨u, w⟩` over every leaf, in float64. */
export function dot(u: HostTree, w: HostTree): number {
  let s = 0;
  for (const [k, a] of Object.entries(u)) {
    const b = w[k] as Float32Array;
    for (let i = 0; i < (a as Float32Array).length; i++) s += ((a as Float32Array)[i] as number) * (b[i] as number);
  }
  return s;
}

/** The model's change `cᵀb + ½cᵀCc` at coefficients c (k×k row-major C). */
export function modelChange(coefficients: readonly number[], c: readonly number[], b: readonly number[]): number {
  const k = b.length;
  let change = 0;
  for (let i = 0; i < k; i++) {
    change += (coefficients[i] as number) * (b[i] as number);
    for (let j = 0; j < k; j++) change += 0.5 * (coefficients[i] as number) * (c[i * k + j] as number) * (coefficients[j] as number);
  }
  return change;
}

/** The quadratic model's minimum over the span of the vectors (see the module doc). */
export interface QuadraticStep {
  /** The vectors' coefficients. */
  readonly coefficients: readonly number[];
  /** The model's change without the damping term, `cᵀb + ½cᵀCc` (ρ's denominator). */
  readonly change: number;
}

/**
 * Minimizes `cᵀb + ½cᵀ(C + λD)c` for the vectors' curvature Gram C, inner products D and gradient products b (k = 1
 * or 2, row-major k×k) over the coefficients `fixed` leaves free (null; default all): kfac-jax's `_solve_quad_model`.
 * Null where the system for the free ones is singular or not finite.
 */
export function solveQuadratic(
  c: readonly number[],
  d: readonly number[],
  b: readonly number[],
  damping: number,
  fixed: readonly (number | null)[] = b.map(() => null),
): QuadraticStep | null {
  const k = b.length;
  const m = c.map((x, i) => x + damping * (d[i] as number));
  const at = (i: number, j: number): number => m[i * k + j] as number;
  const free = fixed.flatMap((f, i) => (f === null ? [i] : []));
  const coefficients = fixed.map((f) => f ?? 0);
  // the free coefficients' gradient at zero: b plus the fixed ones' coupling
  const r = free.map((i) => (b[i] as number) + fixed.reduce<number>((s, f, j) => s + (f === null ? 0 : at(i, j) * f), 0));
  if (free.length === 1) {
    const i = free[0] as number;
    coefficients[i] = -(r[0] as number) / at(i, i);
  } else if (free.length === 2) {
    const [i, j] = free as [number, number];
    const det = at(i, i) * at(j, j) - at(i, j) * at(j, i);
    coefficients[i] = -(at(j, j) * (r[0] as number) - at(i, j) * (r[1] as number)) / det;
    coefficients[j] = -(-at(j, i) * (r[0] as number) + at(i, i) * (r[1] as number)) / det;
  }
  if (!coefficients.every(Number.isFinite)) return null;
  return { coefficients, change: modelChange(coefficients, c, b) };
}

/**
 * λ after an adaptation with reduction ratio ρ: times `decay^interval` above ¾, divided by it below ¼ (kfac-jax's
 * `damping_decay_factor`: one adaptation stands for `interval` steps); a NaN ρ counts as a failed step (λ grows).
 */
export function adaptedDamping(o: ResolvedAdaptive, damping: number, rho: number): number {
  const factor = o.decay ** o.interval;
  const next = rho > 0.75 ? damping * factor : rho < 0.25 || Number.isNaN(rho) ? damping / factor : damping;
  return Math.min(o.maxDamping, Math.max(o.minDamping, next));
}

/** Whether the step with index `step` (0-based) adapts λ: the last of every `interval` steps, as kfac-jax. */
export function adaptsOn(o: ResolvedAdaptive, step: number): boolean {
  return (step + 1) % o.interval === 0;
}
