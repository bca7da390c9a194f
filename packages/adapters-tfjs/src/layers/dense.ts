/**
 * Dense on any rank (`[n, …, din]`: the middle axes are positions sharing the kernel), one `dense` site.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Variable } from '@tensorflow/tfjs-core';
import { UnsupportedLayerError } from '../errors.js';
import { denseMatMul } from '../model.js';
import { activationOf, checkNoExtras, KERNEL_EXTRAS, weightByRole } from './common.js';
import type { LayerBlock } from './types.js';

/** The Dense block. */
export const denseBlock: LayerBlock = {
  classNames: ['Dense'],
  compile(layer, ctx) {
    checkNoExtras(layer, KERNEL_EXTRAS);
    const kernel = weightByRole(layer, 'kernel');
    if (!kernel) throw new UnsupportedLayerError(layer.name, layer.getClassName(), 'has no kernel');
    const bias = layer.getConfig()['useBias'] === false ? null : weightByRole(layer, 'bias');
    const k = kernel.variable;
    const b: Variable | null = bias?.variable ?? null;
    ctx.param(k, `${layer.name}/kernel`);
    if (b) ctx.param(b, `${layer.name}/bias`);
    ctx.kronecker({ kernel: k, bias: b });
    const act = activationOf(layer);
    return {
      foldable: act.foldable,
      apply([x], tap, _training, fold) {
        const z0 = denseMatMul(x as tf.Tensor, k);
        const z = tap.dense(b ? tf.add(z0, b) : z0, x as tf.Tensor, { kernel: k, bias: b });
        return [fold ? z : act.apply(z)];
      },
    };
  },
};
