/**
 * `skipLayers` (kfac-pytorch's `skip_layers`): the listed layers' weights train with the plain mean-loss gradient,
 * outside FNGD's per-sample Gram and KFAC's blocks. FNGD's fresh and cached steps equal float64 references (the
 * preconditioned block over the other weights, the mean gradient for the skipped ones; global and layer-wise);
 * KFAC leaves the skipped kernels out of its layers; a layer without a block, skipped, needs no per-sample passes
 * and warns nothing; unknown names and wrong forms are refused.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { AdapterArgumentError, FngdTrainer, InvalidOptionError, softmaxCrossEntropy, type FunctionModel } from '../src/index.js';
import { capture } from '../src/internal.js';
import { wholeBatchJacobian } from '../src/weighted-grads.js';
import { bruteJacobian, classData, flatParams, ngDirection, relErr, useCpu } from './helpers.js';
import { coefficients } from './support/reference.js';

beforeAll(useCpu);
afterEach(() => vi.restoreAllMocks());

const LR = 0.3;
const LAMBDA = 0.1;

/** A weighted layer no block covers. */
class Gain extends tfl.layers.Layer {
  static className = 'SkipTestGain';
  w: tfl.LayerVariable | null = null;
  override build(): void {
    this.w = this.addWeight('w', [4], 'float32', tfl.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed: 9 }));
    this.built = true;
  }
  override call(inputs: Tensor | Tensor[]): Tensor {
    return tf.mul(Array.isArray(inputs) ? (inputs[0] as Tensor) : inputs, (this.w as tfl.LayerVariable).read());
  }
}

function mlp(gain = false): LayersModel {
  const g = (seed: number) => tfl.initializers.glorotNormal({ seed });
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 6, inputShape: [5], activation: 'tanh', name: 'h1', kernelInitializer: g(1) }),
      tfl.layers.dense({ units: 4, activation: 'tanh', name: 'h2', kernelInitializer: g(2), biasInitializer: tfl.initializers.randomNormal({ seed: 3, stddev: 0.2 }) }),
      ...(gain ? [new Gain({ name: 'gain' })] : []),
      tfl.layers.dense({ units: 3, name: 'out', kernelInitializer: g(4) }),
    ],
  });
}

/** Column indices of each variable in the flattened order. */
function columns(vars: readonly Variable[]): Map<Variable, number[]> {
  const out = new Map<Variable, number[]>();
  let at = 0;
  for (const v of vars) {
    out.set(v, Array.from({ length: v.size }, (_, k) => at + k));
    at += v.size;
  }
  return out;
}

/** λ(F_B+λI)⁻¹g_B per block B of preconditioned columns (or λJ_Bᵀα_B with given α), the mean gradient on plain ones. */
function direction(rows: number[][], blocks: number[][], plain: number[], alphas?: number[][]): number[] {
  const d = rows[0]!.length;
  const n = rows.length;
  const dir = new Array<number>(d).fill(0);
  blocks.forEach((cols, b) => {
    const sub = rows.map((r) => cols.map((c) => r[c]!));
    const v = alphas ? cols.map((_, k) => LAMBDA * sub.reduce((s, r, i) => s + alphas[b]![i]! * r[k]!, 0)) : ngDirection(sub, LAMBDA);
    v.forEach((x, k) => (dir[cols[k]!] = x));
  });
  for (const c of plain) dir[c] = rows.reduce((s, r) => s + r[c]!, 0) / n;
  return dir;
}

describe('skipLayers under FNGD', () => {
  for (const mode of ['global', 'layerwise'] as const) {
    it(`fresh and cached steps equal the float64 references (${mode})`, async () => {
      const m = mlp();
      const [x, y] = classData(9, [5], 3, 4);
      const tr = await FngdTrainer.create(m, { loss: 'softmax-cross-entropy', skipLayers: ['h2'], fngd: { learningRate: LR, damping: LAMBDA, momentum: 0, mode, guard: false, refresh: 'first-epoch' } });
      const vars = [...tr.model.variables];
      const col = columns(vars);
      const plainVars = tr.model.plain ?? [];
      expect(plainVars.map((v) => tr.model.names?.[vars.indexOf(v)])).toEqual(['h2/kernel', 'h2/bias']);
      const plain = plainVars.flatMap((v) => col.get(v)!);
      const kept = vars.filter((v) => !plainVars.includes(v));
      const blocks = mode === 'global' ? [kept.flatMap((v) => col.get(v)!)] : [[...col.get(kept[0]!)!, ...col.get(kept[1]!)!], [...col.get(kept[2]!)!, ...col.get(kept[3]!)!]];
      const p0 = flatParams(vars);
      const rows0 = bruteJacobian(m, softmaxCrossEntropy, x, y, vars);
      const want = p0.map((v, k) => v - LR * direction(rows0, blocks, plain)[k]!);
      await tr.trainBatch(x, y, { batchKey: 0, epoch: 0 });
      expect(relErr(flatParams(vars), want)).toBeLessThan(2e-4);
      const alphas = blocks.map((cols) => coefficients(rows0.map((r) => cols.map((c) => r[c]!)), LAMBDA));
      const p1 = flatParams(vars);
      const rows1 = bruteJacobian(m, softmaxCrossEntropy, x, y, vars);
      const want1 = p1.map((v, k) => v - LR * direction(rows1, blocks, plain, alphas)[k]!);
      await tr.trainBatch(x, y, { batchKey: 0, epoch: 1 });
      expect(tr.stats?.cachedBatches).toBe(1);
      expect(relErr(flatParams(vars), want1)).toBeLessThan(2e-4);
      tr.dispose();
      tf.dispose([x, y]);
    });
  }

  it('a skipped layer without a block takes no per-sample passes and warns nothing', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const m = mlp(true);
    const [x, y] = classData(9, [5], 3, 5);
    const tr = await FngdTrainer.create(m, { loss: 'softmax-cross-entropy', skipLayers: ['SkipTestGain'], fngd: { learningRate: LR, damping: LAMBDA, momentum: 0, mode: 'global', guard: false } });
    expect(warn).not.toHaveBeenCalled();
    const vars = [...tr.model.variables];
    const col = columns(vars);
    const gainVar = (tr.model.plain ?? [])[0] as Variable;
    expect(tr.model.names?.[vars.indexOf(gainVar)]).toMatch(/gain/);
    const plain = col.get(gainVar)!;
    const blocks = [vars.filter((v) => v !== gainVar).flatMap((v) => col.get(v)!)];
    const want = flatParams(vars).map((v, k) => v - LR * direction(bruteJacobian(m, softmaxCrossEntropy, x, y, vars), blocks, plain)[k]!);
    // the generic route (one pass per sample) serves the capture's uncovered variables: none here
    const cap = capture(tr.model, softmaxCrossEntropy, x, y);
    expect(cap.uncovered).toHaveLength(0);
    cap.dispose();
    await tr.trainBatch(x, y, { batchKey: 0, epoch: 0 });
    expect(relErr(flatParams(vars), want)).toBeLessThan(2e-4);
    tr.dispose();
    tf.dispose([x, y]);
  });
});

describe('skipLayers under KFAC, and its refusals', () => {
  it("KFAC: the skipped kernel is no KFAC layer, and its step is −η times the mean gradient", async () => {
    const m = mlp();
    const [x, y] = classData(9, [5], 3, 6);
    const tr = await FngdTrainer.create(m, { loss: 'softmax-cross-entropy', skipLayers: ['h2'], kfac: { learningRate: LR, momentum: 0, klClip: false, nonKronecker: 'diagonal' } });
    expect(tr.kfacOptimizer?.layers.map((l) => l.weight)).toEqual(['h1/kernel', 'out/kernel']);
    expect(tr.kfacOptimizer?.diagonal).toEqual([]);
    const vars = [...tr.model.variables];
    const col = columns(vars);
    const plain = (tr.model.plain ?? []).flatMap((v) => col.get(v)!);
    const rows = bruteJacobian(m, softmaxCrossEntropy, x, y, vars);
    const p0 = flatParams(vars);
    await tr.trainBatch(x, y, { batchKey: 0 });
    const p1 = flatParams(vars);
    const mean = plain.map((c) => rows.reduce((s, r) => s + r[c]!, 0) / rows.length);
    expect(relErr(plain.map((c) => p1[c]! - p0[c]!), mean.map((g) => -LR * g))).toBeLessThan(1e-4);
    tr.dispose();
    tf.dispose([x, y]);
  });

  it('unknown names, wrong forms and FunctionModels are refused', async () => {
    await expect(FngdTrainer.create(mlp(), { loss: 'mse', skipLayers: ['h3', 'Dense'] })).rejects.toThrow(AdapterArgumentError);
    await expect(FngdTrainer.create(mlp(), { loss: 'mse', skipLayers: ['h3', 'Dense'] })).rejects.toThrow(/'h3' match no layer name or class/);
    await expect(FngdTrainer.create(mlp(), { loss: 'mse', skipLayers: 'h2' as never })).rejects.toThrow(InvalidOptionError);
    const w = tf.variable(tf.zeros([3, 2]));
    const fm: FunctionModel = { variables: [w], forward: (x) => tf.matMul(x as tf.Tensor2D, w) };
    await expect(FngdTrainer.create(fm, { loss: 'mse', skipLayers: ['w'] })).rejects.toThrow(/FunctionModel lists its plain-gradient variables in `plain`/);
    w.dispose();
  });
});

describe('skipLayers and plain variables: the edges', () => {
  it("perSample: 'exact' (a BatchNorm model) leaves the skipped weights out of the Gram: the rest follows the exact reference", async () => {
    const g = (seed: number) => tfl.initializers.glorotNormal({ seed });
    const m = tfl.sequential({
      layers: [
        tfl.layers.dense({ units: 5, inputShape: [4], name: 'a', kernelInitializer: g(1) }),
        tfl.layers.batchNormalization({ name: 'bn' }),
        tfl.layers.dense({ units: 4, activation: 'tanh', name: 'skipme', kernelInitializer: g(2) }),
        tfl.layers.dense({ units: 3, name: 'out', kernelInitializer: g(3) }),
      ],
    });
    const [x, y] = classData(7, [4], 3, 9);
    const tr = await FngdTrainer.create(m, { loss: 'softmax-cross-entropy', perSample: 'exact', skipLayers: ['skipme'], fngd: { learningRate: LR, damping: LAMBDA, momentum: 0, mode: 'global', guard: false } });
    const vars = [...tr.model.variables];
    const col = columns(vars);
    const plainVars = tr.model.plain ?? [];
    const plain = plainVars.flatMap((v) => col.get(v)!);
    const kept = vars.filter((v) => !plainVars.includes(v)).flatMap((v) => col.get(v)!);
    // exact per-sample gradients: each ℓᵢ's total derivative on the whole batch (batch statistics included)
    const j = await wholeBatchJacobian(tr.model, softmaxCrossEntropy, x, y, vars);
    const d = vars.reduce((s, v) => s + v.size, 0);
    const rows = Array.from({ length: 7 }, (_, i) => Array.from(j.subarray(i * d, (i + 1) * d)));
    const want = flatParams(vars).map((v, k) => v - LR * direction(rows, [kept], plain)[k]!);
    await tr.trainBatch(x, y, { batchKey: 0, epoch: 0 });
    expect(relErr(flatParams(vars), want)).toBeLessThan(5e-4);
    tr.dispose();
    tf.dispose([x, y]);
  });

  it('a FunctionModel: plain variables outside its variables, tapped, or at a site, and every layer skipped under FNGD, are refused', async () => {
    const w = tf.variable(tf.randomNormal([4, 3], 0, 0.5, 'float32', 1));
    const v = tf.variable(tf.ones([3]));
    const other = tf.variable(tf.zeros([2]));
    const base = { variables: [w, v], forward: (x: tf.Tensor, tap: import('../src/index.js').Tap) => tf.mul(tap.dense(tf.matMul(x as tf.Tensor2D, w), x, { kernel: w }), v) };
    await expect(FngdTrainer.create({ ...base, plain: [other] }, { loss: 'mse' })).rejects.toThrow(/plain variable .* is not among the model's variables/);
    await expect(FngdTrainer.create({ ...base, plain: [w], taps: [{ kernel: w }] }, { loss: 'mse', kfac: {} })).rejects.toThrow(/both plain and a tapped layer's weight/);
    await expect(FngdTrainer.create({ ...base, plain: [w, v] }, { loss: 'mse' })).rejects.toThrow(/every trainable weight is skipped/);
    await expect(FngdTrainer.create(mlp(), { loss: 'mse', skipLayers: ['Dense'] })).rejects.toThrow(/every trainable weight is skipped/);
    const tr = await FngdTrainer.create({ ...base, plain: [w] }, { loss: 'mse' });
    const x = tf.randomNormal([5, 4], 0, 1, 'float32', 2);
    const yy = tf.zeros([5, 3]);
    await expect(tr.trainBatch(x, yy, { batchKey: 0 })).rejects.toThrow(/listed in the model's plain variables but tapped at a site/);
    tr.dispose();
    tf.dispose([w, v, other, x, yy]);
  });
});
