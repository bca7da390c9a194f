/**
 * The MNIST models, built with a named weight initializer (a set-up choice made by Adam's validation score,
 * see tune.ts) and a seed.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

export type Task = 'classifier' | 'autoencoder';
export const TASKS: readonly Task[] = ['classifier', 'autoencoder'];
export type ModelKind = 'mlp' | 'cnn';
/** Kernel initializers compared by the tuner (biases start at zero in both). */
export type Initializer = 'glorot-uniform' | 'lecun-normal';
export const INITIALIZERS: readonly Initializer[] = ['glorot-uniform', 'lecun-normal'];

/** Human-readable architecture. */
export function describeModel(task: Task, kind: ModelKind): string {
  if (task === 'autoencoder') return '784-256-64-16-64-256-784 tanh, sigmoid out';
  return kind === 'cnn' ? 'CNN conv5x5x8-pool-conv5x5x16-pool-dense10' : 'MLP 784-256-10 relu';
}

/** A fresh model; `seed` fixes every layer's initial weights. */
export function buildModel(task: Task, kind: ModelKind, init: Initializer, seed: number): tfl.LayersModel {
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
            ...(i === 0 ? { inputShape: [784] } : {}),
          }),
        ),
        tfl.layers.dense({ units: 784, activation: 'sigmoid', kernelInitializer: kernelInitializer() }),
      ],
    });
  }
  if (kind === 'cnn') {
    return tfl.sequential({
      layers: [
        tfl.layers.reshape({ targetShape: [28, 28, 1], inputShape: [784] }),
        tfl.layers.conv2d({ filters: 8, kernelSize: 5, activation: 'relu', kernelInitializer: kernelInitializer() }),
        tfl.layers.maxPooling2d({ poolSize: 2 }),
        tfl.layers.conv2d({ filters: 16, kernelSize: 5, activation: 'relu', kernelInitializer: kernelInitializer() }),
        tfl.layers.maxPooling2d({ poolSize: 2 }),
        tfl.layers.flatten(),
        tfl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: kernelInitializer() }),
      ],
    });
  }
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 256, activation: 'relu', inputShape: [784], kernelInitializer: kernelInitializer() }),
      tfl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: kernelInitializer() }),
    ],
  });
}

/** Input and target tensors of a task: one-hot labels for the classifier, the image itself for the autoencoder. */
export function tensors(task: Task, images: Float32Array, labels: Int32Array, count: number): [tf.Tensor, tf.Tensor] {
  const x = tf.tensor2d(images, [count, 784]);
  const y =
    task === 'classifier' ? tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), 10), 'float32')) : x.clone();
  return [x, y];
}
