import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { FngdTrainer, identityTap, softmaxCrossEntropy, UnsupportedLayerError, type FunctionModel } from '../src/index.js';
import { bruteJacobian, classData, cnn, flatParams, mlp, ngDirection, relErr, useCpu, variablesOf } from './helpers.js';

beforeAll(useCpu);

const LR = 0.5;
const LAMBDA = 0.05;

function layerRanges(vars: tf.Variable[], perLayer: number[]): [number, number][] {
  const out: [number, number][] = [];
  let v = 0;
  let off = 0;
  for (const count of perLayer) {
    const size = vars.slice(v, v + count).reduce((s, x) => s + x.size, 0);
    out.push([off, off + size]);
    off += size;
    v += count;
  }
  return out;
}

/** Expected new parameters p − η·λ(F+λI)⁻¹g, global or block-diagonal (layer-wise), from float64. */
function reference(p0: number[], rows: number[][], ranges: [number, number][] | null): number[] {
  const d = p0.length;
  const dir = new Array<number>(d).fill(0);
  for (const [a, b] of ranges ?? [[0, d] as [number, number]]) ngDirection(rows, LAMBDA, a, b).forEach((v, k) => (dir[a + k] = v));
  return p0.map((p, k) => p - LR * (dir[k] as number));
}

describe('one FNGD step', () => {
  for (const mode of ['global', 'layerwise'] as const) {
    it(`equals the float64 reference λ(F+λI)⁻¹g (${mode}, MLP)`, async () => {
      const model = mlp(6, 5, 3, 2);
      const vars = variablesOf(model);
      const [x, y] = classData(7, [6], 3, 5);
      const rows = bruteJacobian(model, softmaxCrossEntropy, x, y);
      const want = reference(flatParams(vars), rows, mode === 'global' ? null : layerRanges(vars, [2, 2]));
      const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy', fngd: { learningRate: LR, damping: LAMBDA, mode } });
      const r = await tr.trainBatch(x, y, { batchKey: 0, epoch: 0 });
      expect(r.fresh).toBe(true);
      expect(relErr(flatParams(vars), want)).toBeLessThan(1e-4);
      tr.dispose();
      tf.dispose([x, y]);
    });
  }

  it('equals the float64 reference on a CNN (conv + pooling + flatten + dense, layer-wise)', async () => {
    const model = cnn(4);
    const vars = variablesOf(model);
    const [x, y] = classData(6, [6, 6, 2], 3, 9);
    const rows = bruteJacobian(model, softmaxCrossEntropy, x, y);
    const want = reference(flatParams(vars), rows, layerRanges(vars, [2, 1, 2]));
    const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy', fngd: { learningRate: LR, damping: LAMBDA, mode: 'layerwise' } });
    await tr.trainBatch(x, y, { batchKey: 'b', epoch: 0 });
    expect(relErr(flatParams(vars), want)).toBeLessThan(1e-4);
    tr.dispose();
    tf.dispose([x, y]);
  });

  for (const mode of ['global', 'layerwise'] as const) {
    it(`a later-epoch update is −η·λ·Jᵀα with the cached α (${mode})`, async () => {
      const model = mlp(6, 5, 3, 3);
      const vars = variablesOf(model);
      const [x, y] = classData(8, [6], 3, 6);
      const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy', fngd: { learningRate: LR, damping: LAMBDA, mode, guard: false, momentum: 0 } });
      await tr.trainBatch(x, y, { batchKey: 'k', epoch: 0 });
      const cached = tr.optimizer?.cached('k');
      expect(cached).toBeDefined();
      const alpha = Array.from(cached!.alpha);
      // new parameters → new per-sample gradients; the cached α must be reused as is
      const p1 = flatParams(vars);
      const rows = bruteJacobian(model, softmaxCrossEntropy, x, y);
      const ranges = mode === 'global' ? [[0, p1.length] as [number, number]] : layerRanges(vars, [2, 2]);
      const n = 8;
      const want = p1.slice();
      ranges.forEach(([a, b], l) => {
        for (let k = a; k < b; k++) {
          let s = 0;
          for (let i = 0; i < n; i++) s += (alpha[l * n + i] as number) * (rows[i]![k] as number);
          want[k] = (p1[k] as number) - LR * LAMBDA * s;
        }
      });
      const r = await tr.trainBatch(x, y, { batchKey: 'k', epoch: 1 });
      expect(r.fresh).toBe(false);
      expect(tr.stats?.factorizations).toBe(1);
      expect(tr.stats?.cacheHits).toBe(1);
      expect(relErr(flatParams(vars), want)).toBeLessThan(1e-5);
      tr.dispose();
      tf.dispose([x, y]);
    });
  }

  it('refresh "always" recomputes every step; a function model over explicit variables falls back to per-sample gradients', async () => {
    const w = tf.variable(tf.randomNormal([4, 2], 0, 0.5, 'float32', 3));
    const b = tf.variable(tf.zeros([2]));
    const fm: FunctionModel = { variables: [w, b], forward: (x) => tf.add(tf.matMul(x as tf.Tensor2D, w), b) }; // no taps: fallback
    const [x, y] = classData(5, [4], 2, 8);
    const before = [...w.dataSync(), ...b.dataSync()];
    // reference: brute force on the same function
    const rows: number[][] = [];
    for (let i = 0; i < 5; i++) {
      const g = tf.tidy(() => {
        const { grads } = tf.variableGrads(() => tf.sum(softmaxCrossEntropy(fm.forward(tf.slice(x, [i], [1]), identityTap, true), tf.slice(y, [i], [1]))) as tf.Scalar, [w, b]);
        return tf.concat([tf.reshape(grads[w.name]!, [-1]), grads[b.name]!]);
      });
      rows.push(Array.from(g.dataSync()));
      g.dispose();
    }
    const want = reference(before, rows, null);
    const tr = await FngdTrainer.create(fm, { loss: 'softmax-cross-entropy', fngd: { learningRate: LR, damping: LAMBDA, refresh: 'always' } });
    await tr.trainBatch(x, y, { batchKey: 1 });
    expect(relErr([...w.dataSync(), ...b.dataSync()], want)).toBeLessThan(1e-4);
    await tr.trainBatch(x, y, { batchKey: 1 });
    expect(tr.stats?.factorizations).toBe(2);
    tr.dispose();
    tf.dispose([x, y, w, b]);
  });
});

describe('unsupported models', () => {
  it('a weight-free layer without a block → UnsupportedLayerError naming layer, class, the optimizer and what to do; nothing changes', async () => {
    const model = tfl.sequential({
      layers: [tfl.layers.dense({ units: 4, inputShape: [3], name: 'first' }), tfl.layers.masking({ name: 'mask' }), tfl.layers.dense({ units: 2 })],
    });
    const before = model.getWeights().map((t) => Array.from(t.dataSync()));
    const sgd = tf.train.sgd(0.1);
    const tensorsBefore = tf.memory().numTensors;
    for (const [opts, who] of [
      [{ fngd: { learningRate: 0.1, damping: 1 } }, 'FNGD'],
      [{ kfac: {} }, 'KFAC'],
      [{ optimizer: sgd }, 'tfjs-optimizer baseline'],
    ] as const) {
      const err = await FngdTrainer.create(model, { loss: 'mse', ...opts }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnsupportedLayerError);
      expect((err as UnsupportedLayerError).layerName).toBe('mask');
      expect((err as UnsupportedLayerError).className).toBe('Masking');
      expect((err as Error).message).toContain("'mask' (Masking)");
      expect((err as Error).message).toContain(who);
      expect((err as Error).message).toMatch(/registerLayerBlock/);
    }
    expect(model.getWeights().map((t) => Array.from(t.dataSync()))).toEqual(before);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });

  it('a constraint is refused with the fix', async () => {
    const con = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [3], name: 'c', kernelConstraint: tfl.constraints.maxNorm({ maxValue: 1 }) })] });
    await expect(FngdTrainer.create(con, { loss: 'mse' })).rejects.toThrow(/'c' \(Dense\): kernelConstraint is not supported/);
  });
});
