/**
 * Helpers the layer blocks share: activations, refusals of what a block cannot train, weights by role.
 * @module
 */
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import { UnsupportedLayerError } from '../errors.js';
import type { FoldActivation } from '../model.js';
import type { LayerLike } from './types.js';

/** The layer's activation (`activation` config) as a function, and whether the loss can take it. */
export function activationOf(layer: LayerLike): { name: string; apply: (z: Tensor) => Tensor; foldable: FoldActivation } {
  const cfg = layer.getConfig();
  const name = typeof cfg['activation'] === 'string' ? (cfg['activation'] as string) : 'linear';
  const fn = (layer as unknown as { activation?: { apply(x: Tensor): Tensor } }).activation;
  if (!fn || typeof fn.apply !== 'function') {
    throw new UnsupportedLayerError(layer.name, layer.getClassName(), 'its activation function is not accessible');
  }
  const foldable: FoldActivation = name === 'softmax' || name === 'sigmoid' ? name : null;
  return { name, apply: (z) => (name === 'linear' ? z : fn.apply(z)), foldable };
}

/**
 * Refuses constraints (they project the weights, which no optimizer here does) and activity regularizers (a
 * penalty on activations enters every sample's loss), naming what to do. Weight regularizers pass: the compiler
 * maps them to penalties (`regularizers.ts`).
 */
export function checkNoExtras(layer: LayerLike, keys: readonly string[]): void {
  const cfg = layer.getConfig();
  for (const k of keys) {
    if (/Regularizer$/.test(k) && k !== 'activityRegularizer') continue;
    if (cfg[k] !== null && cfg[k] !== undefined) {
      const fix = k === 'activityRegularizer'
        ? "remove it (a penalty on activations would enter every sample's loss)"
        : 'remove it; the optimizers do not project weights';
      throw new UnsupportedLayerError(layer.name, layer.getClassName(), `${k} is not supported: ${fix}`);
    }
  }
}

/** The standard extras of layers with a kernel and a bias. */
export const KERNEL_EXTRAS = ['kernelRegularizer', 'biasRegularizer', 'activityRegularizer', 'kernelConstraint', 'biasConstraint'] as const;

/**
 * The layer's weight held in its field `role` (tfjs-layers keeps `kernel`, `bias`, `gamma`, `beta`,
 * `embeddings`, `movingMean`, … as `LayerVariable` fields) as a variable; null when absent.
 */
export function weightByRole(layer: LayerLike, role: string): { variable: Variable; trainable: boolean } | null {
  const w = (layer as unknown as Record<string, unknown>)[role] as { read?: () => Tensor; trainable?: boolean } | null | undefined;
  if (!w || typeof w.read !== 'function') return null;
  return { variable: w.read() as Variable, trainable: w.trainable !== false && layer.trainable };
}

/** `[a, b]` from a number or a pair (strides, dilations…). */
export function pair(v: unknown, name: string, layer: LayerLike, dims = 2): number[] {
  if (typeof v === 'number') return new Array<number>(dims).fill(v);
  if (Array.isArray(v) && v.length === dims && v.every((e) => typeof e === 'number')) return v as number[];
  if (Array.isArray(v) && v.length === 1 && typeof v[0] === 'number') return new Array<number>(dims).fill(v[0]);
  if (v === undefined || v === null) return new Array<number>(dims).fill(1);
  throw new UnsupportedLayerError(layer.name, layer.getClassName(), `cannot read ${name} ${JSON.stringify(v)}`);
}

/** Throws unless the layer is channels last (`dataFormat` unset or `'channelsLast'`). */
export function channelsLast(layer: LayerLike): void {
  const f = layer.getConfig()['dataFormat'];
  if (f !== undefined && f !== 'channelsLast') {
    throw new UnsupportedLayerError(layer.name, layer.getClassName(), `dataFormat '${String(f)}': only channelsLast is supported; transpose the input instead`);
  }
}

/**
 * A convolution's channels-last geometry over `dims` spatial axes: strides and `same`/`valid` padding. Refuses
 * other data formats and paddings, and dilation (tfjs 4.22 differentiates no dilated convolution).
 */
export function convGeometry(layer: LayerLike, dims: 1 | 2): { strides: number[]; padding: 'same' | 'valid' } {
  channelsLast(layer);
  const cfg = layer.getConfig();
  const padding = cfg['padding'];
  if (padding !== 'same' && padding !== 'valid') {
    throw new UnsupportedLayerError(layer.name, layer.getClassName(), `padding '${String(padding)}': tfjs trains only 'same' and 'valid'`);
  }
  if (pair(cfg['dilationRate'], 'dilationRate', layer, dims).some((d) => d !== 1)) {
    throw new UnsupportedLayerError(layer.name, layer.getClassName(), 'dilationRate > 1: TensorFlow.js 4.22 has no gradient for dilated convolutions; use dilationRate 1 or freeze the layer');
  }
  return { strides: pair(cfg['strides'], 'strides', layer, dims), padding };
}
