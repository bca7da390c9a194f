/**
 * Models as the trainer sees them: a forward function over explicit `tf.Variable`s, whose dense and
 * convolutional pre-activations pass through a {@link Tap}. A tap is an identity hook: during factor capture it
 * keeps the layer's input A and adds a zero probe to the pre-activation z, so the gradient of the summed loss
 * with respect to the probe is Δ = ∂(Σᵢℓᵢ)/∂z, row i being sample i's own output-gradient.
 * {@link fromLayersModel} compiles a `tf.Sequential`/`tf.LayersModel` graph into this form (`graph.ts`).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import type { ModelIo } from './io.js';
import type { SiteParams } from './sites/types.js';

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
 * Identity hooks on parameter sites. Call them with the site's output z (a pre-activation, bias included) and
 * return what they return in its place. A variable may appear at several sites of the same kind (a shared
 * layer, an RNN unrolled by hand): its per-sample gradients sum over them. Variables that appear at no site
 * get their per-sample gradients from the slow generic fallback (one `tf.grad` per sample).
 */
export interface Tap {
  /** `z = inputs·kernel (+ bias)` over the last axis; `inputs` `[n, …, din]`, `z` `[n, …, dout]`. */
  dense(z: Tensor, inputs: Tensor, weights: TapWeights): Tensor;
  /** `z = conv2d(inputs, kernel, geometry) (+ bias)`; `inputs` `[n, h, w, cin]`, `z` `[n, oh, ow, cout]`. */
  conv2d(z: Tensor, inputs: Tensor, weights: TapWeights, geometry: Conv2dGeometry): Tensor;
  /**
   * A site of a registered site rule (`registerSiteRule`): `'dense'`, `'conv2d'` (meta: the geometry),
   * `'scale-shift'` (`z = γ∘x̂ + β`, inputs x̂, params `{ gamma, beta }`), `'embedding'` (inputs the ids,
   * params `{ embeddings }`), or a rule of your own.
   */
  site(kind: string, z: Tensor, inputs: Tensor, params: SiteParams, meta?: unknown): Tensor;
}

/**
 * A penalty on one variable (a layer's weight regularizer): `penalty(w)` returns a scalar added to the objective.
 * Its gradient is added to the optimizer's step direction, not preconditioned (kfac-pytorch's weight decay; a
 * tfjs-optimizer baseline adds it to the gradient, as tfjs's `fit` does); the reported losses are the data losses.
 */
export interface Penalty {
  readonly variable: Variable;
  /** For messages (`layer/kernelRegularizer`). */
  readonly name: string;
  penalty(w: Tensor): Tensor;
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
  /**
   * Sample i's output depends on other samples of the batch (BatchNormalization in training mode). Then Δ's rows
   * are each sample's share of the batch gradient, and every step takes the weighted gradient from the captured
   * factors (never from a per-sample weighted loss). Default false.
   */
  readonly couplesSamples?: boolean;
  /**
   * The training-mode forward draws random numbers (Dropout, noise layers), so two passes at nearby parameters see
   * different masks: KFAC's Gauss–Newton quadratic model (`adaptive.quadraticModel: 'gauss-newton'`), which
   * differentiates the forward by central differences, is then refused. {@link fromLayersModel} sets it from the
   * model's layers of tfjs's random classes (Dropout, SpatialDropout1D, AlphaDropout, GaussianNoise,
   * GaussianDropout); a FunctionModel, or a custom layer class that draws random numbers, must declare it. Default
   * false.
   */
  readonly stochastic?: boolean;
  /**
   * Variables trained with the plain mean-loss gradient — outside FNGD's per-sample Gram and KFAC's blocks, through
   * the optimizer's momentum and learning rate (kfac-pytorch's `skip_layers`; the trainer's `skipLayers`). They need
   * no tap. Default none.
   */
  readonly plain?: readonly Variable[];
  /** Penalties on trained variables (a LayersModel's regularizers); default none. */
  readonly penalties?: readonly Penalty[];
  /** Commits the state the last training forward computed (moving statistics); called once a step commits. */
  commitState?(): void;
  /** Drops that state (the step threw). */
  discardState?(): void;
  /**
   * Runs `fn` (training-mode forward passes) so that the state it computes is dropped and the pending state from
   * before is kept — what KFAC's adaptive mode needs to take the loss at proposed parameters.
   */
  isolatedState?<R>(fn: () => R): R;
}

export { identityTap } from './identity-tap.js';

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
  /** The activation folded into the loss (the model's last softmax/sigmoid), if any; null with several outputs. */
  readonly folded: FoldActivation;
  /** The activation folded into each output's loss. */
  readonly outputsFolded: readonly FoldActivation[];
  /**
   * The packing of a model with several inputs or outputs (its forward then takes the packed input and returns the
   * packed output); null for one input and one output.
   */
  readonly io: ModelIo | null;
  /** Every trainable Dense and convolution layer's weights (KFAC's Kronecker layers). */
  readonly taps: readonly TapWeights[];
}

export { fromLayersModel, type CompileOptions } from './graph.js';
