/**
 * Every refusal of the graph compiler, the layer blocks and the capture: a typed error naming the layer (or the
 * variable) and what to do, thrown before anything changes; and the configurations next to them that must train.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdapterArgumentError, FngdTrainer, fromLayersModel, softmaxCrossEntropy, UnsupportedLayerError, UnsupportedModelError, type FunctionModel } from '../src/index.js';
import { capture } from '../src/internal.js';
import { classData, useCpu } from './helpers.js';
import { tokenData } from './support/zoo.js';

beforeAll(useCpu);

type S = tfl.SymbolicTensor;
const seq = (layers: tfl.layers.Layer[]): LayersModel => tfl.sequential({ layers });

/** Refused by `FngdTrainer.create` with `UnsupportedLayerError` naming `layer`, the message matching `why`; weights unchanged. */
async function refused(model: LayersModel, layer: string, why: RegExp, options: Parameters<typeof FngdTrainer.create>[1] = { loss: 'softmax-cross-entropy' }): Promise<void> {
  const before = model.getWeights().map((t) => Array.from(t.dataSync()));
  const err = await FngdTrainer.create(model, options).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(UnsupportedLayerError);
  expect((err as UnsupportedLayerError).layerName).toBe(layer);
  expect((err as Error).message).toMatch(why);
  expect(model.getWeights().map((t) => Array.from(t.dataSync()))).toEqual(before);
}

describe('layer blocks refuse what they cannot train, naming what to do', () => {
  it('dilated convolutions (tfjs has no gradient for them)', async () => {
    await refused(seq([tfl.layers.conv2d({ inputShape: [6, 6, 1], filters: 2, kernelSize: 2, dilationRate: 2, name: 'dil' }), tfl.layers.flatten(), tfl.layers.dense({ units: 3 })]), 'dil', /dilationRate > 1.*use dilationRate 1 or freeze/);
    await refused(seq([tfl.layers.conv1d({ inputShape: [8, 2], filters: 2, kernelSize: 2, dilationRate: 2, name: 'dil1' }), tfl.layers.flatten(), tfl.layers.dense({ units: 3 })]), 'dil1', /dilationRate > 1/);
    await refused(seq([tfl.layers.depthwiseConv2d({ inputShape: [6, 6, 2], kernelSize: 2, dilationRate: 2, name: 'dw' }), tfl.layers.flatten(), tfl.layers.dense({ units: 3 })]), 'dw', /dilationRate > 1/);
  });

  it('channels-first convolutions', async () => {
    const m = seq([tfl.layers.conv2d({ inputShape: [2, 6, 6], filters: 2, kernelSize: 2, dataFormat: 'channelsFirst', name: 'cf' }), tfl.layers.flatten(), tfl.layers.dense({ units: 3 })]);
    await refused(m, 'cf', /dataFormat 'channelsFirst': only channelsLast/);
  });

  it('normalization over an axis other than the last', async () => {
    await refused(seq([tfl.layers.batchNormalization({ inputShape: [4, 3], axis: 1, name: 'bn1' }), tfl.layers.flatten(), tfl.layers.dense({ units: 3 })]), 'bn1', /only the last axis.*move the normalized axis last/);
  });

  it('a BatchNormalization applied at two places', async () => {
    const x = tfl.input({ shape: [4] });
    const bn = tfl.layers.batchNormalization({ name: 'twice' });
    const out = tfl.layers.dense({ units: 3 }).apply(bn.apply(tfl.layers.dense({ units: 4 }).apply(bn.apply(x) as S) as S) as S) as S;
    await refused(tfl.model({ inputs: x, outputs: out }), 'twice', /applied at 2 places.*one BatchNormalization layer per place/);
  });

  it('Embedding maskZero; recurrent stateful, returnState, dropout', async () => {
    await refused(seq([tfl.layers.embedding({ inputDim: 5, outputDim: 2, inputLength: 3, maskZero: true, name: 'mz' }), tfl.layers.flatten(), tfl.layers.dense({ units: 3 })]), 'mz', /maskZero.*maskZero: false/);
    await refused(seq([tfl.layers.simpleRNN({ units: 2, batchInputShape: [4, 3, 2], stateful: true, name: 'st', recurrentInitializer: 'glorotUniform' }), tfl.layers.dense({ units: 3 })]), 'st', /stateful.*stateful: false/);
    await refused(seq([tfl.layers.lstm({ units: 2, inputShape: [3, 2], dropout: 0.2, name: 'do', recurrentInitializer: 'glorotUniform' }), tfl.layers.dense({ units: 3 })]), 'do', /dropout 0.2.*Dropout layer/);
    await refused(seq([tfl.layers.gru({ units: 2, inputShape: [3, 2], recurrentDropout: 0.1, name: 'rd', recurrentInitializer: 'glorotUniform' }), tfl.layers.dense({ units: 3 })]), 'rd', /recurrentDropout/);
    const x = tfl.input({ shape: [3, 2] });
    const [h] = tfl.layers.lstm({ units: 2, returnState: true, name: 'rs', recurrentInitializer: 'glorotUniform' }).apply(x) as S[];
    await refused(tfl.model({ inputs: x, outputs: tfl.layers.dense({ units: 3 }).apply(h as S) as S }), 'rs', /returnState/);
  });

  it('a layer without a block in a BatchNorm model is refused under FNGD, trains with perSample: exact or under KFAC (its diagonal block from whole-batch passes)', async () => {
    // a weighted layer no block covers
    class Opaque extends tfl.layers.Layer {
      static className = 'Opaque';
      w: tfl.LayerVariable | null = null;
      override build(): void {
        this.w = this.addWeight('w', [4], 'float32', tfl.initializers.ones());
        this.built = true;
      }
      override call(inputs: Tensor | Tensor[]): Tensor {
        return tf.mul(Array.isArray(inputs) ? (inputs[0] as Tensor) : inputs, (this.w as tfl.LayerVariable).read());
      }
    }
    const model = (): LayersModel => seq([tfl.layers.dense({ units: 4, inputShape: [5] }), tfl.layers.batchNormalization(), new Opaque({ name: 'opaque' }), tfl.layers.dense({ units: 3 })]);
    await refused(model(), 'opaque', /couples the samples.*perSample: 'exact'/);
    const [x, y] = classData(8, [5], 3, 1);
    for (const options of [{ perSample: 'exact' as const }, { kfac: {} }, { kfac: { nonKronecker: 'diagonal' as const } }]) {
      const tr = await FngdTrainer.create(model(), { loss: 'softmax-cross-entropy', ...options });
      expect(Number.isFinite((await tr.trainBatch(x, y, { batchKey: 0, epoch: 0 })).loss)).toBe(true);
      tr.dispose();
    }
    tf.dispose([x, y]);
  });

  it('a model with no trainable weights, and a final softmax the loss cannot take over', async () => {
    const frozen = seq([tfl.layers.dense({ units: 3, inputShape: [4] })]);
    frozen.trainable = false;
    await expect(FngdTrainer.create(frozen, { loss: 'mse' })).rejects.toThrow(/no trainable weights/);
    const head = tfl.layers.dense({ units: 3, activation: 'softmax', name: 'head', trainable: false });
    const m = seq([tfl.layers.dense({ units: 4, inputShape: [4] }), head]);
    await expect(FngdTrainer.create(m, { loss: 'softmax-cross-entropy' })).rejects.toThrow(UnsupportedModelError);
    await expect(FngdTrainer.create(m, { loss: 'softmax-cross-entropy' })).rejects.toThrow(/ends in a softmax .*would read probabilities as logits/);
    // with a loss that takes probabilities the same model trains
    const tr = await FngdTrainer.create(m, { loss: 'mse' });
    tr.dispose();
  });
});

describe('BatchNormalization without γ and β', () => {
  it('is not mistaken for a frozen layer: it normalizes with batch statistics in training and updates its moving statistics', async () => {
    const model = seq([tfl.layers.dense({ units: 4, inputShape: [5] }), tfl.layers.batchNormalization({ center: false, scale: false, name: 'plain' }), tfl.layers.dense({ units: 3 })]);
    const fm = fromLayersModel(model);
    expect(fm.couplesSamples).toBe(true);
    const [x, y] = classData(8, [5], 3, 1);
    const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy' });
    const m0 = Array.from(model.getLayer('plain').getWeights()[0]!.dataSync());
    await tr.trainBatch(x, y, { batchKey: 0, epoch: 0 });
    expect(Array.from(model.getLayer('plain').getWeights()[0]!.dataSync())).not.toEqual(m0);
    tr.dispose();
    tf.dispose([x, y]);
  });
});

describe('the capture refuses taps it cannot group', () => {
  it('a variable at sites of two kinds (or with other partners) is a typed error naming it', () => {
    const e = tf.variable(tf.randomNormal([6, 3], 0, 0.3, 'float32', 1), true, 'table');
    const fm: FunctionModel = {
      variables: [e],
      forward: (x, tap) => {
        const ids = tf.cast(x, 'int32');
        const z = tap.site('embedding', tf.gather(e, tf.reshape(ids, [-1])), ids, { embeddings: e });
        return tap.dense(tf.matMul(z as tf.Tensor2D, e, false, true), z, { kernel: e }); // tied output projection
      },
    };
    const [x] = tokenData(4, 1, 6, 2);
    const ids = tf.reshape(x, [4]);
    expect(() => capture(fm, softmaxCrossEntropy, ids, tf.zeros([4, 6]))).toThrow(AdapterArgumentError);
    expect(() => capture(fm, softmaxCrossEntropy, ids, tf.zeros([4, 6]))).toThrow(/variable 'table' is tapped at sites of different kinds/);
    tf.dispose([x, ids, e]);
  });

  it('a site that changes the batch dimension', () => {
    const w = tf.variable(tf.ones([3, 2]));
    const fm: FunctionModel = { variables: [w], forward: (x, tap) => tap.dense(tf.matMul(tf.slice(x, [0], [2]) as tf.Tensor2D, w), tf.slice(x, [0], [2]), { kernel: w }) };
    const [x] = classData(4, [3], 2);
    expect(() => capture(fm, (o) => tf.sum(o, 1), x, tf.zeros([2, 2]))).toThrow(/a 'dense' site changed the batch dimension/);
    tf.dispose([x, w]);
  });

  it('KFAC: a forward that taps other dense layers than the trainer was created with', async () => {
    const w1 = tf.variable(tf.randomNormal([3, 4], 0, 0.3, 'float32', 2));
    const w2 = tf.variable(tf.randomNormal([4, 2], 0, 0.3, 'float32', 3));
    const fm: FunctionModel = {
      variables: [w1, w2],
      taps: [{ kernel: w1 }],
      forward: (x, tap) => {
        const h = tf.tanh(tap.dense(tf.matMul(x as tf.Tensor2D, w1), x, { kernel: w1 }));
        return tap.dense(tf.matMul(h as tf.Tensor2D, w2), h, { kernel: w2 });
      },
    };
    const tr = await FngdTrainer.create(fm, { loss: 'softmax-cross-entropy', kfac: {} });
    const [x, y] = classData(6, [3], 2, 4);
    const before = [Array.from(w1.dataSync()), Array.from(w2.dataSync())];
    await expect(tr.trainBatch(x, y, { batchKey: 0, epoch: 0 })).rejects.toThrow(/tapped 2 dense\/conv layers, not the 1/);
    expect([Array.from(w1.dataSync()), Array.from(w2.dataSync())]).toEqual(before);
    tr.dispose();
    tf.dispose([x, y, w1, w2]);
  });
});
