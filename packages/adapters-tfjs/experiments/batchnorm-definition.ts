/**
 * How far the trainer's per-sample definition for BatchNormalization ("share": sample i's share of the batch
 * gradient, the gradient of Σⱼℓⱼ w.r.t. a private copy of the parameters only sample i uses) moves the FNGD
 * direction from the exact one (each ℓᵢ's total derivative through the batch statistics), and how a third
 * common choice ("frozen": batch statistics held constant) compares. Real MNIST digits, MLPs with BatchNorm after
 * every hidden Dense layer, training mode; at initialisation and after 100 SGD steps; float64 solves.
 *
 *   npx tsx --conditions=@ifngd/source packages/adapters-tfjs/experiments/batchnorm-definition.ts [--json FILE]
 *
 * Reported per setting: cos(d_def, d_exact) for the damped natural-gradient directions
 * d = Jᵀ(JJᵀ + nλI)⁻¹1, and cos(g_def, g_exact) for the mean gradients (share: 1 by construction).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import type { Tensor } from '@tensorflow/tfjs-core';
import { loadDigits } from '@ifngd/mnist-data';

const { values } = parseArgs({ options: { json: { type: 'string' } } });
const EPS = 1e-3;

type Params = Tensor[]; // per layer: W, b, (γ, β for hidden layers)

function init(sizes: number[], seed: number): Params {
  const ps: Tensor[] = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const [din, dout] = [sizes[l] as number, sizes[l + 1] as number];
    ps.push(tf.randomNormal([din, dout], 0, Math.sqrt(2 / din), 'float32', seed + l), tf.zeros([dout]));
    if (l + 2 < sizes.length) ps.push(tf.ones([dout]), tf.zeros([dout]));
  }
  return ps;
}

/** Per-sample losses; params given per sample (`copies`: leading axis n) or shared. */
function forward(ps: Tensor[], x: Tensor, y: Tensor, layers: number, copies: boolean, frozenStats: boolean): Tensor {
  const n = x.shape[0] as number;
  let h = x;
  let k = 0;
  for (let l = 0; l < layers; l++) {
    const w = ps[k++] as Tensor;
    const b = ps[k++] as Tensor;
    let z = copies ? tf.reshape(tf.matMul(tf.reshape(h, [n, 1, -1]) as tf.Tensor3D, w as tf.Tensor3D), [n, -1]) : tf.matMul(h as tf.Tensor2D, w as tf.Tensor2D);
    z = tf.add(z, b);
    if (l + 1 < layers) {
      const g = ps[k++] as Tensor;
      const be = ps[k++] as Tensor;
      let { mean, variance } = tf.moments(z, [0]);
      if (frozenStats) {
        mean = tf.tensor(mean.dataSync(), mean.shape);
        variance = tf.tensor(variance.dataSync(), variance.shape);
      }
      z = tf.relu(tf.add(tf.mul(tf.div(tf.sub(z, mean), tf.sqrt(tf.add(variance, EPS))), g), be));
    }
    h = z;
  }
  return tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(h)), 1));
}

function rows(flat: Tensor): Float64Array[] {
  const [n, d] = flat.shape as [number, number];
  const data = flat.dataSync();
  return Array.from({ length: n }, (_, i) => Float64Array.from(data.subarray(i * d, (i + 1) * d)));
}

/** J under a definition: 'share' / 'frozen' from private copies (one pass), 'exact' by n passes. */
function jacobian(ps: Params, x: Tensor, y: Tensor, layers: number, def: 'share' | 'frozen' | 'exact'): Float64Array[] {
  const n = x.shape[0] as number;
  const tileOf = (p: Tensor): Tensor => tf.tile(tf.expandDims(p, 0), [n, ...p.shape.map(() => 1)]);
  if (def !== 'exact') {
    const flat = tf.tidy(() => {
      const grads = tf.grads((...cs: Tensor[]) => tf.sum(forward(cs, x, y, layers, true, def === 'frozen')))(ps.map(tileOf));
      return tf.concat(grads.map((g) => tf.reshape(g, [n, -1])), 1);
    });
    const r = rows(flat);
    flat.dispose();
    return r;
  }
  const out: Float64Array[] = [];
  for (let i = 0; i < n; i++) {
    const flat = tf.tidy(() => {
      const grads = tf.grads((...cs: Tensor[]) => tf.sum(tf.slice(forward(cs, x, y, layers, false, false), [i], [1])))(ps);
      return tf.reshape(tf.concat(grads.map((g) => tf.reshape(g, [-1]))), [1, -1]);
    });
    out.push(...rows(flat));
    flat.dispose();
  }
  return out;
}

/** d = Jᵀ(JJᵀ + nλI)⁻¹1 in float64 (Cholesky), and g = Jᵀ1/n. */
function directions(j: Float64Array[], lambda: number): { d: Float64Array; g: Float64Array } {
  const n = j.length;
  const dim = (j[0] as Float64Array).length;
  const a = Array.from({ length: n }, (_, p) => Array.from({ length: n }, (_, q) => {
    let s = 0;
    const u = j[p] as Float64Array;
    const v = j[q] as Float64Array;
    for (let k = 0; k < dim; k++) s += (u[k] as number) * (v[k] as number);
    return s + (p === q ? n * lambda : 0);
  }));
  for (let c = 0; c < n; c++) {
    for (let k = 0; k < c; k++) for (let r = c; r < n; r++) a[r]![c]! -= a[r]![k]! * a[c]![k]!;
    const piv = Math.sqrt(a[c]![c]!);
    for (let r = c; r < n; r++) a[r]![c]! /= piv;
  }
  const z = new Array<number>(n).fill(1);
  for (let r = 0; r < n; r++) {
    for (let k = 0; k < r; k++) z[r]! -= a[r]![k]! * z[k]!;
    z[r]! /= a[r]![r]!;
  }
  for (let r = n - 1; r >= 0; r--) {
    for (let k = r + 1; k < n; k++) z[r]! -= a[k]![r]! * z[k]!;
    z[r]! /= a[r]![r]!;
  }
  const d = new Float64Array(dim);
  const g = new Float64Array(dim);
  j.forEach((row, i) => {
    for (let k = 0; k < dim; k++) {
      d[k]! += (z[i] as number) * (row[k] as number);
      g[k]! += (row[k] as number) / n;
    }
  });
  return { d, g };
}

function cosine(a: Float64Array, b: Float64Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let k = 0; k < a.length; k++) {
    ab += (a[k] as number) * (b[k] as number);
    aa += (a[k] as number) ** 2;
    bb += (b[k] as number) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

async function main(): Promise<void> {
  await tf.setBackend('cpu');
  const digits = loadDigits();
  const batch = (n: number, offset: number): [Tensor, Tensor] => {
    const idx = Array.from({ length: n }, (_, i) => (offset + i * 997) % digits.count);
    const x = tf.tensor2d(idx.flatMap((i) => Array.from(digits.images.subarray(i * 784, (i + 1) * 784))), [n, 784]);
    const y = tf.oneHot(tf.tensor1d(idx.map((i) => digits.labels[i] as number), 'int32'), 10);
    return [x, tf.cast(y, 'float32')];
  };
  const nets: Record<string, number[]> = { 'mlp 784-64-bn-10': [784, 64, 10], 'mlp 784-64-bn-32-bn-10': [784, 64, 32, 10] };
  const lambdas = [0.01, 0.1, 1, 10, 100];
  const results: unknown[] = [];
  for (const [name, sizes] of Object.entries(nets)) {
    const layers = sizes.length - 1;
    for (const stage of ['init', 'after 100 SGD steps'] as const) {
      let ps = init(sizes, 7);
      if (stage !== 'init') {
        for (let s = 0; s < 100; s++) {
          const [x, y] = batch(64, 13 + s * 64);
          const grads = tf.grads((...cs: Tensor[]) => tf.mean(forward(cs, x, y, layers, false, false)))(ps);
          const next = ps.map((p, k) => tf.sub(p, tf.mul(grads[k] as Tensor, 0.1)));
          tf.dispose([...ps, ...grads, x, y]);
          ps = next;
        }
      }
      for (const n of [16, 64]) {
        for (let rep = 0; rep < 3; rep++) {
          const [x, y] = batch(n, 5000 + rep * 131 + n);
          const j = { share: jacobian(ps, x, y, layers, 'share'), frozen: jacobian(ps, x, y, layers, 'frozen'), exact: jacobian(ps, x, y, layers, 'exact') };
          for (const lambda of lambdas) {
            const e = directions(j.exact, lambda);
            const s = directions(j.share, lambda);
            const f = directions(j.frozen, lambda);
            const row = { net: name, stage, n, rep, lambda, cosShare: cosine(s.d, e.d), cosFrozen: cosine(f.d, e.d), gradCosShare: cosine(s.g, e.g), gradCosFrozen: cosine(f.g, e.g) };
            results.push(row);
            console.log(JSON.stringify(row));
          }
          tf.dispose([x, y]);
        }
      }
      tf.dispose(ps);
    }
  }
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ date: new Date().toISOString(), backend: 'cpu (float32 gradients, float64 solves)', results }, null, 1)}\n`);
}

await main();
