/**
 * Embedding: a row lookup, one `embedding` site (exact sparse per-sample gradients, no one-hot matrix).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { UnsupportedLayerError } from '../errors.js';
import { checkNoExtras, weightByRole } from './common.js';
import type { LayerBlock } from './types.js';

/** The Embedding block. */
export const embeddingBlock: LayerBlock = {
  classNames: ['Embedding'],
  compile(layer, ctx) {
    checkNoExtras(layer, ['embeddingsRegularizer', 'activityRegularizer', 'embeddingsConstraint']);
    if (layer.getConfig()['maskZero'] === true) {
      throw new UnsupportedLayerError(layer.name, layer.getClassName(), 'maskZero: masks are not propagated by the trainer; use maskZero: false and pad with a token the model may learn');
    }
    const e = weightByRole(layer, 'embeddings');
    if (!e) throw new UnsupportedLayerError(layer.name, layer.getClassName(), 'has no embeddings weight');
    ctx.param(e.variable, `${layer.name}/embeddings`);
    return {
      foldable: null,
      apply([x], tap) {
        const ids = tf.cast(x as tf.Tensor, 'int32');
        const flat = tf.reshape(ids, [-1]);
        const rows = tf.gather(e.variable, flat);
        const z = tf.reshape(rows, [...ids.shape, e.variable.shape[1] as number]);
        return [tap.site('embedding', z, ids, { embeddings: e.variable })];
      },
    };
  },
};
