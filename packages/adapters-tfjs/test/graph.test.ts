/**
 * Graphs and the new layer kinds: one FNGD step equals the float64 reference λ(F+λI)⁻¹g built from explicit
 * per-sample gradients (tfjs's own forward, one sample at a time), global and layer-wise, on DAGs with merges,
 * shared layers and nested models, on Embedding/Conv1D/LayerNorm/Dense-on-sequence, and on CNNs with the
 * weight-free layers; the factors' Grams group by parameters.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { FngdTrainer, fromLayersModel, softmaxCrossEntropy } from '../src/index.js';
import { capture } from '../src/internal.js';
import { bruteJacobian, classData, flatParams, relErr, useCpu } from './helpers.js';
import { groupBlocks, referenceStep } from './support/reference.js';
import { deconvNet, gruRnn, lstmText, mobileBlock, tinyTransformer, paddedCnn, residualDag, sequenceNet, tokenData } from './support/zoo.js';

beforeAll(useCpu);

const LR = 0.5;
const LAMBDA = 0.05;
const cases: [string, () => LayersModel, () => [tf.Tensor, tf.Tensor]][] = [
  ['residual DAG: add, concatenate, multiply, a layer applied twice, a nested Sequential', () => residualDag(3), () => classData(9, [5], 3, 4)],
  ['Embedding → Conv1D → LayerNorm → Dense on the sequence → strided Conv1D → GAP1D → Dense', () => sequenceNet(11, 7, 2), () => tokenData(7, 7, 11, 3)],
  ['Embedding → LSTM → Dense (W and U shared over time steps)', () => lstmText(13, 6, 2), () => tokenData(7, 6, 13, 3, 5)],
  ['GRU (all outputs, backwards) → SimpleRNN → Dense', () => gruRnn(5, 3, 4), () => classData(6, [5, 3], 3, 2)],
  ['tiny transformer encoder: Dense q/k/v on sequences, Dot attention, softmax over keys, residual LayerNorms', () => tinyTransformer(17, 6, 8, 2), () => tokenData(7, 6, 17, 3, 9)],
  ['MobileNet-style: DepthwiseConv2D (multiplier 2, strided), PReLU (shared axes), SeparableConv2D', () => mobileBlock(3), () => classData(6, [7, 7, 2], 3, 12)],
  ['Conv2DTranspose (same with stride 2, valid without bias) after a strided Conv2D', () => deconvNet(2), () => classData(6, [6, 6, 2], 3, 14)],
  ['ZeroPadding2D, UpSampling2D, Cropping2D, strided Conv2D, Permute, GlobalMaxPooling2D', () => paddedCnn(5), () => classData(6, [5, 5, 2], 3, 8)],
];

describe('one FNGD step on graphs and new layer kinds equals the float64 reference', () => {
  for (const [name, make, data] of cases) {
    for (const mode of ['global', 'layerwise'] as const) {
      it(`${name} (${mode})`, async () => {
        const model = make();
        const [x, y] = data();
        const fm = fromLayersModel(model);
        const vars = [...fm.variables];
        const rows = bruteJacobian(model, softmaxCrossEntropy, x, y, vars);
        const blocks = mode === 'global' ? null : groupBlocks(fromLayersModel(model), x, y);
        const want = referenceStep(flatParams(vars), rows, blocks, LR, LAMBDA);
        const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy', fngd: { learningRate: LR, damping: LAMBDA, mode } });
        expect(tr.model.variables).toHaveLength(vars.length);
        const r = await tr.trainBatch(x, y, { batchKey: 0, epoch: 0 });
        expect(r.fresh).toBe(true);
        expect(relErr(flatParams(vars), want)).toBeLessThan(2e-4);
        // a cached step (coefficients reused) takes the same weighted-gradient route without the capture
        const before = flatParams(vars);
        await tr.trainBatch(x, y, { batchKey: 0, epoch: 1 });
        expect(tr.stats?.cachedBatches).toBe(1);
        expect(relErr(flatParams(vars), before)).toBeGreaterThan(0);
        tr.dispose();
        tf.dispose([x, y]);
      });
    }
  }

  it('a layer applied at several sites forms one group whose Gram sums over its sites', async () => {
    const model = residualDag(1);
    const [x, y] = classData(4, [5], 3, 2);
    const fm = fromLayersModel(model);
    const cap = capture(fm, softmaxCrossEntropy, x, y);
    const shared = cap.groups.find((g) => g.sites.length > 1);
    expect(shared?.sites).toHaveLength(2);
    expect(shared?.params['kernel']?.name).toMatch(/shared/);
    // one group per parameter set: d1, d2, shared, inner_d, gate, head
    expect(cap.groups).toHaveLength(6);
    cap.dispose();
    tf.dispose([x, y]);
  });

  it('compiles parameter names from layer names, each shared variable once, and folds a final softmax', async () => {
    const input = tfl.input({ shape: [4] });
    const shared = tfl.layers.dense({ units: 4, name: 'tied' });
    const h = shared.apply(shared.apply(input) as tfl.SymbolicTensor) as tfl.SymbolicTensor;
    const out = tfl.layers.dense({ units: 2, activation: 'softmax', name: 'cls' }).apply(h) as tfl.SymbolicTensor;
    const fm = fromLayersModel(tfl.model({ inputs: input, outputs: out }), 'softmax');
    expect(fm.names).toEqual(['tied/kernel', 'tied/bias', 'cls/kernel', 'cls/bias']);
    expect(fm.folded).toBe('softmax');
    expect(fm.taps).toHaveLength(2);
  });
});
