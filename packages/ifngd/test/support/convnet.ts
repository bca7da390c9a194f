/**
 * A tiny convolutional model for the KFAC tests, forward and backward by hand in float64: conv (kh×kw, stride 1,
 * valid, c_in → c_out, bias) → tanh → flatten → dense (bias) → softmax cross-entropy. Weights are out-in:
 * `Wc` `[c_out, k]` with patch column `(ci·kh + i)·kw + j` (ONNX's `[c_out, c_in, kh, kw]` flattened), `W2`
 * `[dout, T·c_out]` reading the flattened feature `t·c_out + c`. Produces the KFAC layer factors (im2col patches
 * `[n, T, k]`, Δ `[n, T, c_out]`; dense inputs and Δ) and the mean-loss gradient tree.
 */
import type { LayerFactors } from '@ifngd/fisher';
import type { LinalgDevice } from '@ifngd/linalg-gpu';
import type { HostTree } from '../../src/index.js';
import type { HostLayer } from './kfac-reference.js';
import { rng } from './mlp.js';

/** Architecture: input `[h, w, cin]` (NHWC), kernel kh×kw, cout channels, dout classes. */
export interface ConvNet {
  readonly h: number;
  readonly w: number;
  readonly cin: number;
  readonly kh: number;
  readonly kw: number;
  readonly cout: number;
  readonly dout: number;
}

/** Output positions, patch length and flattened features. */
export const convSizes = (m: ConvNet): { oh: number; ow: number; T: number; k: number; features: number } => {
  const oh = m.h - m.kh + 1;
  const ow = m.w - m.kw + 1;
  return { oh, ow, T: oh * ow, k: m.cin * m.kh * m.kw, features: oh * ow * m.cout };
};

/** Random parameters `{ Wc, bc, W2, b2 }`. */
export function initConvParams(m: ConvNet, seed: number): HostTree {
  const r = rng(seed);
  const { k, features } = convSizes(m);
  const w = (n: number, fanIn: number): Float32Array =>
    Float32Array.from({ length: n }, () => r.normal() / Math.sqrt(fanIn));
  return {
    Wc: w(m.cout * k, k),
    bc: Float32Array.from({ length: m.cout }, () => 0.1 * r.normal()),
    W2: w(m.dout * features, features),
    b2: Float32Array.from({ length: m.dout }, () => 0.1 * r.normal()),
  };
}

/** A batch of n random images and one-hot labels. */
export function convData(m: ConvNet, n: number, seed: number): { n: number; x: Float64Array; y: Float64Array } {
  const r = rng(seed);
  const x = Float64Array.from({ length: n * m.h * m.w * m.cin }, () => r.normal());
  const y = new Float64Array(n * m.dout);
  for (let i = 0; i < n; i++) y[i * m.dout + Math.floor(r.uniform() * m.dout)] = 1;
  return { n, x, y };
}

/** im2col patches `[n, T, k]` of NHWC images (valid, stride 1). */
export function im2col(m: ConvNet, n: number, x: Float64Array): Float64Array {
  const { ow, T, k } = convSizes(m);
  const out = new Float64Array(n * T * k);
  for (let s = 0; s < n; s++) {
    for (let t = 0; t < T; t++) {
      const [r0, c0] = [Math.floor(t / ow), t % ow];
      for (let ci = 0; ci < m.cin; ci++) {
        for (let i = 0; i < m.kh; i++) {
          for (let j = 0; j < m.kw; j++) {
            out[(s * T + t) * k + (ci * m.kh + i) * m.kw + j] = x[
              ((s * m.h + r0 + i) * m.w + c0 + j) * m.cin + ci
            ] as number;
          }
        }
      }
    }
  }
  return out;
}

/** Host factors of both layers and the mean-loss gradients. */
export interface ConvPass {
  readonly conv: HostLayer;
  readonly dense: HostLayer;
  readonly grads: HostTree;
  readonly meanLoss: number;
}

const at = (t: HostTree, k: string): Float32Array => t[k] as Float32Array;

/** Forward and backward pass. */
export function convForwardBackward(
  m: ConvNet,
  params: HostTree,
  b: { n: number; x: Float64Array; y: Float64Array },
): ConvPass {
  const { n } = b;
  const { T, k, features } = convSizes(m);
  const [Wc, bc, W2, b2] = [at(params, 'Wc'), at(params, 'bc'), at(params, 'W2'), at(params, 'b2')];
  const P = im2col(m, n, b.x);
  const H = new Float64Array(n * features);
  const D1 = new Float64Array(n * T * m.cout);
  const D2 = new Float64Array(n * m.dout);
  let loss = 0;
  for (let s = 0; s < n; s++) {
    for (let t = 0; t < T; t++) {
      for (let c = 0; c < m.cout; c++) {
        let z = bc[c] as number;
        for (let q = 0; q < k; q++) z += (Wc[c * k + q] as number) * (P[(s * T + t) * k + q] as number);
        H[s * features + t * m.cout + c] = Math.tanh(z);
      }
    }
    const z2 = Array.from({ length: m.dout }, (_, o) => {
      let z = b2[o] as number;
      for (let f = 0; f < features; f++) z += (W2[o * features + f] as number) * (H[s * features + f] as number);
      return z;
    });
    const mx = Math.max(...z2);
    const se = z2.reduce((acc, v) => acc + Math.exp(v - mx), 0);
    for (let o = 0; o < m.dout; o++) {
      const yo = b.y[s * m.dout + o] as number;
      D2[s * m.dout + o] = Math.exp((z2[o] as number) - mx) / se - yo;
      loss -= (yo * ((z2[o] as number) - mx - Math.log(se))) / n;
    }
    for (let f = 0; f < features; f++) {
      let g = 0;
      for (let o = 0; o < m.dout; o++) g += (W2[o * features + f] as number) * (D2[s * m.dout + o] as number);
      const h = H[s * features + f] as number;
      D1[s * features + f] = g * (1 - h * h); // [n, T, cout] = [n, features] in this flattening
    }
  }
  const conv: HostLayer = { A: P, D: D1, p: k, q: m.cout, n, T, bias: true };
  const dense: HostLayer = { A: H, D: D2, p: features, q: m.dout, n, T: 1, bias: true };
  return { conv, dense, grads: { ...meanGrad(conv, 'Wc', 'bc'), ...meanGrad(dense, 'W2', 'b2') }, meanLoss: loss };
}

/** `∇W = (1/n)·Σ δ āᵀ` (out-in) and `∇b = (1/n)·Σ δ` of one layer, summed over positions. */
export function meanGrad(l: HostLayer, wName: string, bName: string): HostTree {
  const W = new Float64Array(l.q * l.p);
  const bias = new Float64Array(l.q);
  for (let r = 0; r < l.n * l.T; r++) {
    for (let o = 0; o < l.q; o++) {
      const d = (l.D[r * l.q + o] as number) / l.n;
      bias[o] = (bias[o] as number) + d;
      for (let j = 0; j < l.p; j++) W[o * l.p + j] = (W[o * l.p + j] as number) + d * (l.A[r * l.p + j] as number);
    }
  }
  return { [wName]: Float32Array.from(W), [bName]: Float32Array.from(bias) };
}

/** Device factors of a host layer (dense `[n, p]` / conv `[n, T, p]`). */
export function toDevice(dev: LinalgDevice, l: HostLayer, kind: 'dense' | 'conv2d'): LayerFactors {
  if (kind === 'dense') {
    return {
      kind,
      inputs: dev.matrix(Float32Array.from(l.A), [l.n, l.p]),
      outputGrads: dev.matrix(Float32Array.from(l.D), [l.n, l.q]),
    };
  }
  return {
    kind,
    patches: dev.matrix(Float32Array.from(l.A), [l.n, l.T, l.p]),
    outputGrads: dev.matrix(Float32Array.from(l.D), [l.n, l.T, l.q]),
  };
}

/** Disposes device factors. */
export function disposeAll(fs: readonly LayerFactors[]): void {
  for (const f of fs) {
    if (f.kind === 'dense') [f.inputs, f.outputGrads].forEach((m) => m.dispose());
    if (f.kind === 'conv2d') [f.patches, f.outputGrads].forEach((m) => m.dispose());
  }
}
