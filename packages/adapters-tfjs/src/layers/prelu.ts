/**
 * PReLU: `f(x) = max(0, x) + α∘min(0, x)`, one `elementwise` site for α (shared over `sharedAxes`).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import { UnsupportedLayerError } from '../errors.js';
import { checkNoExtras, weightByRole } from './common.js';
import type { LayerBlock } from './types.js';

/** The PReLU block. */
export const preluBlock: LayerBlock = {
  classNames: ['PReLU'],
  compile(layer, ctx) {
    checkNoExtras(layer, ['alphaRegularizer', 'alphaConstraint']);
    const alpha = weightByRole(layer, 'alpha');
    if (!alpha) throw new UnsupportedLayerError(layer.name, layer.getClassName(), 'has no alpha weight');
    ctx.param(alpha.variable, `${layer.name}/alpha`);
    return {
      foldable: null,
      apply([x], tap) {
        const input = x as Tensor;
        const negative = tf.minimum(input, 0);
        return [tf.add(tf.relu(input), tap.site('elementwise', tf.mul(negative, alpha.variable), negative, { scale: alpha.variable }))];
      },
    };
  },
};
