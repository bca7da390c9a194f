/**
 * Models as the trainer sees them: a forward function over explicit `tf.Variable`s, whose dense and
 * convolutional pre-activations pass through a {@link Tap}. A tap is an identity hook: during factor capture it
 * keeps the layer's input A and adds a zero probe to the pre-activation z, so the gradient of the summed loss
 * with respect to the probe is Δ = ∂(Σᵢℓᵢ)/∂z, row i being sample i's own output-gradient.
 * {@link fromLayersModel} compiles a `tf.Sequential`/`tf.LayersModel` chain into this form.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { AdapterArgumentError, UnsupportedLayerError, UnsupportedModelError } from './errors.js';

/** Geometry of a 2-D convolution (NHWC; the kernel is `[kh, kw, cin, cout]`). */
export interface Conv2dGeometry {
  readonly strides: readonly [number, number];
  readonly padding: 'same' | 'valid';
  readonly dilations: readonly [number, number];
}

/** The weights of one tapped layer. */
export interface TapWeights {
  /** Dense: `[din, dout]`; conv: `[kh, kw, cin, cout]`. */
  readonly kernel: Variable;
  readonly bias?: Variable | null;
}

/**
 * Identity hooks on pre-activations. Call them with the pre-activation z (bias included) and return what they
 * return in its place. Each variable of the model should appear in at most one tap; variables that appear in
 * none get their per-sample gradients from the slow generic fallback (one `tf.grad` per sample).
 */
export interface Tap {
  /** `z = inputs·kernel (+ bias)`; `inputs` `[n, …, din]`, `z` `[n, …, dout]`. */
  dense(z: Tensor, inputs: Tensor, weights: TapWeights): Tensor;
  /** `z = conv2d(inputs, kernel, geometry) (+ bias)`; `inputs` `[n, h, w, cin]`, `z` `[n, oh, ow, cout]`. */
  conv2d(z: Tensor, inputs: Tensor, weights: TapWeights, geometry: Conv2dGeometry): Tensor;
}

/** A model over explicit variables — the lower-level entry of the adapter. */
export interface FunctionModel {
  /** Every trainable variable, in parameter order. */
  readonly variables: readonly Variable[];
  /** Stable parameter names (checkpoints); default `p0, p1, …`. */
  readonly names?: readonly string[];
  /** Outputs (logits for the cross-entropy losses) of a batch. `training` switches dropout. */
  forward(x: Tensor, tap: Tap, training: boolean): Tensor;
  /**
   * The weights of every tapped layer, in the order `forward` calls the tap. Optional for FNGD; KFAC needs it
   * (its layers are fixed when the trainer is created). {@link fromLayersModel} fills it in.
   */
  readonly taps?: readonly TapWeights[];
}

/** A tap that does nothing (inference, and the global-mode weighted-loss gradient). */
export const identityTap: Tap = {
  dense: (z) => z,
  conv2d: (z) => z,
};

interface LayerLike {
  readonly name: string;
  getClassName(): string;
  getConfig(): Record<string, unknown>;
  apply(x: Tensor, kwargs?: Record<string, unknown>): Tensor | Tensor[];
  readonly trainableWeights: readonly { read(): Tensor; readonly name: string }[];
  readonly weights: readonly unknown[];
  readonly inboundNodes: readonly { inboundLayers: readonly LayerLike[] }[];
}

const WEIGHTLESS = new Set(['Flatten', 'Reshape', 'Activation', 'Dropout', 'MaxPooling2D', 'AveragePooling2D', 'ReLU', 'Softmax', 'LeakyReLU', 'ELU']);

type Step = (x: Tensor, tap: Tap, training: boolean, last: boolean) => Tensor;

function pair(v: unknown, name: string, layer: LayerLike): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((e) => typeof e === 'number')) return [v[0] as number, v[1] as number];
  if (v === undefined || v === null) return [1, 1];
  throw new UnsupportedLayerError(layer.name, layer.getClassName(), `cannot read ${name} ${JSON.stringify(v)}`);
}

function activationOf(layer: LayerLike): { name: string; apply: (z: Tensor) => Tensor } {
  const cfg = layer.getConfig();
  const name = typeof cfg['activation'] === 'string' ? (cfg['activation'] as string) : 'linear';
  const fn = (layer as unknown as { activation?: { apply(x: Tensor): Tensor } }).activation;
  if (!fn || typeof fn.apply !== 'function') {
    throw new UnsupportedLayerError(layer.name, layer.getClassName(), 'its activation function is not accessible');
  }
  return { name, apply: (z) => fn.apply(z) };
}

function checkNoExtras(layer: LayerLike): void {
  const cfg = layer.getConfig();
  for (const k of ['kernelRegularizer', 'biasRegularizer', 'activityRegularizer', 'kernelConstraint', 'biasConstraint']) {
    if (cfg[k] !== null && cfg[k] !== undefined) {
      throw new UnsupportedLayerError(layer.name, layer.getClassName(), `${k} is not supported by the FNGD trainer`);
    }
  }
}

function weightVars(layer: LayerLike, useBias: boolean): { kernel: Variable; bias: Variable | null } {
  const w = layer.trainableWeights.map((v) => v.read() as Variable);
  if (layer.weights.length !== layer.trainableWeights.length) {
    throw new UnsupportedLayerError(layer.name, layer.getClassName(), 'non-trainable (frozen) weights are not supported');
  }
  const expected = useBias ? 2 : 1;
  if (w.length !== expected || !w[0]) {
    throw new UnsupportedLayerError(layer.name, layer.getClassName(), `expected ${expected} trainable weights, found ${w.length}`);
  }
  return { kernel: w[0], bias: useBias ? (w[1] as Variable) : null };
}

/** `x·kernel` over the last axis of `x` (any rank ≥ 2). */
export function denseMatMul(x: Tensor, kernel: Tensor): Tensor {
  if (x.rank === 2) return tf.matMul(x as tf.Tensor2D, kernel as tf.Tensor2D);
  const din = x.shape[x.rank - 1] as number;
  const dout = kernel.shape[1] as number;
  return tf.reshape(tf.matMul(tf.reshape(x, [-1, din]) as tf.Tensor2D, kernel as tf.Tensor2D), [...x.shape.slice(0, -1), dout]);
}

/** What the final layer's activation becomes when the loss takes logits. */
export type FoldActivation = 'softmax' | 'sigmoid' | null;

/** Result of {@link fromLayersModel}. */
export interface CompiledModel extends FunctionModel {
  /** The activation folded into the loss (the model's last softmax/sigmoid), if any. */
  readonly folded: FoldActivation;
  /** Every Dense and Conv2D layer's weights, in forward order. */
  readonly taps: readonly TapWeights[];
}

function chainLayers(model: LayersModel): LayerLike[] {
  const all = (model.layers as unknown as LayerLike[]).filter((l) => l.getClassName() !== 'InputLayer');
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new UnsupportedModelError(`the FNGD trainer needs a model with one input and one output, got ${model.inputs.length} and ${model.outputs.length}`);
  }
  if (model.getClassName() !== 'Sequential') {
    // a functional model: every layer must consume exactly the previous layer's output
    all.forEach((layer, i) => {
      if (layer.inboundNodes.length !== 1) {
        throw new UnsupportedLayerError(layer.name, layer.getClassName(), `is called ${layer.inboundNodes.length} times; only a single chain of layers is supported`);
      }
      const inbound = layer.inboundNodes[0]?.inboundLayers ?? [];
      const prev = all[i - 1];
      const ok = inbound.length === 1 && (prev ? inbound[0] === prev : inbound[0]?.getClassName() === 'InputLayer');
      if (!ok) throw new UnsupportedLayerError(layer.name, layer.getClassName(), 'the model is not a single chain of layers (branches or merges)');
    });
  }
  return all;
}

/**
 * Compiles a `tf.Sequential` or a chain-shaped `tf.LayersModel` into a {@link FunctionModel}. Supported:
 * Dense, Conv2D (channelsLast), Flatten, Reshape, Activation/ReLU/LeakyReLU/ELU/Softmax, Dropout,
 * MaxPooling2D, AveragePooling2D. Anything else throws {@link UnsupportedLayerError} naming the layer and its
 * class. Nothing is modified.
 *
 * @param fold `'softmax'` / `'sigmoid'`: when the model ends in that activation, the forward returns the
 *   logits before it (the cross-entropy losses take logits; numerically stable).
 */
export function fromLayersModel(model: LayersModel, fold: FoldActivation = null): CompiledModel {
  if (!model || typeof (model as { getClassName?: unknown }).getClassName !== 'function' || !Array.isArray(model.layers)) {
    throw new AdapterArgumentError('fromLayersModel: expected a tf.Sequential or tf.LayersModel');
  }
  const layers = chainLayers(model);
  const steps: Step[] = [];
  const variables: Variable[] = [];
  const names: string[] = [];
  const taps: TapWeights[] = [];
  let folded: FoldActivation = null;
  layers.forEach((layer, index) => {
    const cls = layer.getClassName();
    const cfg = layer.getConfig();
    const isLast = index === layers.length - 1;
    if (cls === 'Dense') {
      checkNoExtras(layer);
      const useBias = cfg['useBias'] !== false;
      const w = weightVars(layer, useBias);
      const act = activationOf(layer);
      const foldThis = isLast && fold !== null && act.name === fold;
      if (foldThis) folded = fold;
      variables.push(w.kernel, ...(w.bias ? [w.bias] : []));
      names.push(`${layer.name}/kernel`, ...(w.bias ? [`${layer.name}/bias`] : []));
      taps.push(w);
      steps.push((x, tap) => {
        const z0 = denseMatMul(x, w.kernel);
        const z = tap.dense(w.bias ? tf.add(z0, w.bias) : z0, x, w);
        return foldThis || act.name === 'linear' ? z : act.apply(z);
      });
      return;
    }
    if (cls === 'Conv2D') {
      checkNoExtras(layer);
      if (cfg['dataFormat'] !== undefined && cfg['dataFormat'] !== 'channelsLast') {
        throw new UnsupportedLayerError(layer.name, cls, `dataFormat '${String(cfg['dataFormat'])}' (only channelsLast)`);
      }
      const padding = cfg['padding'];
      if (padding !== 'same' && padding !== 'valid') throw new UnsupportedLayerError(layer.name, cls, `padding '${String(padding)}'`);
      const geometry: Conv2dGeometry = {
        strides: pair(cfg['strides'], 'strides', layer),
        padding,
        dilations: pair(cfg['dilationRate'], 'dilationRate', layer),
      };
      const useBias = cfg['useBias'] !== false;
      const w = weightVars(layer, useBias);
      const act = activationOf(layer);
      const foldThis = isLast && fold !== null && act.name === fold;
      if (foldThis) folded = fold;
      variables.push(w.kernel, ...(w.bias ? [w.bias] : []));
      names.push(`${layer.name}/kernel`, ...(w.bias ? [`${layer.name}/bias`] : []));
      taps.push(w);
      steps.push((x, tap) => {
        const z0 = tf.conv2d(x as tf.Tensor4D, w.kernel as tf.Tensor4D, [...geometry.strides], geometry.padding, 'NHWC', [...geometry.dilations]);
        const z = tap.conv2d(w.bias ? tf.add(z0, w.bias) : z0, x, w, geometry);
        return foldThis || act.name === 'linear' ? z : act.apply(z);
      });
      return;
    }
    if (WEIGHTLESS.has(cls)) {
      if (layer.weights.length > 0) throw new UnsupportedLayerError(layer.name, cls, 'has weights');
      const actName = cls === 'Activation' ? String(cfg['activation']) : cls === 'Softmax' ? 'softmax' : null;
      const foldThis = isLast && fold !== null && actName === fold;
      if (foldThis) {
        folded = fold;
        steps.push((x) => x);
        return;
      }
      steps.push((x, _tap, training) => layer.apply(x, { training }) as Tensor);
      return;
    }
    throw new UnsupportedLayerError(layer.name, cls, 'layer class not supported by the FNGD trainer (supported: Dense, Conv2D, Flatten, Reshape, Activation, Dropout, MaxPooling2D, AveragePooling2D)');
  });
  if (variables.length === 0) throw new UnsupportedModelError('the model has no trainable Dense or Conv2D layer');
  return {
    variables,
    names,
    folded,
    taps,
    forward(x, tap, training) {
      let h = x;
      steps.forEach((s, i) => {
        h = s(h, tap, training, i === steps.length - 1);
      });
      return h;
    },
  };
}
