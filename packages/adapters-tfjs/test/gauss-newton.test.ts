/**
 * The tfjs capture's Gauss–Newton products (`StepCapture.gaussNewton`, KFAC's adaptive `quadraticModel:
 * 'gauss-newton'`): against a float64 reference with exact output directional derivatives of a dense–tanh–dense
 * model, for every named loss, with and without sample weights; the variables and a BatchNorm model's moving
 * statistics untouched; the refusals (random layers, a custom loss); and adaptive KFAC training with it.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { HostTree, OptimizerSpec } from 'ifngd';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdapterArgumentError, FngdTrainer, type LossName } from '../src/index.js';
import { registerGaussNewtonProbe, type ProbeRecord } from '../../../test/shared/gauss-newton-probe.js';
import { classData, flatParams, mlp, useCpu, variablesOf } from './helpers.js';
import { bnMlp } from './support/zoo.js';

beforeAll(useCpu);

let seen: ProbeRecord;
beforeAll(() => {
  seen = registerGaussNewtonProbe('gauss-newton-probe', 12345);
});

/** Float64 reference: (1/n)Σᵢ wᵢ(Jᵢuₐ)ᵀHᵢ(Jᵢuᵦ) for `mlp`'s dense(tanh) → dense, with exact Jᵢu. */
function reference(model: LayersModel, x: Tensor, loss: LossName, vectors: readonly HostTree[], names: readonly string[], w: readonly number[] | null): number[] {
  const vals = variablesOf(model).map((v) => Float64Array.from(v.dataSync()));
  const [W1, b1, W2, b2] = vals as [Float64Array, Float64Array, Float64Array, Float64Array];
  const n = x.shape[0] as number;
  const din = x.shape[1] as number;
  const h = b1.length;
  const d = b2.length;
  const xs = x.dataSync();
  const jv = vectors.map((u) => {
    const [U1, c1, U2, c2] = names.map((k) => u[k] as Float32Array) as [Float32Array, Float32Array, Float32Array, Float32Array];
    const out: number[][] = [];
    const zs: number[][] = [];
    for (let i = 0; i < n; i++) {
      const a = new Float64Array(h);
      const da = new Float64Array(h);
      for (let o = 0; o < h; o++) {
        let s = b1[o]!;
        let ds = c1[o]!;
        for (let j = 0; j < din; j++) {
          s += xs[i * din + j]! * W1[j * h + o]!;
          ds += xs[i * din + j]! * U1[j * h + o]!;
        }
        a[o] = Math.tanh(s);
        da[o] = (1 - a[o]! * a[o]!) * ds;
      }
      const z: number[] = [];
      const dz: number[] = [];
      for (let o = 0; o < d; o++) {
        let s = b2[o]!;
        let ds = c2[o]!;
        for (let j = 0; j < h; j++) {
          s += a[j]! * W2[j * d + o]!;
          ds += a[j]! * U2[j * d + o]! + da[j]! * W2[j * d + o]!;
        }
        z.push(s);
        dz.push(ds);
      }
      zs.push(z);
      out.push(dz);
    }
    return { out, zs };
  });
  const zs = jv[0]!.zs;
  const k = vectors.length;
  const c = new Array<number>(k * k).fill(0);
  for (let i = 0; i < n; i++) {
    const z = zs[i]!;
    // the loss Hessian in the outputs, as a matrix
    const H: number[][] = z.map(() => new Array<number>(d).fill(0));
    if (loss === 'softmax-cross-entropy') {
      const m = Math.max(...z);
      const e = z.map((v) => Math.exp(v - m));
      const sum = e.reduce((t, v) => t + v, 0);
      const p = e.map((v) => v / sum);
      for (let r = 0; r < d; r++) for (let q = 0; q < d; q++) H[r]![q] = (r === q ? p[r]! : 0) - p[r]! * p[q]!;
    } else if (loss === 'sigmoid-cross-entropy') {
      for (let r = 0; r < d; r++) {
        const s = 1 / (1 + Math.exp(-z[r]!));
        H[r]![r] = s * (1 - s);
      }
    } else for (let r = 0; r < d; r++) H[r]![r] = 2 / d;
    for (let a = 0; a < k; a++) {
      for (let b = 0; b < k; b++) {
        let t = 0;
        for (let r = 0; r < d; r++) for (let q = 0; q < d; q++) t += jv[a]!.out[i]![r]! * H[r]![q]! * jv[b]!.out[i]![q]!;
        c[a * k + b] = c[a * k + b]! + (w ? w[i]! : 1) * t;
      }
    }
  }
  return c.map((v) => v / n);
}

const relMax = (got: readonly number[], want: readonly number[]): number => {
  const scale = Math.max(...want.map(Math.abs));
  return Math.max(...got.map((g, i) => Math.abs(g - want[i]!) / scale));
};

describe("the tfjs capture's Gauss–Newton products", () => {
  it.each(['softmax-cross-entropy', 'sigmoid-cross-entropy', 'mse'] as const)(
    '%s: equal a float64 reference with exact output directional derivatives (n = 9, not a tile multiple), variables untouched',
    async (loss) => {
      const model = mlp(6, 5, 4, 21);
      const [x, labels] = classData(9, [6], 4, 22);
      const y = loss === 'mse' ? tf.randomNormal([9, 4], 0, 1, 'float32', 3) : labels;
      const tr = await FngdTrainer.create(model, { loss, optimizer: { kind: 'gauss-newton-probe' } as unknown as OptimizerSpec });
      expect(seen.env).toBe(true);
      const before = flatParams(variablesOf(model));
      const tensors = tf.memory().numTensors;
      await tr.trainBatch(x, y, { batchKey: 0 });
      expect(tf.memory().numTensors).toBe(tensors);
      expect(flatParams(variablesOf(model))).toEqual(before);
      const want = reference(model, x, loss, seen.vectors, tr.model.names as string[], null);
      expect(seen.products).toHaveLength(4);
      expect(relMax(seen.products!, want)).toBeLessThan(1e-4);
      tr.dispose();
      tf.dispose([x, labels, y]);
    },
  );

  it("a weighted fit's products carry the sample weights: Σᵢ wᵢ(Jᵢuₐ)ᵀHᵢ(Jᵢuᵦ)/n", async () => {
    const model = mlp(6, 5, 4, 23);
    const [x, y] = classData(7, [6], 4, 24);
    const w = [0.5, 2, 0, 1, 3, 0.25, 1];
    const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy', optimizer: { kind: 'gauss-newton-probe' } as unknown as OptimizerSpec });
    const sw = tf.tensor1d(w);
    await tr.fit(x, y, { epochs: 1, batchSize: 7, shuffle: false, sampleIds: 'index', sampleWeight: sw });
    const want = reference(model, x, 'softmax-cross-entropy', seen.vectors, tr.model.names as string[], w);
    expect(seen.products).toHaveLength(4);
    expect(relMax(seen.products!, want)).toBeLessThan(1e-4);
    tr.dispose();
    tf.dispose([x, y, sw]);
  });

  it("a BatchNorm model: finite, positive semi-definite products; the variables and the step's moving statistics as the step's own", async () => {
    const [x, y] = classData(10, [5], 3, 25);
    const a = bnMlp(5, 4, 3, 9);
    const twin = bnMlp(5, 4, 3, 9);
    const tr = await FngdTrainer.create(a, { loss: 'softmax-cross-entropy', optimizer: { kind: 'gauss-newton-probe' } as unknown as OptimizerSpec });
    const still = await FngdTrainer.create(twin, { loss: 'softmax-cross-entropy', optimizer: { kind: 'sgd', learningRate: 1e-30 } });
    await tr.trainBatch(x, y, { batchKey: 0 });
    await still.trainBatch(x, y, { batchKey: 0 });
    const moving = (m: LayersModel) => m.getLayer('bn').getWeights().slice(2).map((t) => Array.from(t.dataSync()));
    expect(moving(a)).toEqual(moving(twin));
    expect(flatParams(variablesOf(a))).toEqual(flatParams(variablesOf(twin)));
    expect(seen.products).toHaveLength(4);
    const [c00, c01, c10, c11] = seen.products!;
    expect(seen.products!.every(Number.isFinite)).toBe(true);
    expect(c00).toBeGreaterThan(0);
    expect(c00! * c11! - c01! * c10!).toBeGreaterThanOrEqual(0);
    tr.dispose();
    still.dispose();
    tf.dispose([x, y]);
  });

  it("is refused where central differences would read other masks or no named loss gives the Hessian: Dropout, a custom loss", async () => {
    const dropout = tfl.sequential({
      layers: [tfl.layers.dense({ units: 5, inputShape: [6], activation: 'tanh' }), tfl.layers.dropout({ rate: 0.2 }), tfl.layers.dense({ units: 3 })],
    });
    const gn = { adaptive: { quadraticModel: 'gauss-newton' as const } };
    await expect(FngdTrainer.create(dropout, { loss: 'softmax-cross-entropy', kfac: gn })).rejects.toThrow(/without random layers \(Dropout, noise\); use 'factors'/);
    const custom = (out: Tensor, t: Tensor) => tf.sum(tf.squaredDifference(out, t), 1) as tf.Tensor1D;
    await expect(FngdTrainer.create(mlp(6, 5, 3, 2), { loss: custom, kfac: gn })).rejects.toThrow(/needs? a named loss/);
    const probe = await FngdTrainer.create(dropout, { loss: 'softmax-cross-entropy', optimizer: { kind: 'gauss-newton-probe' } as unknown as OptimizerSpec });
    expect(seen.env).toBe(false);
    // an optimizer that asks anyway gets AdapterArgumentError; the variables and the live tensors stay as they were
    const [x, y] = classData(6, [6], 3, 27);
    const before = flatParams(variablesOf(dropout));
    const tensors = tf.memory().numTensors;
    await expect(probe.trainBatch(x, y, { batchKey: 0 })).rejects.toThrow(AdapterArgumentError);
    expect(flatParams(variablesOf(dropout))).toEqual(before);
    expect(tf.memory().numTensors).toBe(tensors);
    probe.dispose();
    tf.dispose([x, y]);
  });
});

describe("adaptive KFAC with quadraticModel: 'gauss-newton'", () => {
  it('trains: the loss falls, the learning rate and momentum come from the Gauss–Newton model, no tensor leaks', async () => {
    const model = mlp(6, 8, 3, 31);
    const [x, y] = classData(64, [6], 3, 32);
    const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy', kfac: { damping: 1, adaptive: { quadraticModel: 'gauss-newton' } } });
    const first = (await tr.trainBatch(x, y, { batchKey: 0 })).loss;
    const tensors = tf.memory().numTensors;
    let last = first;
    for (let s = 1; s < 25; s++) last = (await tr.trainBatch(x, y, { batchKey: 0 })).loss;
    expect(tf.memory().numTensors).toBe(tensors);
    expect(last).toBeLessThan(0.5 * first);
    const a = tr.kfacOptimizer!.adaptiveState!;
    expect(a.learningRate).toBeGreaterThan(0);
    expect(Number.isFinite(a.momentum)).toBe(true);
    tr.dispose();
    tf.dispose([x, y]);
  });
});
