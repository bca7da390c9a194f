/**
 * A float64 KFAC reference built from explicit Kronecker products: per-sample sums for the factors
 * (āᵢāᵢᵀ, δᵢδᵢᵀ, never the optimizer's GEMMs), the π-rule, and the dense system `(G_d ⊗ A_d)·vec(V) = vec(∇W̄)`
 * materialised and solved with a float64 Cholesky. Layout: W̄ = [W | b] is `[q, a]` (out-in), `vec` row-major.
 */
import { solveSpd } from './reference.js';

/** One layer's factors on the host: rows are samples (dense) or sample × position (conv). */
export interface HostLayer {
  /** `[rows, p]` inputs or patches. */
  readonly A: Float64Array;
  /** `[rows, q]` output-gradients of the summed loss. */
  readonly D: Float64Array;
  readonly p: number;
  readonly q: number;
  /** Samples n (rows = n·T). */
  readonly n: number;
  /** Positions per sample (1 for dense). */
  readonly T: number;
  readonly bias: boolean;
}

/** Â = (1/(nT))·Σ āāᵀ and Ĝ = (1/n)·Σ δδᵀ (dense: T = 1), from explicit outer products. */
export function referenceFactors(l: HostLayer): { A: Float64Array; G: Float64Array; a: number } {
  const a = l.p + (l.bias ? 1 : 0);
  const A = new Float64Array(a * a);
  const G = new Float64Array(l.q * l.q);
  const rows = l.n * l.T;
  const bar = new Float64Array(a);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < l.p; j++) bar[j] = l.A[r * l.p + j] as number;
    if (l.bias) bar[l.p] = 1;
    for (let i = 0; i < a; i++)
      for (let j = 0; j < a; j++)
        A[i * a + j] = (A[i * a + j] as number) + ((bar[i] as number) * (bar[j] as number)) / rows;
    for (let i = 0; i < l.q; i++) {
      for (let j = 0; j < l.q; j++)
        G[i * l.q + j] =
          (G[i * l.q + j] as number) + ((l.D[r * l.q + i] as number) * (l.D[r * l.q + j] as number)) / l.n;
    }
  }
  return { A, G, a };
}

/** `β·prev + (1 − β)·x`, or x when there is no average yet. */
export const ema = (prev: Float64Array | null, x: Float64Array, beta: number): Float64Array =>
  prev ? prev.map((v, i) => beta * v + (1 - beta) * (x[i] as number)) : x.slice();

const trace = (m: Float64Array, d: number): number => {
  let s = 0;
  for (let i = 0; i < d; i++) s += m[i * d + i] as number;
  return s;
};

/** A + π√λ·I and G + (√λ/π)·I with π = √((tr A/a)/(tr G/q)). */
export function referenceDamped(
  A: Float64Array,
  a: number,
  G: Float64Array,
  q: number,
  lambda: number,
): { Ad: Float64Array; Gd: Float64Array; pi: number } {
  const pi = Math.sqrt(trace(A, a) / a / (trace(G, q) / q));
  const Ad = A.slice();
  const Gd = G.slice();
  for (let i = 0; i < a; i++) Ad[i * a + i] = (Ad[i * a + i] as number) + pi * Math.sqrt(lambda);
  for (let i = 0; i < q; i++) Gd[i * q + i] = (Gd[i * q + i] as number) + Math.sqrt(lambda) / pi;
  return { Ad, Gd, pi };
}

/** The explicit Kronecker product `X ⊗ Y` (`[m·n, m·n]` for X `[m, m]`, Y `[n, n]`). */
export function kron(X: Float64Array, m: number, Y: Float64Array, n: number): Float64Array {
  const d = m * n;
  const K = new Float64Array(d * d);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      const x = X[i * m + j] as number;
      for (let k = 0; k < n; k++)
        for (let l = 0; l < n; l++) K[(i * n + k) * d + j * n + l] = x * (Y[k * n + l] as number);
    }
  }
  return K;
}

/** V with `(Gd ⊗ Ad)·vec(V) = vec(W̄)` for W̄ `[q, a]` (row-major vec), by a dense float64 solve. */
export function kroneckerSolve(
  Gd: Float64Array,
  q: number,
  Ad: Float64Array,
  a: number,
  Wbar: Float64Array,
): Float64Array {
  return solveSpd(kron(Gd, q, Ad, a), Wbar, q * a);
}

/** W̄ = [W | b] (`[q, p+1]`) from an out-in weight `[q, p]` and a bias. */
export function joinBias(W: ArrayLike<number>, b: ArrayLike<number> | null, p: number, q: number): Float64Array {
  const a = p + (b ? 1 : 0);
  const out = new Float64Array(q * a);
  for (let o = 0; o < q; o++) {
    for (let j = 0; j < p; j++) out[o * a + j] = W[o * p + j] as number;
    if (b) out[o * a + p] = b[o] as number;
  }
  return out;
}

/** Splits W̄ `[q, a]` back into W `[q, p]` and b. */
export function splitBias(
  Wbar: Float64Array,
  p: number,
  q: number,
  bias: boolean,
): { W: Float64Array; b: Float64Array | null } {
  const a = p + (bias ? 1 : 0);
  const W = new Float64Array(q * p);
  const b = bias ? new Float64Array(q) : null;
  for (let o = 0; o < q; o++) {
    for (let j = 0; j < p; j++) W[o * p + j] = Wbar[o * a + j] as number;
    if (b) b[o] = Wbar[o * a + p] as number;
  }
  return { W, b };
}

/** Transpose of a row-major `[r, c]`. */
export function transpose(x: ArrayLike<number>, r: number, c: number): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = x[i * c + j] as number;
  return out;
}

/** ν = min(1, √(κ / (lr²·vg))). */
export const klScale = (kappa: number | null, lr: number, vg: number): number =>
  kappa === null || !(vg > 0) ? 1 : Math.min(1, Math.sqrt(kappa / (lr * lr * vg)));

/** Σ x·y. */
export const dot = (x: ArrayLike<number>, y: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i] as number) * (y[i] as number);
  return s;
};

/** Settings of {@link KfacReference} (the optimizer's options, spelled out). */
export interface ReferenceOptions {
  readonly lr: (t: number) => number;
  readonly damping: number;
  readonly decay: number;
  readonly factorEvery: number;
  readonly inverseEvery: number;
  readonly klClip: number | null;
  readonly momentum: number;
  readonly weightDecay: number;
}

/** A float64 KFAC optimizer over out-in layers `{ weight, bias }` (bias leaf names, or null). */
export class KfacReference {
  readonly A: (Float64Array | null)[];
  readonly G: (Float64Array | null)[];
  readonly damped: ({ Ad: Float64Array; Gd: Float64Array; pi: number } | null)[];
  t = 0;
  velocity: Record<string, Float64Array> | null = null;
  constructor(readonly layers: readonly { weight: string; bias: string | null }[], readonly o: ReferenceOptions) {
    this.A = layers.map(() => null);
    this.G = layers.map(() => null);
    this.damped = layers.map(() => null);
  }

  /** The update u (θ' = θ + u) of one step; `host` must be given when factors are due. */
  step(
    host: readonly HostLayer[] | null,
    grads: Record<string, ArrayLike<number>>,
    params: Record<string, ArrayLike<number>>,
  ): Record<string, Float64Array> {
    const { o } = this;
    const dir: Record<string, Float64Array> = {};
    for (const k of Object.keys(grads)) dir[k] = Float64Array.from(grads[k] as ArrayLike<number>);
    let vg = 0;
    this.layers.forEach((layer, l) => {
      if (this.t % o.factorEvery === 0) {
        const f = referenceFactors((host as readonly HostLayer[])[l] as HostLayer);
        this.A[l] = ema(this.A[l] ?? null, f.A, o.decay);
        this.G[l] = ema(this.G[l] ?? null, f.G, o.decay);
      }
      const A = this.A[l] as Float64Array;
      const G = this.G[l] as Float64Array;
      const q = Math.round(Math.sqrt(G.length));
      const a = Math.round(Math.sqrt(A.length));
      if (this.t % o.inverseEvery === 0) this.damped[l] = referenceDamped(A, a, G, q, o.damping);
      const { Ad, Gd } = this.damped[l] as { Ad: Float64Array; Gd: Float64Array };
      const p = layer.bias ? a - 1 : a;
      const g = joinBias(
        grads[layer.weight] as ArrayLike<number>,
        layer.bias ? (grads[layer.bias] as ArrayLike<number>) : null,
        p,
        q,
      );
      const V = kroneckerSolve(Gd, q, Ad, a, g);
      vg += dot(V, g);
      const { W, b } = splitBias(V, p, q, layer.bias !== null);
      dir[layer.weight] = W;
      if (layer.bias && b) dir[layer.bias] = b;
    });
    const lr = o.lr(this.t);
    const nu = klScale(o.klClip, lr, vg);
    const u: Record<string, Float64Array> = {};
    const v: Record<string, Float64Array> = {};
    for (const k of Object.keys(dir)) {
      const prev = this.velocity?.[k];
      v[k] = (dir[k] as Float64Array).map((x, i) => nu * x + o.momentum * (prev ? (prev[i] as number) : 0));
      const th = params[k] as ArrayLike<number>;
      u[k] = (v[k] as Float64Array).map((x, i) => -lr * (x + o.weightDecay * (th[i] as number)));
    }
    this.velocity = v;
    this.t++;
    return u;
  }
}
