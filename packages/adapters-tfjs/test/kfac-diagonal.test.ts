/**
 * KFAC's diagonal block in the tfjs trainer (`kfac: { nonKronecker: 'diagonal' }`): after one step, the running
 * second moments of every non-Kronecker parameter (LayerNorm scale and shift, embeddings, depthwise filters, PReLU,
 * transposed-convolution kernels, a layer without a block) equal the float64 mean squares of explicit per-sample
 * gradients, and the step on them is `−η·g/(d + λ)`; a rule without its own second moments gets them from one-hot
 * weighted gradients; the option is validated; a model without Kronecker layers is refused by default and trains
 * with the diagonal; checkpoints continue bit for bit.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { InvalidArgumentError } from 'ifngd';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdapterArgumentError, FngdTrainer, fromLayersModel, softmaxCrossEntropy } from '../src/index.js';
import { capture } from '../src/internal.js';
import { secondMoments } from '../src/kfac-moments.js';
import { PatchFilters } from '../src/patches.js';
import { bruteJacobian, classData, relErr, useCpu } from './helpers.js';
import { deconvNet, mobileBlock, sequenceNet, tinyTransformer, tokenData } from './support/zoo.js';

beforeAll(useCpu);

type S = tfl.SymbolicTensor;

/** A weighted layer no block covers (trained through the generic per-sample route). */
class Scale extends tfl.layers.Layer {
  static className = 'DiagonalTestScale';
  w: tfl.LayerVariable | null = null;
  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    this.w = this.addWeight('w', [shape[shape.length - 1] as number], 'float32', tfl.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed: 4 }));
    this.built = true;
  }
  override call(inputs: Tensor | Tensor[]): Tensor {
    return tf.mul(Array.isArray(inputs) ? (inputs[0] as Tensor) : inputs, (this.w as tfl.LayerVariable).read());
  }
}

function withGeneric(): LayersModel {
  const x = tfl.input({ shape: [5] });
  const h = tfl.layers.dense({ units: 4, activation: 'tanh', name: 'd1', kernelInitializer: tfl.initializers.glorotNormal({ seed: 1 }) }).apply(x) as S;
  const s = new Scale({ name: 'scale' }).apply(h) as S;
  return tfl.model({ inputs: x, outputs: tfl.layers.dense({ units: 3, name: 'out', kernelInitializer: tfl.initializers.glorotNormal({ seed: 2 }) }).apply(s) as S });
}

const cases: [string, () => LayersModel, () => [tf.Tensor, tf.Tensor]][] = [
  ['Embedding, LayerNormalization (sequence classifier)', () => sequenceNet(11, 7, 2), () => tokenData(9, 7, 11, 3)],
  ['two Embeddings and LayerNorms (tiny transformer)', () => tinyTransformer(17, 6, 8, 2), () => tokenData(9, 6, 17, 3, 9)],
  ['DepthwiseConv2D, PReLU, SeparableConv2D depthwise kernel', () => mobileBlock(3), () => classData(7, [7, 7, 2], 3, 12)],
  ['Conv2DTranspose kernels', () => deconvNet(2), () => classData(7, [6, 6, 2], 3, 14)],
  ['a layer without a block (generic per-sample route)', withGeneric, () => classData(9, [5], 3, 5)],
];

const LR = 0.3;
const DAMPING = 0.02;

describe("KFAC's diagonal block equals float64 references", () => {
  for (const [name, make, data] of cases) {
    it(name, async () => {
      const model = make();
      const [x, y] = data();
      const tr = await FngdTrainer.create(model, {
        loss: 'softmax-cross-entropy',
        kfac: { nonKronecker: 'diagonal', learningRate: LR, damping: DAMPING, momentum: 0, klClip: false },
      });
      const opt = tr.kfacOptimizer!;
      const leaves = opt.diagonal;
      expect(leaves.length).toBeGreaterThan(0);
      const byName = new Map((tr.model.names ?? []).map((n, i) => [n, tr.model.variables[i] as Variable]));
      const vars = leaves.map((l) => byName.get(l) as Variable);
      const rows = bruteJacobian(model, softmaxCrossEntropy, x, y, vars);
      const n = rows.length;
      const d = rows[0]!.length;
      const m2 = Array.from({ length: d }, (_, k) => rows.reduce((s, r) => s + r[k]! ** 2, 0) / n);
      const g = Array.from({ length: d }, (_, k) => rows.reduce((s, r) => s + r[k]!, 0) / n);
      const before = vars.flatMap((v) => Array.from(v.dataSync()));
      await tr.trainBatch(x, y, { batchKey: 0, epoch: 0 });
      const got = opt.diagonalState().d!;
      expect(relErr(Array.from(got), m2)).toBeLessThan(1e-4);
      const after = vars.flatMap((v) => Array.from(v.dataSync()));
      const step = after.map((v, k) => v - before[k]!);
      expect(relErr(step, g.map((gk, k) => (-LR * gk) / (m2[k]! + DAMPING)))).toBeLessThan(2e-4);
      tr.dispose();
      tf.dispose([x, y]);
    });
  }

  it('a rule without its own second moments gets the same ones from one-hot weighted gradients', async () => {
    const model = sequenceNet(11, 7, 3);
    const [x, y] = tokenData(6, 7, 11, 3);
    const fm = fromLayersModel(model);
    const cap = capture(fm, softmaxCrossEntropy, x, y);
    const filters = new PatchFilters();
    const groups = cap.groups.filter((g) => !g.rule.kronecker);
    expect(groups.map((g) => g.rule.kind).sort()).toEqual(['embedding', 'scale-shift']);
    const bare = groups.map((g) => {
      const { secondMoments: _own, ...rule } = g.rule;
      return { ...g, rule };
    });
    const none = async (): Promise<Float32Array> => new Float32Array(0);
    const own = await secondMoments(cap, groups, { filters, n: 6 }, none);
    const oneHot = await secondMoments(cap, bare, { filters, n: 6 }, none);
    expect([...oneHot.keys()]).toEqual([...own.keys()]);
    for (const [v, t] of own) expect(relErr(Array.from(oneHot.get(v)!.dataSync()), Array.from(t.dataSync()))).toBeLessThan(1e-5);
    tf.dispose([...own.values(), ...oneHot.values(), x, y]);
    cap.dispose();
    filters.dispose();
  });
});

describe('the nonKronecker option', () => {
  it('is validated, and set by the trainer only', async () => {
    const m = mobileBlock(1);
    await expect(FngdTrainer.create(m, { loss: 'softmax-cross-entropy', kfac: { nonKronecker: 'diag' as 'diagonal' } })).rejects.toThrow(InvalidArgumentError);
    await expect(FngdTrainer.create(m, { loss: 'softmax-cross-entropy', kfac: { nonKronecker: 'diag' as 'diagonal' } })).rejects.toThrow(/'gradient' or 'diagonal', got diag/);
    await expect(FngdTrainer.create(m, { loss: 'softmax-cross-entropy', kfac: { diagonal: ['x'] } as object })).rejects.toThrow(/kfac.diagonal is set by the trainer/);
    const tr = await FngdTrainer.create(m, { loss: 'softmax-cross-entropy', kfac: {} });
    expect(tr.kfacOptimizer?.diagonal).toEqual([]);
    tr.dispose();
  });

  it('a model with no Kronecker layer is refused by default and trains with the diagonal block', async () => {
    const make = (): LayersModel =>
      tfl.sequential({
        layers: [
          tfl.layers.embedding({ inputDim: 11, outputDim: 3, inputLength: 7, name: 'emb', embeddingsInitializer: tfl.initializers.randomNormal({ seed: 3 }) }),
          tfl.layers.globalAveragePooling1d({}),
          tfl.layers.layerNormalization({ name: 'ln' }),
        ],
      });
    await expect(FngdTrainer.create(make(), { loss: 'softmax-cross-entropy', kfac: {} })).rejects.toThrow(/no Kronecker layer.*nonKronecker: 'diagonal'/);
    const [x, y] = tokenData(16, 7, 11, 3);
    const tr = await FngdTrainer.create(make(), { loss: 'softmax-cross-entropy', kfac: { nonKronecker: 'diagonal', learningRate: 0.05 } });
    expect(tr.kfacOptimizer?.layers).toEqual([]);
    const first = (await tr.trainBatch(x, y, { batchKey: 0 })).loss;
    let last = first;
    for (let s = 0; s < 10; s++) last = (await tr.trainBatch(x, y, { batchKey: 0 })).loss;
    expect(last).toBeLessThan(first);
    tr.dispose();
    tf.dispose([x, y]);
  });

  it('save → load → restore → continue equals never stopping', async () => {
    const kfac = { nonKronecker: 'diagonal', learningRate: 0.05, factorEvery: 2, inverseEvery: 3 } as const;
    const [x, y] = classData(32, [7, 7, 2], 3, 12);
    const a = mobileBlock(7);
    const ta = await FngdTrainer.create(a, { loss: 'softmax-cross-entropy', kfac });
    await ta.fit(x, y, { epochs: 4, batchSize: 16, seed: 2 });
    const want = a.getWeights().map((t) => Array.from(t.dataSync()));
    const b = mobileBlock(7);
    const tb = await FngdTrainer.create(b, { loss: 'softmax-cross-entropy', kfac });
    await tb.fit(x, y, { epochs: 2, batchSize: 16, seed: 2 });
    let saved: tf.io.ModelArtifacts | null = null;
    await tb.save(
      tf.io.withSaveHandler(async (art) => {
        saved = art;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    tb.dispose();
    const c = await tfl.loadLayersModel(tf.io.fromMemory(saved as unknown as tf.io.ModelArtifacts));
    const tc = await FngdTrainer.create(c, { loss: 'softmax-cross-entropy', kfac });
    tc.restore();
    expect(tc.kfacOptimizer?.diagonalState().d).not.toBeNull();
    await tc.fit(x, y, { epochs: 2, batchSize: 16, seed: 2 });
    expect(c.getWeights().map((t) => Array.from(t.dataSync()))).toEqual(want);
    ta.dispose();
    tc.dispose();
    tf.dispose([x, y]);
  });
});
