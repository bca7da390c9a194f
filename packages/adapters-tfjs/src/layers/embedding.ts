/**
 * Embedding: a row lookup (its gradient a scatter-add), one `embedding` site (exact sparse per-sample gradients,
 * no one-hot matrix).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import { UnsupportedLayerError } from '../errors.js';
import { segmentSum } from '../sites/embedding.js';
import { checkNoExtras, weightByRole } from './common.js';
import type { LayerBlock } from './types.js';

/**
 * `E[ids]` whose gradient is a scatter-add into E's rows (tfjs's own gather gradient is an `unsortedSegmentSum`:
 * one masked pass per vocabulary row on tfjs-backend-cpu, not registered on tfjs-backend-wasm).
 */
function lookup(e: Tensor, ids: Tensor): Tensor {
  const f = tf.customGrad((...args: (Tensor | tf.GradSaveFunc)[]) => {
    const table = args[0] as Tensor;
    (args[1] as tf.GradSaveFunc)([ids]);
    return {
      value: tf.gather(table, ids),
      gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => segmentSum(dy as Tensor, saved[0] as Tensor, table.shape[0] as number),
    };
  });
  return f(e) as Tensor;
}

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
        const z = tf.reshape(lookup(e.variable, tf.reshape(ids, [-1])), [...ids.shape, e.variable.shape[1] as number]);
        return [tap.site('embedding', z, ids, { embeddings: e.variable })];
      },
    };
  },
};
