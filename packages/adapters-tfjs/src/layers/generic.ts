/**
 * Layers with trainable weights but no block (LSTM, GRU, a custom layer…): applied as tfjs applies them, their
 * weights trained through the generic per-sample route (one backward pass per sample: exact for layers that act
 * on each sample alone, slow). A one-time warning names the layer.
 * @module
 */
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import type { CompileContext, LayerLike, LayerOp } from './types.js';

const warned = new Set<string>();

/** The op of a layer without a block; registers its trainable weights. */
export function genericOp(layer: LayerLike, ctx: CompileContext, warn: (message: string) => void): LayerOp {
  for (const w of layer.trainableWeights) ctx.param(w.read() as Variable, w.name.includes('/') ? w.name : `${layer.name}/${w.name}`);
  const cls = layer.getClassName();
  if (!warned.has(cls)) {
    warned.add(cls);
    warn(
      `ifngd: layer '${layer.name}' (${cls}) has no layer block: its weights get exact per-sample gradients from one backward pass per sample ` +
        '(about n times a plain step for those weights). Register a block (docs/guides/layer-blocks.md) or freeze the layer to avoid it.',
    );
  }
  return {
    foldable: null,
    apply: (xs, _tap, training) => {
      const out = layer.apply(xs.length === 1 ? (xs[0] as Tensor) : [...xs], { training });
      return Array.isArray(out) ? out : [out];
    },
  };
}
