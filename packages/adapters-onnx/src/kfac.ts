/**
 * KFAC in the ONNX trainer: the model's trainable layers as KFAC layers, and the factor pass both optimizers
 * share. Layouts follow the ONNX weights: `Gemm` with `transB = 1` (`[N, K]`) and `Conv` (`[c_out, c_in, kh,
 * kw]`, patches unfolded in `(c_in, kh, kw)` order) are `'out-in'`; `Gemm` without `transB` and `MatMul`
 * (`[K, N]`) are `'in-out'`. A `Gemm`'s `alpha`/`beta` are folded into its factors (`scaleA`, `scaleD`), so
 * the factors' `Δᵀ·A` is the gradient of the stored weight and bias as they are.
 * @module
 */
import type { LayerFactors } from '@ifngd/fisher';
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import type { KfacLayer, KfacTrainingOptions } from 'ifngd';
import type { Tensor } from 'onnxruntime-common';
import { isKronecker, type LayerInfo, type ModelAnalysis } from './analyze.js';
import { NAMES } from './builder.js';
import { Attrs } from './proto.js';
import { floats } from './session.js';
import { transposedWeight } from './ops/index.js';

/**
 * KFAC options as the ONNX trainer takes them: `ifngd`'s `kfac` options without `device`, `ops`, `layers` and
 * `diagonal` (the trainer supplies them); missing fields from `KFAC_DEFAULTS`. `nonKronecker: 'diagonal'` needs
 * per-sample second moments, which this trainer does not compute: it is refused while any parameter is outside a
 * Kronecker layer.
 */
export type OnnxKfacOptions = KfacTrainingOptions;

/** How a layer's weight initializer is laid out (see the module comment). */
export function layoutOf(layer: LayerInfo): KfacLayer['layout'] {
  if (layer.kind === 'conv2d') return 'out-in';
  if (layer.node.opType === 'Gemm') return new Attrs(layer.node).int('transB', 0) ? 'out-in' : 'in-out';
  return transposedWeight(layer.node) ? 'out-in' : 'in-out';
}

/**
 * The KFAC layer specs of an analysed model: its Kronecker layers (dense, conv2d) in layer order, the order of the
 * factor pass; scale-shift parameters take the plain gradient.
 */
export function kfacLayersOf(an: ModelAnalysis): KfacLayer[] {
  return an.layers.filter(isKronecker).map((l) => ({ weight: l.weight, bias: l.bias, layout: layoutOf(l) }));
}

/**
 * Every layer's factors from an output of the `'factors'` graph, uploaded to `device` (the matrices are pushed
 * to `created`; the caller disposes them).
 */
export function uploadLayerFactors(
  an: ModelAnalysis,
  out: Readonly<Record<string, Tensor>>,
  device: LinalgDevice,
  created: Matrix[],
): LayerFactors[] {
  return an.layers.map((layer, l): LayerFactors => {
    const a = out[NAMES.factorInputs(l)];
    const am = device.matrix(floats(a, 'factor'), a!.dims as number[]);
    created.push(am);
    if (layer.kind === 'scale-shift' || layer.kind === 'grouped-conv' || layer.kind === 'batch-norm') return { kind: 'jacobian', jacobian: am };
    if (layer.kind === 'embedding') return { kind: 'gram', gram: am };
    const d = out[NAMES.factorOutputGrads(l)];
    const dm = device.matrix(floats(d, 'factor'), d!.dims as number[]);
    created.push(dm);
    // dense layers over positions and embeddings have 3-D factors: conv2d's (weights shared by every position)
    return layer.kind === 'dense' && a!.dims.length === 2
      ? { kind: 'dense', inputs: am, outputGrads: dm, bias: layer.bias !== null }
      : { kind: 'conv2d', patches: am, outputGrads: dm, bias: layer.bias !== null };
  });
}
