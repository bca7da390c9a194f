/**
 * BatchNormalization and LayerNormalization over the last axis, one `scale-shift` site (`z = γ∘x̂ + β`).
 *
 * **BatchNormalization's per-sample gradient.** In training mode the batch statistics couple the samples, so
 * "sample i's gradient" needs a definition. This trainer uses *sample i's share of the batch gradient*: the
 * gradient of the summed loss Σⱼℓⱼ split at sample i's activations — Δ's row i at every site, which is what the
 * capture pass computes (the rows sum to the exact batch gradient, so g = Jᵀ1/n is exact). The weighted
 * gradient Jᵀα is taken from the same factors (never from Σαᵢℓᵢ, which would differentiate through the
 * statistics again). `docs/research/batchnorm-per-sample.md` measures the FNGD direction under this definition
 * against the exact one (each ℓᵢ's total derivative through the statistics). Moving statistics update as tfjs's
 * layer does (`m ← m·momentum + batch·(1 − momentum)`, biased batch variance), once per committed step;
 * inference uses them. A frozen BatchNormalization (`trainable: false`, or inside a frozen model) runs in
 * inference mode, as Keras does.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import { UnsupportedLayerError } from '../errors.js';
import type { Tap } from '../model.js';
import { checkNoExtras, weightByRole } from './common.js';
import type { CompileContext, LayerBlock, LayerLike } from './types.js';

/** The rank of the layer's (first) input in the model graph, when known. */
function inputRank(layer: LayerLike): number | null {
  const nodes = (layer as unknown as { inboundNodes?: { inputTensors?: { shape?: unknown[] }[] }[] }).inboundNodes;
  const shape = nodes?.[0]?.inputTensors?.[0]?.shape;
  return Array.isArray(shape) ? shape.length : null;
}

/** Throws unless the layer normalizes over the last axis only (`-1`, or `rank − 1`). */
function lastAxisOnly(layer: LayerLike, axis: unknown): void {
  const a = Array.isArray(axis) && axis.length === 1 ? axis[0] : axis;
  const rank = inputRank(layer);
  const ok = a === undefined || a === -1 || (typeof a === 'number' && rank !== null && a === rank - 1);
  if (!ok) {
    throw new UnsupportedLayerError(layer.name, layer.getClassName(), `axis ${JSON.stringify(axis)}: only the last axis (channels last, axis -1) is supported; move the normalized axis last`);
  }
}

/** γ and β as the layer holds them (null when configured off), and the trainable ones registered. */
interface ScaleShift {
  readonly gamma: Variable | null;
  readonly beta: Variable | null;
  /** γ, β if trainable (else null: constants of the forward pass). */
  readonly trainable: { readonly gamma: Variable | null; readonly beta: Variable | null };
}

function scaleShift(layer: LayerLike, ctx: CompileContext, frozen: boolean): ScaleShift {
  const cfg = layer.getConfig();
  const g = cfg['scale'] === false ? null : weightByRole(layer, 'gamma');
  const b = cfg['center'] === false ? null : weightByRole(layer, 'beta');
  const gamma = g && g.trainable && !frozen ? g.variable : null;
  const beta = b && b.trainable && !frozen ? b.variable : null;
  if (gamma) ctx.param(gamma, `${layer.name}/gamma`);
  if (beta) ctx.param(beta, `${layer.name}/beta`);
  return { gamma: g?.variable ?? null, beta: b?.variable ?? null, trainable: { gamma, beta } };
}

/** `γ∘x̂ + β` with whichever of γ, β exist (frozen ones as constants), through a scale-shift site. */
function apply(xhat: Tensor, ss: ScaleShift, tap: Tap): Tensor {
  let z = ss.gamma ? tf.mul(xhat, ss.gamma) : xhat;
  if (ss.beta) z = tf.add(z, ss.beta);
  if (!ss.trainable.gamma && !ss.trainable.beta) return z;
  return tap.site('scale-shift', z, xhat, { gamma: ss.trainable.gamma, beta: ss.trainable.beta });
}

/** The BatchNormalization block. */
export const batchNormBlock: LayerBlock = {
  classNames: ['BatchNormalization'],
  compilesFrozen: true,
  onePlaceOnly: 'its moving statistics would update once per call; use one BatchNormalization layer per place',
  compile(layer, ctx) {
    checkNoExtras(layer, ['betaRegularizer', 'gammaRegularizer', 'betaConstraint', 'gammaConstraint']);
    const cfg = layer.getConfig();
    lastAxisOnly(layer, cfg['axis']);
    const frozen = ctx.frozen || !layer.trainable;
    const mean = weightByRole(layer, 'movingMean');
    const variance = weightByRole(layer, 'movingVariance');
    if (!mean || !variance) throw new UnsupportedLayerError(layer.name, layer.getClassName(), 'has no moving statistics');
    const eps = typeof cfg['epsilon'] === 'number' ? cfg['epsilon'] : 1e-3;
    const momentum = typeof cfg['momentum'] === 'number' ? cfg['momentum'] : 0.99;
    const ss = scaleShift(layer, ctx, frozen);
    if (!frozen) ctx.couplesSamples();
    return {
      foldable: null,
      apply([x], tap, training) {
        const input = x as Tensor;
        if (!training || frozen) {
          const xhat = tf.div(tf.sub(input, mean.variable), tf.sqrt(tf.add(variance.variable, eps)));
          return [apply(xhat, ss, tap)];
        }
        const axes = Array.from({ length: input.rank - 1 }, (_, i) => i);
        const m = tf.moments(input, axes);
        const xhat = tf.div(tf.sub(input, m.mean), tf.sqrt(tf.add(m.variance, eps)));
        const next = tf.tidy(() => [
          tf.sub(mean.variable, tf.mul(tf.sub(mean.variable, m.mean), 1 - momentum)),
          tf.sub(variance.variable, tf.mul(tf.sub(variance.variable, m.variance), 1 - momentum)),
        ]);
        ctx.pendingState(layer, [mean.variable, variance.variable], next.map((t) => tf.keep(t)));
        return [apply(xhat, ss, tap)];
      },
    };
  },
};

/** The LayerNormalization block. */
export const layerNormBlock: LayerBlock = {
  classNames: ['LayerNormalization'],
  compile(layer, ctx) {
    checkNoExtras(layer, ['betaRegularizer', 'gammaRegularizer']);
    const cfg = layer.getConfig();
    lastAxisOnly(layer, cfg['axis']);
    const eps = typeof cfg['epsilon'] === 'number' ? cfg['epsilon'] : 1e-3;
    const ss = scaleShift(layer, ctx, ctx.frozen || !layer.trainable);
    return {
      foldable: null,
      apply([x], tap) {
        const input = x as Tensor;
        const m = tf.moments(input, [input.rank - 1], true);
        const xhat = tf.div(tf.sub(input, m.mean), tf.sqrt(tf.add(m.variance, eps)));
        return [apply(xhat, ss, tap)];
      },
    };
  },
};
