/**
 * A framework-free deep MLP for the experiments: dense layers with tanh / relu / sigmoid hidden activations and
 * a softmax cross-entropy or a sigmoid + per-sample summed binary cross-entropy output. The heavy products
 * (forward X·Wᵀ, back-propagation Δ·W, weight gradients (s∘Δ)ᵀA) run on a linalg-gpu device's GEMM; the rest
 * is host float32/float64 loops.
 *
 * Per layer l it exposes what FNGD needs: the inputs Aₗ `[n,dinₗ]` and the output-gradients Δₗ `[n,doutₗ]` of
 * the *summed* loss Σᵢℓᵢ w.r.t. the pre-activations (row i = sample i), and the α-weighted gradient
 * Σᵢ sᵢ∇ℓᵢ = ((s∘Δₗ)ᵀAₗ, Σᵢ sᵢΔₗᵢ) — global mode uses one s = α for every layer (the gradient of Σαᵢℓᵢ),
 * layer-wise mode sₗ = αₗ per layer.
 * @module
 */
import type { LayerFactors } from '@ifngd/fisher';
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import type { HostTree } from '../src/index.js';
import { rng } from './rng.js';

export type Activation = 'tanh' | 'relu' | 'sigmoid';
export type OutputLoss = 'softmax-ce' | 'sigmoid-bce';

/** Architecture: `sizes` = [d₀, d₁, …, d_L]; hidden activations after every layer but the last. */
export interface Net {
  readonly sizes: readonly number[];
  readonly hidden: Activation;
  /** `softmax-ce`: −log pᵧ; `sigmoid-bce`: Σₖ BCE(σ(zₖ), yₖ) per sample (summed over outputs). */
  readonly loss: OutputLoss;
}

/** A batch: x `[n,d₀]`, targets y `[n,d_L]`, row-major float32. */
export interface Batch {
  readonly n: number;
  readonly x: Float32Array;
  readonly y: Float32Array;
}

/** Forward/backward results of one batch. */
export interface Pass {
  readonly n: number;
  readonly losses: Float64Array;
  readonly meanLoss: number;
  /** Aₗ: the inputs of layer l (`inputs[0]` = x). */
  readonly inputs: readonly Float32Array[];
  /** Δₗ: output-gradients of the summed loss w.r.t. layer l's pre-activations. */
  readonly deltas: readonly Float32Array[];
  /** Output logits `[n,d_L]`. */
  readonly logits: Float32Array;
}

export const layers = (net: Net): number => net.sizes.length - 1;
const din = (net: Net, l: number): number => net.sizes[l] as number;
const dout = (net: Net, l: number): number => net.sizes[l + 1] as number;

/** Parameter names in order: W0, b0, W1, b1, … (W `[dout,din]` row-major). */
export function paramNames(net: Net): string[] {
  return Array.from({ length: layers(net) }, (_, l) => [`W${l}`, `b${l}`]).flat();
}

function leaf(t: HostTree, name: string): Float32Array {
  const v = t[name];
  if (!v) throw new Error(`missing parameter ${name}`);
  return v;
}

/** Random parameters: W ~ N(0, gain/din) (gain 2 for relu, 1 otherwise), zero biases. */
export function initParams(net: Net, seed: number): HostTree {
  const r = rng(seed);
  const gain = net.hidden === 'relu' ? 2 : 1;
  const out: Record<string, Float32Array> = {};
  for (let l = 0; l < layers(net); l++) {
    const i = din(net, l);
    const o = dout(net, l);
    const s = Math.sqrt(gain / i);
    out[`W${l}`] = Float32Array.from({ length: o * i }, () => s * r.normal());
    out[`b${l}`] = new Float32Array(o);
  }
  return out;
}

async function product(dev: LinalgDevice, a: Float32Array, aShape: [number, number], b: Float32Array, bShape: [number, number], opts: { transA?: boolean; transB?: boolean }): Promise<Float32Array> {
  const A = dev.matrix(a, aShape);
  const B = dev.matrix(b, bShape);
  let C: Matrix | null = null;
  try {
    C = dev.gemm(A, B, opts);
    return await dev.read(C);
  } finally {
    A.dispose();
    B.dispose();
    C?.dispose();
  }
}

function activate(kind: Activation, z: Float32Array): void {
  for (let i = 0; i < z.length; i++) {
    const v = z[i] as number;
    z[i] = kind === 'tanh' ? Math.tanh(v) : kind === 'relu' ? (v > 0 ? v : 0) : 1 / (1 + Math.exp(-v));
  }
}

/** Forward pass: the inputs of every layer and the output logits. */
export async function forward(dev: LinalgDevice, net: Net, params: HostTree, x: Float32Array, n: number): Promise<{ inputs: Float32Array[]; logits: Float32Array }> {
  const inputs: Float32Array[] = [x];
  let a = x;
  const L = layers(net);
  for (let l = 0; l < L; l++) {
    const i = din(net, l);
    const o = dout(net, l);
    const z = await product(dev, a, [n, i], leaf(params, `W${l}`), [o, i], { transB: true });
    const b = leaf(params, `b${l}`);
    for (let r = 0; r < n; r++) for (let c = 0; c < o; c++) z[r * o + c] = (z[r * o + c] as number) + (b[c] as number);
    if (l === L - 1) return { inputs, logits: z };
    activate(net.hidden, z);
    inputs.push(z);
    a = z;
  }
  throw new Error('net without layers');
}

/** Per-sample losses and the output-layer Δ (gradient of the summed loss w.r.t. the logits). */
export function lossAndDelta(net: Net, z: Float32Array, y: Float32Array, n: number): { losses: Float64Array; delta: Float32Array } {
  const o = net.sizes[net.sizes.length - 1] as number;
  const losses = new Float64Array(n);
  const delta = new Float32Array(n * o);
  for (let r = 0; r < n; r++) {
    const off = r * o;
    if (net.loss === 'softmax-ce') {
      let mx = -Infinity;
      for (let c = 0; c < o; c++) mx = Math.max(mx, z[off + c] as number);
      let se = 0;
      for (let c = 0; c < o; c++) se += Math.exp((z[off + c] as number) - mx);
      const lse = mx + Math.log(se);
      let l = 0;
      for (let c = 0; c < o; c++) {
        const zc = z[off + c] as number;
        const yc = y[off + c] as number;
        delta[off + c] = Math.exp(zc - lse) - yc;
        l -= yc * (zc - lse);
      }
      losses[r] = l;
    } else {
      let l = 0;
      for (let c = 0; c < o; c++) {
        const zc = z[off + c] as number;
        const yc = y[off + c] as number;
        l += Math.max(zc, 0) - zc * yc + Math.log1p(Math.exp(-Math.abs(zc)));
        delta[off + c] = 1 / (1 + Math.exp(-zc)) - yc;
      }
      losses[r] = l;
    }
  }
  return { losses, delta };
}

/** Forward and backward pass of one batch. */
export async function forwardBackward(dev: LinalgDevice, net: Net, params: HostTree, b: Batch): Promise<Pass> {
  const { n } = b;
  const { inputs, logits } = await forward(dev, net, params, b.x, n);
  const { losses, delta } = lossAndDelta(net, logits, b.y, n);
  const L = layers(net);
  const deltas: Float32Array[] = new Array<Float32Array>(L);
  deltas[L - 1] = delta;
  for (let l = L - 1; l >= 1; l--) {
    const i = din(net, l);
    const g = await product(dev, deltas[l]!, [n, dout(net, l)], leaf(params, `W${l}`), [dout(net, l), i], {});
    const a = inputs[l]!;
    for (let k = 0; k < g.length; k++) {
      const v = a[k] as number;
      const d = net.hidden === 'tanh' ? 1 - v * v : net.hidden === 'relu' ? (v > 0 ? 1 : 0) : v * (1 - v);
      g[k] = (g[k] as number) * d;
    }
    deltas[l - 1] = g;
  }
  let s = 0;
  for (const v of losses) s += v;
  return { n, losses, meanLoss: s / n, inputs, deltas, logits };
}

/** The curvature factors of a pass as device matrices (dense layers with bias); the caller disposes them. */
export function deviceFactors(dev: LinalgDevice, pass: Pass): LayerFactors[] {
  return pass.inputs.map((A, l) => {
    const D = pass.deltas[l]!;
    return {
      kind: 'dense' as const,
      inputs: dev.matrix(A, [pass.n, A.length / pass.n]),
      outputGrads: dev.matrix(D, [pass.n, D.length / pass.n]),
    };
  });
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

/**
 * Σᵢ sᵢ∇ℓᵢ with per-layer sample weights: `weights(l)` (length n). Global FNGD: `weights = () => α`;
 * layer-wise: `weights = (l) => αₗ`; `() => 1/n` gives the mean gradient.
 */
export async function weightedGradient(dev: LinalgDevice, net: Net, pass: Pass, weights: (l: number) => ArrayLike<number>): Promise<HostTree> {
  const { n } = pass;
  const out: Record<string, Float32Array> = {};
  for (let l = 0; l < layers(net); l++) {
    const o = dout(net, l);
    const i = din(net, l);
    const s = weights(l);
    const D = pass.deltas[l]!;
    const S = new Float32Array(n * o);
    const bias = new Float64Array(o);
    for (let r = 0; r < n; r++) {
      const w = s[r] as number;
      for (let c = 0; c < o; c++) {
        const v = w * (D[r * o + c] as number);
        S[r * o + c] = v;
        bias[c] = (bias[c] as number) + v;
      }
    }
    out[`W${l}`] = await product(dev, S, [n, o], pass.inputs[l]!, [n, i], { transA: true });
    out[`b${l}`] = Float32Array.from(bias);
  }
  return out;
}

/** Mean per-sample loss and (softmax nets) accuracy over a data set, in chunks. */
export async function evaluate(dev: LinalgDevice, net: Net, params: HostTree, data: Batch, chunk = 500): Promise<{ loss: number; accuracy: number | null }> {
  const d0 = net.sizes[0] as number;
  const o = net.sizes[net.sizes.length - 1] as number;
  let loss = 0;
  let correct = 0;
  for (let s = 0; s < data.n; s += chunk) {
    const n = Math.min(chunk, data.n - s);
    const x = data.x.subarray(s * d0, (s + n) * d0);
    const y = data.y.subarray(s * o, (s + n) * o);
    const { logits } = await forward(dev, net, params, x, n);
    const { losses } = lossAndDelta(net, logits, y, n);
    for (const v of losses) loss += v;
    if (net.loss === 'softmax-ce') {
      for (let r = 0; r < n; r++) {
        let best = 0;
        for (let c = 1; c < o; c++) if ((logits[r * o + c] as number) > (logits[r * o + best] as number)) best = c;
        if ((y[r * o + best] as number) === 1) correct++;
      }
    }
  }
  return { loss: loss / data.n, accuracy: net.loss === 'softmax-ce' ? correct / data.n : null };
}
