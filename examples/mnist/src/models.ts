/**
 * The benchmark's models, built for the data's image shape (MNIST's 28×28×1 by default) with a named weight
 * initializer (a set-up choice made by Adam's validation score, see tune.ts) and a seed.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

export type Task = 'classifier' | 'autoencoder';
export const TASKS: readonly Task[] = ['classifier', 'autoencoder'];
/**
 * The classifier's models: the MLP and small CNN, and two modelled on the FNGD paper's experiments at laptop
 * scale — a ResNet with BatchNorm and a vision transformer over 7×7 patches — which train on randomly shifted
 * digits ({@link augments}).
 */
export type ModelKind = 'mlp' | 'cnn' | 'resnet' | 'vit';
export const MODEL_KINDS: readonly ModelKind[] = ['mlp', 'cnn', 'resnet', 'vit'];

/** Whether a model's training digits are augmented (random shifts, new every epoch): the paper's two models. */
export function augments(kind: ModelKind): boolean {
  return kind === 'resnet' || kind === 'vit';
}

/**
 * A model's horizon — the tuning trials' and so the reported runs': 10 epochs, but 5 for the ResNet, whose epoch
 * costs 3–6× the transformer's on two CPU cores and which reaches the transformer's 10-epoch accuracy in 5.
 */
export function defaultEpochs(kind: ModelKind): number {
  return kind === 'resnet' ? 5 : 10;
}

/** The transformer: a 4×4 grid of patches (7×7 on MNIST, 8×8 on CIFAR), each a token with a learned position embedding. */
export const VIT = { grid: 4, tokens: 16, width: 32, heads: 2, blocks: 2, hidden: 64 } as const;

/** What a model is built for: its images' `[h, w, c]` and the number of classes. */
export interface ImageSpec {
  readonly shape: readonly [number, number, number];
  readonly classes: number;
}

/** MNIST's digits. */
export const DIGITS: ImageSpec = { shape: [28, 28, 1], classes: 10 };

function pixels(image: ImageSpec): number {
  return image.shape[0] * image.shape[1] * image.shape[2];
}

/** The transformer's patch side on `image` (square images whose side the 4×4 grid divides; else throws). */
export function patchSide(image: ImageSpec): number {
  const [h, w] = image.shape;
  if (h !== w || h % VIT.grid !== 0) throw new Error(`--model vit needs square images whose side ${VIT.grid} divides, got ${h}×${w}`);
  return h / VIT.grid;
}
/** Kernel initializers compared by the tuner (biases start at zero in both). */
export type Initializer = 'glorot-uniform' | 'lecun-normal';
export const INITIALIZERS: readonly Initializer[] = ['glorot-uniform', 'lecun-normal'];

/** Human-readable architecture. */
export function describeModel(task: Task, kind: ModelKind, image: ImageSpec = DIGITS, flips = false): string {
  const d = pixels(image);
  const k = image.classes;
  const augmented = flips ? 'shifted and mirrored images' : 'shifted images';
  if (task === 'autoencoder') return `${d}-256-64-16-64-256-${d} tanh, sigmoid out`;
  if (kind === 'resnet') return `ResNet-BN conv3x3/2×8-BN, 2 basic blocks (8, 16/2), GAP, dense${k}; ${augmented}`;
  if (kind === 'vit') {
    const p = patchSide(image);
    return `ViT ${VIT.tokens} patches ${p}×${p}, width ${VIT.width}, ${VIT.blocks} blocks × ${VIT.heads} heads, post-LN, MLP ${VIT.hidden}; ${augmented}`;
  }
  return kind === 'cnn' ? `CNN conv5x5x8-pool-conv5x5x16-pool-dense${k}` : `MLP ${d}-256-${k} relu`;
}

/** A fresh model for `image` (default MNIST's digits); `seed` fixes every layer's initial weights. */
export function buildModel(task: Task, kind: ModelKind, init: Initializer, seed: number, image: ImageSpec = DIGITS): tfl.LayersModel {
  const d = pixels(image);
  const k = image.classes;
  let s = seed;
  const kernelInitializer = (): ReturnType<typeof tfl.initializers.glorotUniform> =>
    init === 'lecun-normal'
      ? tfl.initializers.leCunNormal({ seed: s++ })
      : tfl.initializers.glorotUniform({ seed: s++ });
  if (task === 'autoencoder') {
    const sizes = [256, 64, 16, 64, 256];
    return tfl.sequential({
      layers: [
        ...sizes.map((u, i) =>
          tfl.layers.dense({
            units: u,
            activation: 'tanh',
            kernelInitializer: kernelInitializer(),
            ...(i === 0 ? { inputShape: [d] } : {}),
          }),
        ),
        tfl.layers.dense({ units: d, activation: 'sigmoid', kernelInitializer: kernelInitializer() }),
      ],
    });
  }
  if (kind === 'resnet') return resnet(kernelInitializer, image);
  if (kind === 'vit') return vit(kernelInitializer, image);
  if (kind === 'cnn') {
    return tfl.sequential({
      layers: [
        tfl.layers.reshape({ targetShape: [...image.shape], inputShape: [d] }),
        tfl.layers.conv2d({ filters: 8, kernelSize: 5, activation: 'relu', kernelInitializer: kernelInitializer() }),
        tfl.layers.maxPooling2d({ poolSize: 2 }),
        tfl.layers.conv2d({ filters: 16, kernelSize: 5, activation: 'relu', kernelInitializer: kernelInitializer() }),
        tfl.layers.maxPooling2d({ poolSize: 2 }),
        tfl.layers.flatten(),
        tfl.layers.dense({ units: k, activation: 'softmax', kernelInitializer: kernelInitializer() }),
      ],
    });
  }
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 256, activation: 'relu', inputShape: [d], kernelInitializer: kernelInitializer() }),
      tfl.layers.dense({ units: k, activation: 'softmax', kernelInitializer: kernelInitializer() }),
    ],
  });
}

type S = tfl.SymbolicTensor;
type Init = () => ReturnType<typeof tfl.initializers.glorotUniform>;

/**
 * A ResNet with BatchNorm at digit scale (the paper's ResNet-18, shrunk to what two CPU cores train in minutes):
 * a strided 3×3 stem to 14×14×8, a basic block at 8 channels, a strided basic block to 7×7×16 with a 1×1
 * projection shortcut, global average pooling and a softmax layer. Convolutions carry no bias (BatchNorm's β is
 * the shift), as in torchvision's ResNets.
 */
function resnet(init: Init, image: ImageSpec): tfl.LayersModel {
  const x0 = tfl.input({ shape: [pixels(image)] });
  const img = tfl.layers.reshape({ targetShape: [...image.shape] }).apply(x0) as S;
  const conv = (x: S, filters: number, kernelSize: number, strides: number): S =>
    tfl.layers.conv2d({ filters, kernelSize, strides, padding: 'same', useBias: false, kernelInitializer: init() }).apply(x) as S;
  // PyTorch's running-statistics momentum (0.1; Keras's 0.99 lags far behind in a run of a few hundred steps)
  const bn = (x: S): S => tfl.layers.batchNormalization({ momentum: 0.9 }).apply(x) as S;
  const relu = (x: S): S => tfl.layers.activation({ activation: 'relu' }).apply(x) as S;
  const block = (x: S, filters: number, strides: number): S => {
    const y = bn(conv(relu(bn(conv(x, filters, 3, strides))), filters, 3, 1));
    const shortcut = strides === 1 && filters === x.shape[3] ? x : bn(conv(x, filters, 1, strides));
    return relu(tfl.layers.add().apply([y, shortcut]) as S);
  };
  let h = relu(bn(conv(img, 8, 3, 2)));
  h = block(h, 8, 1);
  h = block(h, 16, 2);
  const pooled = tfl.layers.globalAveragePooling2d({}).apply(h) as S;
  const out = tfl.layers.dense({ units: image.classes, activation: 'softmax', kernelInitializer: init() }).apply(pooled) as S;
  return tfl.model({ inputs: x0, outputs: out });
}

/**
 * A vision transformer at digit scale (the paper's transformer, as a ViT). Its input is the image cut into 16
 * patches of 7×7, each with its position's one-hot appended ({@link modelInputs}), so that one Dense layer is the
 * linear patch embedding plus a learned position embedding (its rows for the one-hot). Then {@link VIT}.blocks
 * post-LN encoder blocks of {@link VIT}.heads-head self-attention and a ReLU MLP, mean pooling and a softmax
 * layer. Attention is built from Dense, Dot and Softmax layers; the scores' 1/√d scale is folded into the query
 * projections' initial weights.
 */
function vit(init: Init, image: ImageSpec): tfl.LayersModel {
  const { tokens, width, heads, blocks, hidden } = VIT;
  const patch = patchSide(image);
  const x0 = tfl.input({ shape: [tokens, patch * patch * image.shape[2] + tokens] });
  let h = tfl.layers.dense({ units: width, kernelInitializer: init() }).apply(x0) as S;
  const dh = width / heads;
  const queries: tfl.layers.Layer[] = [];
  for (let b = 0; b < blocks; b++) {
    const contexts: S[] = [];
    for (let k = 0; k < heads; k++) {
      const query = tfl.layers.dense({ units: dh, kernelInitializer: init() });
      queries.push(query);
      const q = query.apply(h) as S;
      const kk = tfl.layers.dense({ units: dh, kernelInitializer: init() }).apply(h) as S;
      const v = tfl.layers.dense({ units: dh, kernelInitializer: init() }).apply(h) as S;
      const scores = tfl.layers.dot({ axes: [2, 2] }).apply([q, kk]) as S;
      const attn = tfl.layers.softmax({ axis: -1 }).apply(scores) as S;
      contexts.push(tfl.layers.dot({ axes: [2, 1] }).apply([attn, v]) as S);
    }
    const joined = contexts.length === 1 ? contexts[0]! : (tfl.layers.concatenate({ axis: -1 }).apply(contexts) as S);
    const proj = tfl.layers.dense({ units: width, kernelInitializer: init() }).apply(joined) as S;
    h = tfl.layers.layerNormalization({}).apply(tfl.layers.add().apply([h, proj]) as S) as S;
    const ff = tfl.layers.dense({ units: hidden, activation: 'relu', kernelInitializer: init() }).apply(h) as S;
    const ff2 = tfl.layers.dense({ units: width, kernelInitializer: init() }).apply(ff) as S;
    h = tfl.layers.layerNormalization({}).apply(tfl.layers.add().apply([h, ff2]) as S) as S;
  }
  const pooled = tfl.layers.globalAveragePooling1d({}).apply(h) as S;
  const out = tfl.layers.dense({ units: image.classes, activation: 'softmax', kernelInitializer: init() }).apply(pooled) as S;
  const model = tfl.model({ inputs: x0, outputs: out });
  for (const q of queries) {
    // getWeights hands out the variables' own values: only the scaled copy is this code's to free
    const [kernel, bias] = q.getWeights() as [tf.Tensor, tf.Tensor];
    const scaled = tf.mul(kernel, 1 / Math.sqrt(dh));
    q.setWeights([scaled, bias]);
    scaled.dispose();
  }
  return model;
}

/**
 * A model's inputs for images `x` `[N, h·w·c]`: the images, or for the transformer its tokens `[N, 16, p²c + 16]`
 * — each p×p patch (row-major over the 4×4 grid, its pixels row-major, channels last) followed by its position's
 * one-hot.
 */
export function modelInputs(kind: ModelKind, x: tf.Tensor, image: ImageSpec = DIGITS): tf.Tensor {
  if (kind !== 'vit') return x;
  const { grid, tokens } = VIT;
  const p = patchSide(image);
  const c = image.shape[2];
  const n = x.shape[0] as number;
  return tf.tidy(() => {
    const cut = tf.transpose(tf.reshape(x, [n, grid, p, grid, p, c]), [0, 1, 3, 2, 4, 5]);
    const patches = tf.reshape(cut, [n, tokens, p * p * c]);
    const positions = tf.tile(tf.expandDims(tf.eye(tokens), 0), [n, 1, 1]);
    return tf.concat([patches, positions], 2);
  });
}

/** Input and target tensors of a task: one-hot labels for the classifier, the image itself for the autoencoder. */
export function tensors(task: Task, images: Float32Array, labels: Int32Array, count: number, image: ImageSpec = DIGITS): [tf.Tensor, tf.Tensor] {
  const x = tf.tensor2d(images, [count, pixels(image)]);
  const y =
    task === 'classifier' ? tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), image.classes), 'float32')) : x.clone();
  return [x, y];
}
