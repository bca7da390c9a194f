import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';

export async function useCpu(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
}

/** Small MLP, linear output (logits), seeded. */
export function mlp(din = 6, hidden = 5, dout = 3, seed = 1): LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ units: hidden, inputShape: [din], activation: 'tanh', kernelInitializer: tfl.initializers.glorotUniform({ seed }), biasInitializer: tfl.initializers.randomNormal({ seed: seed + 1, stddev: 0.1 }) }),
      tfl.layers.dense({ units: dout, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 2 }), biasInitializer: tfl.initializers.randomNormal({ seed: seed + 3, stddev: 0.1 }) }),
    ],
  });
}

/** Small CNN: conv(valid) → maxpool → conv(same, stride 1) → flatten → dense. */
export function cnn(seed = 1): LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed }), biasInitializer: tfl.initializers.randomNormal({ seed: seed + 1, stddev: 0.1 }) }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({ filters: 2, kernelSize: 2, padding: 'same', activation: 'tanh', useBias: false, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 2 }) }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 3 }) }),
    ],
  });
}

export function variablesOf(model: LayersModel): Variable[] {
  return model.trainableWeights.map((w) => w.read() as Variable);
}

export function classData(n: number, inShape: number[], classes: number, seed = 7): [Tensor, Tensor] {
  const x = tf.randomNormal([n, ...inShape], 0, 1, 'float32', seed);
  const labels = Array.from({ length: n }, (_, i) => (i * 7 + 3) % classes);
  const y = tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), classes), 'float32');
  return [x, y];
}

/** Per-sample gradients of ℓᵢ (loss on tfjs-layers' own forward), float64 rows [n][d] in variable order. */
export function bruteJacobian(model: LayersModel, loss: (out: Tensor, y: Tensor) => Tensor, x: Tensor, y: Tensor, vars: Variable[] = variablesOf(model)): number[][] {
  const n = x.shape[0] as number;
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) {
    const g = tf.tidy(() => {
      const xi = tf.slice(x, [i], [1]);
      const yi = tf.slice(y, [i], [1]);
      const { value, grads } = tf.variableGrads(() => tf.sum(loss(model.apply(xi) as Tensor, yi)) as tf.Scalar, vars);
      value.dispose();
      return tf.concat(vars.map((v) => tf.reshape(grads[v.name] as Tensor, [-1])));
    });
    rows.push(Array.from(g.dataSync()));
    g.dispose();
  }
  return rows;
}

export function gram(rows: number[][], from = 0, to = rows[0]?.length ?? 0): number[][] {
  return rows.map((a) => rows.map((b) => {
    let s = 0;
    for (let k = from; k < to; k++) s += (a[k] as number) * (b[k] as number);
    return s;
  }));
}

/** Solves the SPD system A x = b in float64 (Cholesky). */
export function spdSolve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const l = a.map((r) => r.slice());
  for (let j = 0; j < n; j++) {
    for (let k = 0; k < j; k++) for (let i = j; i < n; i++) l[i]![j]! -= l[i]![k]! * l[j]![k]!;
    const d = Math.sqrt(l[j]![j]!);
    for (let i = j; i < n; i++) l[i]![j]! /= d;
  }
  const z = b.slice();
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < i; k++) z[i]! -= l[i]![k]! * z[k]!;
    z[i]! /= l[i]![i]!;
  }
  for (let i = n - 1; i >= 0; i--) {
    for (let k = i + 1; k < n; k++) z[i]! -= l[k]![i]! * z[k]!;
    z[i]! /= l[i]![i]!;
  }
  return z;
}

/** Damped natural-gradient direction λ(F + λI)⁻¹g of rows J (columns from..to), float64, d×d. */
export function ngDirection(rows: number[][], damping: number, from = 0, to = rows[0]?.length ?? 0): number[] {
  const n = rows.length;
  const d = to - from;
  const f = Array.from({ length: d }, (_, p) => Array.from({ length: d }, (_, q) => {
    let s = 0;
    for (const r of rows) s += (r[from + p] as number) * (r[from + q] as number);
    return s / n + (p === q ? damping : 0);
  }));
  const g = Array.from({ length: d }, (_, p) => rows.reduce((s, r) => s + (r[from + p] as number), 0) / n);
  return spdSolve(f, g).map((v) => v * damping);
}

export function flatParams(vars: Variable[]): number[] {
  return vars.flatMap((v) => Array.from(v.dataSync()));
}

export function relErr(a: readonly number[], b: readonly number[]): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += ((a[i] as number) - (b[i] as number)) ** 2;
    den += (b[i] as number) ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-300));
}
