/**
 * Conv2DTranspose (channels last): a `conv2d-transpose` site for the kernel, the bias as the shift of a
 * `scale-shift` site, the output shape as tfjs-layers computes it (`same`: h·s; `valid`: h·s + max(k − s, 0)).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import { UnsupportedLayerError } from '../errors.js';
import type { Conv2dGeometry } from '../model.js';
import { activationOf, checkNoExtras, convGeometry, KERNEL_EXTRAS, weightByRole } from './common.js';
import type { LayerBlock } from './types.js';

const deconv = (size: number, stride: number, kernel: number, padding: 'same' | 'valid'): number =>
  padding === 'valid' ? size * stride + Math.max(kernel - stride, 0) : size * stride;

/** The Conv2DTranspose block. */
export const convTransposeBlock: LayerBlock = {
  classNames: ['Conv2DTranspose'],
  compile(layer, ctx) {
    const cls = layer.getClassName();
    checkNoExtras(layer, KERNEL_EXTRAS);
    const cfg = layer.getConfig();
    const { strides, padding } = convGeometry(layer, 2);
    const [sh, sw] = strides as [number, number];
    const k = weightByRole(layer, 'kernel');
    if (!k) throw new UnsupportedLayerError(layer.name, cls, 'has no kernel');
    const b: Variable | null = cfg['useBias'] === false ? null : (weightByRole(layer, 'bias')?.variable ?? null);
    ctx.param(k.variable, `${layer.name}/kernel`);
    if (b) ctx.param(b, `${layer.name}/bias`);
    const geometry: Conv2dGeometry = { strides: [sh, sw], padding, dilations: [1, 1] };
    const [kh, kw, cout] = k.variable.shape as [number, number, number, number];
    const act = activationOf(layer);
    return {
      foldable: act.foldable,
      apply([x], tap, _training, fold) {
        const input = x as tf.Tensor4D;
        const [n, h, w] = input.shape;
        const shape: [number, number, number, number] = [n, deconv(h, sh, kh, padding), deconv(w, sw, kw, padding), cout];
        const z0 = tap.site('conv2d-transpose', tf.conv2dTranspose(input, k.variable as tf.Tensor4D, shape, [sh, sw], padding), input, { kernel: k.variable }, geometry);
        const z = b ? tap.site('scale-shift', tf.add(z0, b), z0, { gamma: null, beta: b }) : z0;
        return [fold ? z : act.apply(z as Tensor)];
      },
    };
  },
};
