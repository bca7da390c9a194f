/**
 * Conv2D and Conv1D (channels last), one `conv2d` site each call. Conv1D runs as a conv2d of height 1 (its
 * kernel `[k, cin, cout]` is a `[1, k, cin, cout]` kernel in the same flattening order).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import { UnsupportedLayerError } from '../errors.js';
import type { Conv2dGeometry } from '../model.js';
import { activationOf, checkNoExtras, convGeometry, KERNEL_EXTRAS, weightByRole } from './common.js';
import type { CompileContext, LayerBlock, LayerLike, LayerOp } from './types.js';

function weights(layer: LayerLike, ctx: CompileContext): { k: Variable; b: Variable | null } {
  checkNoExtras(layer, KERNEL_EXTRAS);
  const cfg = layer.getConfig();
  const kernel = weightByRole(layer, 'kernel');
  if (!kernel) throw new UnsupportedLayerError(layer.name, layer.getClassName(), 'has no kernel');
  const b = cfg['useBias'] === false ? null : (weightByRole(layer, 'bias')?.variable ?? null);
  ctx.param(kernel.variable, `${layer.name}/kernel`);
  if (b) ctx.param(b, `${layer.name}/bias`);
  ctx.kronecker({ kernel: kernel.variable, bias: b });
  return { k: kernel.variable, b };
}

function conv2dOp(layer: LayerLike, ctx: CompileContext): LayerOp {
  const { strides, padding } = convGeometry(layer, 2);
  const [sh, sw] = strides as [number, number];
  const geometry: Conv2dGeometry = { strides: [sh, sw], padding, dilations: [1, 1] };
  const { k, b } = weights(layer, ctx);
  const act = activationOf(layer);
  return {
    foldable: act.foldable,
    apply([x], tap, _training, fold) {
      const z0 = tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, [sh, sw], padding);
      const z = tap.conv2d(b ? tf.add(z0, b) : z0, x as Tensor, { kernel: k, bias: b }, geometry);
      return [fold ? z : act.apply(z)];
    },
  };
}

function conv1dOp(layer: LayerLike, ctx: CompileContext): LayerOp {
  const { strides, padding } = convGeometry(layer, 1);
  const stride = strides[0] as number;
  const { k, b } = weights(layer, ctx);
  const [kw, cin, cout] = k.shape as [number, number, number];
  const geometry = { strides: [1, stride], padding, dilations: [1, 1], kernelShape: [1, kw, cin, cout] } as const;
  const act = activationOf(layer);
  return {
    foldable: act.foldable,
    apply([x], tap, _training, fold) {
      const x4 = tf.expandDims(x as Tensor, 1) as tf.Tensor4D;
      const k4 = tf.reshape(k, [1, kw, cin, cout]) as tf.Tensor4D;
      const z0 = tf.conv2d(x4, k4, [1, stride], padding);
      const z4 = tap.site('conv2d', b ? tf.add(z0, b) : z0, x4, { kernel: k, bias: b }, geometry);
      const z = tf.squeeze(z4, [1]);
      return [fold ? z : act.apply(z)];
    },
  };
}

/** The Conv2D and Conv1D block. */
export const convBlock: LayerBlock = {
  classNames: ['Conv2D', 'Conv1D'],
  compile: (layer, ctx) => (layer.getClassName() === 'Conv1D' ? conv1dOp(layer, ctx) : conv2dOp(layer, ctx)),
};
