/**
 * A tiny framework-free model for the tests: a 2-layer MLP (dense → tanh → dense) with hand-written forward
 * and backward passes in float64, producing per-sample losses, the per-layer factors A (inputs) and Δ
 * (output-gradients of the summed loss), explicit per-sample gradients (for references) and α-weighted
 * gradients (what an adapter computes).
 */
import type { LayerFactors } from '@ifngd/fisher';
import type { LinalgDevice } from '@ifngd/linalg-gpu';
import type { HostTree } from '../../src/index.js';

/** Architecture. */
export interface Mlp {
  readonly din: number;
  readonly hidden: number;
  readonly dout: number;
  /** `mse`: ½‖z − y‖²; `ce`: softmax cross-entropy with one-hot y. */
  readonly loss: 'mse' | 'ce';
}

/** A batch: x `[n,din]`, y `[n,dout]`, row-major float64. */
export interface Batch {
  readonly n: number;
  readonly x: Float64Array;
  readonly y: Float64Array;
}

/** One layer's factors on the host. */
export interface HostFactors {
  readonly A: Float64Array;
  readonly D: Float64Array;
  readonly din: number;
  readonly dout: number;
}

/** Forward/backward results of one batch. */
export interface Pass {
  readonly n: number;
  readonly losses: Float64Array;
  readonly meanLoss: number;
  readonly layers: readonly [HostFactors, HostFactors];
}

/** Deterministic PRNG (mulberry32) with a Gaussian helper. */
export function rng(seed: number): { uniform: () => number; normal: () => number } {
  let s = seed >>> 0;
  const uniform = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return { uniform, normal };
}

/** Parameter names in order (layer 1 weight and bias, layer 2 weight and bias). */
export const NAMES = ['W1', 'b1', 'W2', 'b2'] as const;

/** The two dense layers of this MLP as KFAC layer specs (weights are `[out, in]`, see {@link initParams}). */
export const KFAC_LAYERS = [
  { weight: 'W1', bias: 'b1', layout: 'out-in' },
  { weight: 'W2', bias: 'b2', layout: 'out-in' },
] as const;

/** Random parameters (Glorot-like scale × `scale`). */
export function initParams(m: Mlp, seed: number, scale = 1): HostTree {
  const r = rng(seed);
  const w = (rows: number, cols: number): Float32Array =>
    Float32Array.from({ length: rows * cols }, () => (scale * r.normal()) / Math.sqrt(cols));
  return { W1: w(m.hidden, m.din), b1: new Float32Array(m.hidden), W2: w(m.dout, m.hidden), b2: new Float32Array(m.dout) };
}

/** Synthetic data: a fixed random teacher network; `ce` gets one-hot argmax labels. */
export function makeData(m: Mlp, samples: number, seed: number): Batch {
  const r = rng(seed);
  const teacher = initParams({ ...m, hidden: 6 }, seed + 1, 2);
  const x = Float64Array.from({ length: samples * m.din }, () => r.normal());
  const y = new Float64Array(samples * m.dout);
  for (let i = 0; i < samples; i++) {
    const h = new Float64Array(6);
    for (let k = 0; k < 6; k++) {
      let s = 0;
      for (let j = 0; j < m.din; j++) s += (teacher.W1![k * m.din + j] as number) * (x[i * m.din + j] as number);
      h[k] = Math.tanh(s);
    }
    const out = new Float64Array(m.dout);
    for (let o = 0; o < m.dout; o++) {
      let s = 0;
      for (let k = 0; k < 6; k++) s += (teacher.W2![o * 6 + k] as number) * (h[k] as number);
      out[o] = s + 0.1 * r.normal();
    }
    if (m.loss === 'mse') y.set(out, i * m.dout);
    else y[i * m.dout + out.indexOf(Math.max(...out))] = 1;
  }
  return { n: samples, x, y };
}

/** Splits data into fixed batches of `size` (the last may be smaller). */
export function batches(m: Mlp, data: Batch, size: number): Batch[] {
  const out: Batch[] = [];
  for (let s = 0; s < data.n; s += size) {
    const n = Math.min(size, data.n - s);
    out.push({ n, x: data.x.slice(s * m.din, (s + n) * m.din), y: data.y.slice(s * m.dout, (s + n) * m.dout) });
  }
  return out;
}

function p(params: HostTree, name: string): Float32Array {
  const v = params[name];
  if (!v) throw new Error(`missing parameter ${name}`);
  return v;
}

/** Forward and backward pass of one batch. */
export function forwardBackward(m: Mlp, params: HostTree, b: Batch): Pass {
  const { n } = b;
  const [W1, b1, W2, b2] = NAMES.map((k) => p(params, k)) as [Float32Array, Float32Array, Float32Array, Float32Array];
  const a1 = new Float64Array(n * m.hidden);
  const d1 = new Float64Array(n * m.hidden);
  const d2 = new Float64Array(n * m.dout);
  const losses = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < m.hidden; k++) {
      let s = b1[k] as number;
      for (let j = 0; j < m.din; j++) s += (W1[k * m.din + j] as number) * (b.x[i * m.din + j] as number);
      a1[i * m.hidden + k] = Math.tanh(s);
    }
    const z = new Float64Array(m.dout);
    for (let o = 0; o < m.dout; o++) {
      let s = b2[o] as number;
      for (let k = 0; k < m.hidden; k++) s += (W2[o * m.hidden + k] as number) * (a1[i * m.hidden + k] as number);
      z[o] = s;
    }
    const y = b.y.subarray(i * m.dout, (i + 1) * m.dout);
    if (m.loss === 'mse') {
      let l = 0;
      for (let o = 0; o < m.dout; o++) {
        const e = (z[o] as number) - (y[o] as number);
        l += 0.5 * e * e;
        d2[i * m.dout + o] = e;
      }
      losses[i] = l;
    } else {
      const mx = Math.max(...z);
      let se = 0;
      for (const v of z) se += Math.exp(v - mx);
      let l = 0;
      for (let o = 0; o < m.dout; o++) {
        const pr = Math.exp((z[o] as number) - mx) / se;
        d2[i * m.dout + o] = pr - (y[o] as number);
        l -= (y[o] as number) * ((z[o] as number) - mx - Math.log(se));
      }
      losses[i] = l;
    }
    for (let k = 0; k < m.hidden; k++) {
      let s = 0;
      for (let o = 0; o < m.dout; o++) s += (W2[o * m.hidden + k] as number) * (d2[i * m.dout + o] as number);
      const a = a1[i * m.hidden + k] as number;
      d1[i * m.hidden + k] = s * (1 - a * a);
    }
  }
  const meanLoss = losses.reduce((s, v) => s + v, 0) / n;
  return {
    n,
    losses,
    meanLoss,
    layers: [
      { A: b.x, D: d1, din: m.din, dout: m.hidden },
      { A: a1, D: d2, din: m.hidden, dout: m.dout },
    ],
  };
}

/** Mean loss only. */
export function meanLoss(m: Mlp, params: HostTree, b: Batch): number {
  return forwardBackward(m, params, b).meanLoss;
}

/**
 * Σᵢ αᵢ∇ℓᵢ as a float32 tree: `alpha` is global (n) or layer-major per layer (2n); `alpha = ones/n` gives
 * the mean gradient.
 */
export function weightedGradient(pass: Pass, alpha: Float32Array | Float64Array): HostTree {
  const { n } = pass;
  const layerwise = alpha.length === 2 * n;
  const out: Record<string, Float32Array> = {};
  pass.layers.forEach((f, l) => {
    const a = (i: number): number => alpha[(layerwise ? l * n : 0) + i] as number;
    const W = new Float64Array(f.dout * f.din);
    const bias = new Float64Array(f.dout);
    for (let i = 0; i < n; i++) {
      const ai = a(i);
      for (let o = 0; o < f.dout; o++) {
        const d = ai * (f.D[i * f.dout + o] as number);
        bias[o] = (bias[o] as number) + d;
        for (let j = 0; j < f.din; j++) W[o * f.din + j] = (W[o * f.din + j] as number) + d * (f.A[i * f.din + j] as number);
      }
    }
    out[l === 0 ? 'W1' : 'W2'] = Float32Array.from(W);
    out[l === 0 ? 'b1' : 'b2'] = Float32Array.from(bias);
  });
  return { W1: out.W1!, b1: out.b1!, W2: out.W2!, b2: out.b2! };
}

/** Explicit per-sample gradients J `[n,d]` (float64) in parameter order, and each layer's column range. */
export function jacobian(pass: Pass): { J: Float64Array; d: number; blocks: [number, number][] } {
  const { n } = pass;
  const sizes = pass.layers.map((f) => f.dout * f.din + f.dout);
  const d = sizes.reduce((s, v) => s + v, 0);
  const J = new Float64Array(n * d);
  const blocks: [number, number][] = [];
  let off = 0;
  pass.layers.forEach((f, l) => {
    blocks.push([off, off + (sizes[l] as number)]);
    for (let i = 0; i < n; i++) {
      for (let o = 0; o < f.dout; o++) {
        const dd = f.D[i * f.dout + o] as number;
        for (let j = 0; j < f.din; j++) J[i * d + off + o * f.din + j] = dd * (f.A[i * f.din + j] as number);
        J[i * d + off + f.dout * f.din + o] = dd;
      }
    }
    off += sizes[l] as number;
  });
  return { J, d, blocks };
}

/** Device factors of a pass (dense layers with bias). Dispose them with {@link disposeFactors}. */
export function deviceFactors(dev: LinalgDevice, pass: Pass): LayerFactors[] {
  return pass.layers.map((f) => ({
    kind: 'dense' as const,
    inputs: dev.matrix(Float32Array.from(f.A), [pass.n, f.din]),
    outputGrads: dev.matrix(Float32Array.from(f.D), [pass.n, f.dout]),
  }));
}

/** Disposes factors made by {@link deviceFactors}. */
export function disposeFactors(fs: readonly LayerFactors[]): void {
  for (const f of fs) {
    if (f.kind === 'dense') {
      f.inputs.dispose();
      f.outputGrads.dispose();
    }
  }
}

/** Parameter tree flattened in parameter order (float64), for comparisons with {@link jacobian}'s columns. */
export function flatten(t: HostTree): Float64Array {
  return Float64Array.from(NAMES.flatMap((k) => Array.from(p(t, k))));
}
