/**
 * Layers without weights: applied as tfjs applies them (gradients flow through their own kernels). Each acts on
 * every sample separately, so per-sample factors stay exact; random ones (dropout, noise) draw their own masks.
 * @module
 */
import type { Tensor } from '@tensorflow/tfjs-core';
import { UnsupportedLayerError } from '../errors.js';
import type { FoldActivation } from '../model.js';
import type { LayerBlock } from './types.js';

/** Weight-free layers acting on each sample alone. */
export const WEIGHTLESS_LAYERS = [
  'Activation', 'ReLU', 'Softmax', 'LeakyReLU', 'ELU', 'ThresholdedReLU',
  'Dropout', 'SpatialDropout1D', 'AlphaDropout', 'GaussianNoise', 'GaussianDropout',
  'Flatten', 'Reshape', 'Permute', 'RepeatVector',
  'MaxPooling1D', 'MaxPooling2D', 'MaxPooling3D', 'AveragePooling1D', 'AveragePooling2D', 'AveragePooling3D',
  'GlobalAveragePooling1D', 'GlobalAveragePooling2D', 'GlobalMaxPooling1D', 'GlobalMaxPooling2D',
  'ZeroPadding2D', 'Cropping2D',
  'Add', 'Subtract', 'Multiply', 'Average', 'Maximum', 'Minimum', 'Concatenate', 'Dot',
] as const;

/** The weight-free layers whose training-mode forward draws random numbers (masks, noise). */
export const RANDOM_LAYERS: readonly string[] = ['Dropout', 'SpatialDropout1D', 'AlphaDropout', 'GaussianNoise', 'GaussianDropout'];

/** The weight-free block. */
export const weightlessBlock: LayerBlock = {
  classNames: WEIGHTLESS_LAYERS,
  compile(layer) {
    if (layer.weights.length > 0) throw new UnsupportedLayerError(layer.name, layer.getClassName(), 'has weights');
    const cls = layer.getClassName();
    const cfg = layer.getConfig();
    const act = cls === 'Activation' ? String(cfg['activation']) : cls === 'Softmax' ? 'softmax' : null;
    const foldable: FoldActivation = act === 'softmax' || act === 'sigmoid' ? act : null;
    if (cls === 'Softmax' && cfg['axis'] !== undefined && cfg['axis'] !== -1) {
      // a softmax over another axis is no cross-entropy's logits: never fold it
      return { foldable: null, apply: (xs, _tap, training) => [layer.apply(xs.length === 1 ? (xs[0] as Tensor) : [...xs], { training }) as Tensor] };
    }
    return {
      foldable,
      apply(xs, _tap, training, fold) {
        if (fold) return [xs[0] as Tensor];
        return [layer.apply(xs.length === 1 ? (xs[0] as Tensor) : [...xs], { training }) as Tensor];
      },
    };
  },
};
