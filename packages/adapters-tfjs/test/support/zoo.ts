/**
 * Small seeded models of every architecture kind the compiler supports, for exactness and training tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';

const g = (seed: number) => tfl.initializers.glorotUniform({ seed });
const bias = (seed: number) => tfl.initializers.randomNormal({ seed, stddev: 0.1 });
type S = tfl.SymbolicTensor;

/** Residual + concatenate + a layer applied twice (shared weights) + a nested Sequential. */
export function residualDag(seed = 1): LayersModel {
  const input = tfl.input({ shape: [5] });
  const d1 = tfl.layers.dense({ units: 6, activation: 'tanh', name: 'd1', kernelInitializer: g(seed), biasInitializer: bias(seed + 1) }).apply(input) as S;
  const d2 = tfl.layers.dense({ units: 6, name: 'd2', kernelInitializer: g(seed + 2), biasInitializer: bias(seed + 3) }).apply(d1) as S;
  const res = tfl.layers.add().apply([d1, d2]) as S;
  const shared = tfl.layers.dense({ units: 6, activation: 'tanh', name: 'shared', kernelInitializer: g(seed + 4), biasInitializer: bias(seed + 5) });
  const twice = shared.apply(shared.apply(res) as S) as S;
  const cat = tfl.layers.concatenate().apply([res, twice]) as S;
  const inner = tfl.sequential({ name: 'inner', layers: [tfl.layers.dense({ units: 4, inputShape: [12], activation: 'relu', name: 'inner_d', kernelInitializer: g(seed + 6), biasInitializer: bias(seed + 7) })] });
  const mid = inner.apply(cat) as S;
  const mul = tfl.layers.multiply().apply([mid, tfl.layers.dense({ units: 4, name: 'gate', activation: 'sigmoid', kernelInitializer: g(seed + 8) }).apply(cat) as S]) as S;
  const out = tfl.layers.dense({ units: 3, name: 'head', kernelInitializer: g(seed + 9), biasInitializer: bias(seed + 10) }).apply(mul) as S;
  return tfl.model({ inputs: input, outputs: out });
}

/** Token ids → Embedding → Conv1D → LayerNorm → Dense on the sequence → Conv1D (same, stride 2) → GAP1D → Dense. */
export function sequenceNet(vocab = 11, len = 7, seed = 1): LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.embedding({ inputDim: vocab, outputDim: 4, inputLength: len, name: 'emb', embeddingsInitializer: tfl.initializers.randomNormal({ seed, stddev: 0.5 }) }),
      tfl.layers.conv1d({ filters: 3, kernelSize: 2, padding: 'valid', activation: 'relu', name: 'c1', kernelInitializer: g(seed + 1), biasInitializer: bias(seed + 2) }),
      tfl.layers.layerNormalization({ name: 'ln', gammaInitializer: tfl.initializers.randomNormal({ seed: seed + 3, mean: 1, stddev: 0.2 }), betaInitializer: bias(seed + 4) }),
      tfl.layers.dense({ units: 5, activation: 'tanh', name: 'seq_dense', kernelInitializer: g(seed + 5), biasInitializer: bias(seed + 6) }),
      tfl.layers.conv1d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', name: 'c2', kernelInitializer: g(seed + 7), biasInitializer: bias(seed + 8) }),
      tfl.layers.globalAveragePooling1d(),
      tfl.layers.dense({ units: 3, name: 'out', kernelInitializer: g(seed + 9), biasInitializer: bias(seed + 10) }),
    ],
  });
}

/** Weight-free layers users put in CNNs: zero padding, upsampling, cropping, global max pooling, permute. */
export function paddedCnn(seed = 1): LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.zeroPadding2d({ inputShape: [5, 5, 2], padding: 1 }),
      tfl.layers.conv2d({ filters: 3, kernelSize: 3, activation: 'relu', name: 'k1', kernelInitializer: g(seed), biasInitializer: bias(seed + 1) }),
      tfl.layers.upSampling2d({ size: [2, 2] }),
      tfl.layers.cropping2D({ cropping: [[1, 2], [2, 1]] }),
      tfl.layers.conv2d({ filters: 2, kernelSize: 2, strides: 2, name: 'k2', kernelInitializer: g(seed + 2), biasInitializer: bias(seed + 3) }),
      tfl.layers.permute({ dims: [2, 1, 3] }),
      tfl.layers.globalMaxPooling2d({}),
      tfl.layers.dense({ units: 3, name: 'o', kernelInitializer: g(seed + 4), biasInitializer: bias(seed + 5) }),
    ],
  });
}

/** Dense → BatchNorm → relu → Dense (the BatchNorm MLP). */
export function bnMlp(din = 5, hidden = 4, classes = 3, seed = 1): LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ units: hidden, inputShape: [din], name: 'h', kernelInitializer: g(seed), biasInitializer: bias(seed + 1) }),
      tfl.layers.batchNormalization({ name: 'bn', gammaInitializer: tfl.initializers.randomNormal({ seed: seed + 2, mean: 1, stddev: 0.2 }), betaInitializer: bias(seed + 3) }),
      tfl.layers.activation({ activation: 'relu' }),
      tfl.layers.dense({ units: classes, name: 'o', kernelInitializer: g(seed + 4), biasInitializer: bias(seed + 5) }),
    ],
  });
}

/** A small ResNet-style CNN: conv → BN → relu, a residual block with BN, GAP, dense. */
export function bnResnet(seed = 1): LayersModel {
  const input = tfl.input({ shape: [6, 6, 2] });
  const c0 = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false, name: 'c0', kernelInitializer: g(seed) }).apply(input) as S;
  const b0 = tfl.layers.activation({ activation: 'relu' }).apply(tfl.layers.batchNormalization({ name: 'bn0' }).apply(c0) as S) as S;
  const c1 = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false, name: 'c1', kernelInitializer: g(seed + 1) }).apply(b0) as S;
  const b1 = tfl.layers.batchNormalization({ name: 'bn1' }).apply(c1) as S;
  const sum = tfl.layers.activation({ activation: 'relu' }).apply(tfl.layers.add().apply([b0, b1]) as S) as S;
  const pooled = tfl.layers.globalAveragePooling2d({}).apply(sum) as S;
  const out = tfl.layers.dense({ units: 3, name: 'fc', kernelInitializer: g(seed + 2), biasInitializer: bias(seed + 3) }).apply(pooled) as S;
  return tfl.model({ inputs: input, outputs: out });
}

/** Transfer learning: a frozen base model (trainable false) and a trainable head in one model. */
export function frozenBase(seed = 1): { model: LayersModel; base: LayersModel } {
  const base = tfl.sequential({
    name: 'base',
    layers: [
      tfl.layers.dense({ units: 6, inputShape: [5], activation: 'relu', name: 'base_d', kernelInitializer: g(seed) }),
      tfl.layers.batchNormalization({ name: 'base_bn' }),
    ],
  });
  base.trainable = false;
  const model = tfl.sequential({ layers: [base, tfl.layers.dense({ units: 3, name: 'head', kernelInitializer: g(seed + 1) })] });
  return { model, base };
}

/** Integer token ids `[n, len]` (float32 values, as tfjs's Embedding accepts) and one-hot targets. */
export function tokenData(n: number, len: number, vocab: number, classes: number, seed = 3): [Tensor, Tensor] {
  let s = seed;
  const rnd = (): number => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  const ids = Array.from({ length: n * len }, () => Math.floor(rnd() * vocab));
  const labels = Array.from({ length: n }, (_, i) => (i * 5 + 1) % classes);
  return [tf.tensor2d(ids, [n, len]), tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), classes), 'float32')];
}

/** Token ids → Embedding → LSTM (last output) → Dense: the text classifier. */
export function lstmText(vocab = 13, len = 6, seed = 1): LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.embedding({ inputDim: vocab, outputDim: 4, inputLength: len, name: 'lemb', embeddingsInitializer: tfl.initializers.randomNormal({ seed, stddev: 0.5 }) }),
      tfl.layers.lstm({ units: 5, name: 'lstm', kernelInitializer: g(seed + 1), recurrentInitializer: g(seed + 2), biasInitializer: bias(seed + 3) }),
      tfl.layers.dense({ units: 3, name: 'lout', kernelInitializer: g(seed + 4) }),
    ],
  });
}

/** A sequence of vectors → GRU (all outputs, backwards) → SimpleRNN (last output) → Dense. */
export function gruRnn(len = 5, din = 3, seed = 1): LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.gru({ units: 4, inputShape: [len, din], returnSequences: true, goBackwards: true, name: 'gru', kernelInitializer: g(seed), recurrentInitializer: g(seed + 1), biasInitializer: bias(seed + 2) }),
      tfl.layers.simpleRNN({ units: 3, name: 'srnn', kernelInitializer: g(seed + 3), recurrentInitializer: g(seed + 4), biasInitializer: bias(seed + 5) }),
      tfl.layers.dense({ units: 3, name: 'gout', kernelInitializer: g(seed + 6) }),
    ],
  });
}

/** A MobileNet-style block: conv → DepthwiseConv2D (multiplier 2) → PReLU → SeparableConv2D → GAP → Dense. */
export function mobileBlock(seed = 1): LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [7, 7, 2], filters: 3, kernelSize: 1, name: 'expand', kernelInitializer: g(seed), biasInitializer: bias(seed + 1) }),
      tfl.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', name: 'dw', depthwiseInitializer: g(seed + 2), biasInitializer: bias(seed + 3) }),
      tfl.layers.prelu({ name: 'prelu', sharedAxes: [1, 2], alphaInitializer: tfl.initializers.constant({ value: 0.25 }) }),
      tfl.layers.separableConv2d({ filters: 4, kernelSize: 2, name: 'sep', activation: 'relu', depthwiseInitializer: g(seed + 4), pointwiseInitializer: g(seed + 5), biasInitializer: bias(seed + 6) }),
      tfl.layers.globalAveragePooling2d({}),
      tfl.layers.dense({ units: 3, name: 'mout', kernelInitializer: g(seed + 7) }),
    ],
  });
}

/**
 * A tiny transformer encoder block from tfjs layers: token + learned position embeddings, single-head
 * self-attention built with Dense and Dot layers (scores `QKᵀ/√d`, softmax over keys), residual adds,
 * LayerNorms, a position-wise feed-forward network, mean pooling, a classifier.
 */
export function tinyTransformer(vocab = 17, len = 6, d = 8, seed = 1): LayersModel {
  const ids = tfl.input({ shape: [len] });
  const tok = tfl.layers.embedding({ inputDim: vocab, outputDim: d, name: 'tok', embeddingsInitializer: tfl.initializers.randomNormal({ seed, stddev: 0.5 }) }).apply(ids) as S;
  const q = tfl.layers.dense({ units: d, name: 'q', kernelInitializer: g(seed + 1), biasInitializer: bias(seed + 2) }).apply(tok) as S;
  const k = tfl.layers.dense({ units: d, name: 'k', kernelInitializer: g(seed + 3), biasInitializer: bias(seed + 4) }).apply(tok) as S;
  const v = tfl.layers.dense({ units: d, name: 'v', kernelInitializer: g(seed + 5), biasInitializer: bias(seed + 6) }).apply(tok) as S;
  const scores = tfl.layers.dot({ axes: [2, 2], name: 'scores' }).apply([q, k]) as S;
  const scaled = tfl.layers.activation({ activation: 'linear' }).apply(scores) as S;
  const attn = tfl.layers.softmax({ axis: -1, name: 'attn' }).apply(scaled) as S;
  const ctx = tfl.layers.dot({ axes: [2, 1], name: 'ctx' }).apply([attn, v]) as S;
  const proj = tfl.layers.dense({ units: d, name: 'proj', kernelInitializer: g(seed + 7) }).apply(ctx) as S;
  const h1 = tfl.layers.layerNormalization({ name: 'ln1' }).apply(tfl.layers.add().apply([tok, proj]) as S) as S;
  const ff = tfl.layers.dense({ units: 2 * d, activation: 'relu', name: 'ff1', kernelInitializer: g(seed + 8), biasInitializer: bias(seed + 9) }).apply(h1) as S;
  const ff2 = tfl.layers.dense({ units: d, name: 'ff2', kernelInitializer: g(seed + 10) }).apply(ff) as S;
  const h2 = tfl.layers.layerNormalization({ name: 'ln2' }).apply(tfl.layers.add().apply([h1, ff2]) as S) as S;
  const pooled = tfl.layers.globalAveragePooling1d({}).apply(h2) as S;
  const out = tfl.layers.dense({ units: 3, name: 'cls', kernelInitializer: g(seed + 11) }).apply(pooled) as S;
  return tfl.model({ inputs: ids, outputs: out });
}

/** A decoder: Conv2D (strided) → Conv2DTranspose (same, stride 2) → Conv2DTranspose (valid, no bias) → GAP → Dense. */
export function deconvNet(seed = 1): LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'enc', kernelInitializer: g(seed), biasInitializer: bias(seed + 1) }),
      tfl.layers.conv2dTranspose({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'tanh', name: 'up1', kernelInitializer: g(seed + 2), biasInitializer: bias(seed + 3) }),
      tfl.layers.conv2dTranspose({ filters: 2, kernelSize: 2, strides: 1, padding: 'valid', useBias: false, name: 'up2', kernelInitializer: g(seed + 4) }),
      tfl.layers.globalAveragePooling2d({}),
      tfl.layers.dense({ units: 3, name: 'dout', kernelInitializer: g(seed + 5) }),
    ],
  });
}

/**
 * Two inputs and two outputs: dense features `[5]` and int32 token ids `[len]` (Embedding, mean over positions),
 * concatenated into a shared trunk with a softmax class head `cls` `[3]` and a linear regression head `reg` `[2]`.
 */
export function twoTower(vocab = 13, len = 6, seed = 1): LayersModel {
  const feats = tfl.input({ shape: [5], name: 'features' });
  const ids = tfl.input({ shape: [len], name: 'tokens', dtype: 'int32' });
  const e = tfl.layers.embedding({ inputDim: vocab, outputDim: 4, name: 'tok', embeddingsInitializer: tfl.initializers.randomNormal({ seed, stddev: 0.5 }) }).apply(ids) as S;
  const pooled = tfl.layers.globalAveragePooling1d({}).apply(e) as S;
  const h = tfl.layers.dense({ units: 6, activation: 'relu', name: 'feat', kernelInitializer: g(seed + 1), biasInitializer: bias(seed + 2) }).apply(feats) as S;
  const trunk = tfl.layers.dense({ units: 8, activation: 'tanh', name: 'trunk', kernelInitializer: g(seed + 3) }).apply(tfl.layers.concatenate().apply([h, pooled]) as S) as S;
  const cls = tfl.layers.dense({ units: 3, activation: 'softmax', name: 'cls', kernelInitializer: g(seed + 4) }).apply(trunk) as S;
  const reg = tfl.layers.dense({ units: 2, name: 'reg', kernelInitializer: g(seed + 5) }).apply(trunk) as S;
  return tfl.model({ inputs: [feats, ids], outputs: [cls, reg] });
}

/** Data for {@link twoTower}: `[features, tokens]`, `[class indices (int32), regression targets]`. */
export function twoTowerData(n: number, vocab = 13, len = 6, seed = 5): [[Tensor, Tensor], [Tensor, Tensor]] {
  const [ids] = tokenData(n, len, vocab, 3, seed);
  const tokens = tf.cast(ids as Tensor, 'int32');
  (ids as Tensor).dispose();
  const feats = tf.randomNormal([n, 5], 0, 1, 'float32', seed);
  const labels = tf.tensor1d(Array.from({ length: n }, (_, i) => (i * 7 + seed) % 3), 'int32');
  const reg = tf.randomNormal([n, 2], 0, 1, 'float32', seed + 1);
  return [
    [feats, tokens],
    [labels, reg],
  ];
}
