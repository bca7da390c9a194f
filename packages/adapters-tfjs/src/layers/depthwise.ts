/**
 * DepthwiseConv2D (one `depthwise` site) and SeparableConv2D (a `depthwise` site without bias, then a 1×1
 * `conv2d` site with the bias), channels last. tfjs applies the activation after both.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import { UnsupportedLayerError } from '../errors.js';
import type { Conv2dGeometry } from '../model.js';
import { activationOf, checkNoExtras, convGeometry, weightByRole } from './common.js';
import type { LayerBlock } from './types.js';

const EXTRAS = ['depthwiseRegularizer', 'pointwiseRegularizer', 'biasRegularizer', 'activityRegularizer', 'depthwiseConstraint', 'pointwiseConstraint', 'biasConstraint'] as const;

/** The DepthwiseConv2D / SeparableConv2D block. */
export const depthwiseBlock: LayerBlock = {
  classNames: ['DepthwiseConv2D', 'SeparableConv2D'],
  compile(layer, ctx) {
    const cls = layer.getClassName();
    checkNoExtras(layer, EXTRAS);
    const cfg = layer.getConfig();
    const { strides, padding } = convGeometry(layer, 2);
    const [sh, sw] = strides as [number, number];
    const geometry: Conv2dGeometry = { strides: [sh, sw], padding, dilations: [1, 1] };
    const dk = weightByRole(layer, 'depthwiseKernel');
    if (!dk) throw new UnsupportedLayerError(layer.name, cls, 'has no depthwise kernel');
    const pk = cls === 'SeparableConv2D' ? weightByRole(layer, 'pointwiseKernel') : null;
    if (cls === 'SeparableConv2D' && !pk) throw new UnsupportedLayerError(layer.name, cls, 'has no pointwise kernel');
    const b: Variable | null = cfg['useBias'] === false ? null : (weightByRole(layer, 'bias')?.variable ?? null);
    ctx.param(dk.variable, `${layer.name}/depthwise_kernel`);
    if (pk) ctx.param(pk.variable, `${layer.name}/pointwise_kernel`);
    if (b) ctx.param(b, `${layer.name}/bias`);
    if (pk) ctx.kronecker({ kernel: pk.variable, bias: b });
    const act = activationOf(layer);
    const one: Conv2dGeometry = { strides: [1, 1], padding: 'valid', dilations: [1, 1] };
    return {
      foldable: act.foldable,
      apply([x], tap, _training, fold) {
        const input = x as Tensor;
        const y0 = tf.depthwiseConv2d(input as tf.Tensor4D, dk.variable as tf.Tensor4D, [sh, sw], padding);
        let z: Tensor;
        if (pk) {
          const y = tap.site('depthwise', y0, input, { kernel: dk.variable, bias: null }, geometry);
          const z0 = tf.conv2d(y as tf.Tensor4D, pk.variable as tf.Tensor4D, 1, 'valid');
          z = tap.conv2d(b ? tf.add(z0, b) : z0, y, { kernel: pk.variable, bias: b }, one);
        } else {
          z = tap.site('depthwise', b ? tf.add(y0, b) : y0, input, { kernel: dk.variable, bias: b }, geometry);
        }
        return [fold ? z : act.apply(z)];
      },
    };
  },
};
