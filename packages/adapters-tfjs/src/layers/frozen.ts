/**
 * Frozen layers (`trainable: false`, or inside a frozen model): applied as tfjs applies them, forward only —
 * their weights are constants of the forward pass, gradients flow through them to the layers below. (Blocks that
 * treat frozen layers otherwise — BatchNormalization in inference mode — say so with `compilesFrozen`.)
 * @module
 */
import type { Tensor } from '@tensorflow/tfjs-core';
import type { LayerLike, LayerOp } from './types.js';

/** The op of a frozen layer. */
export function frozenOp(layer: LayerLike): LayerOp {
  return {
    foldable: null,
    apply: (xs, _tap, training) => {
      const out = layer.apply(xs.length === 1 ? (xs[0] as Tensor) : [...xs], { training });
      return Array.isArray(out) ? out : [out];
    },
  };
}
