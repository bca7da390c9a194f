/**
 * Curvature factors of one layer, as data, and the Gram they define.
 * @module
 */
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import { conv2dGram } from './conv.js';
import { denseGram } from './dense.js';
import { FisherArgumentError } from './errors.js';
import { jacobianGram } from './jacobian.js';

/**
 * What a layer contributes to the per-sample Gram. Output-gradients are gradients of the *summed* loss
 * `Σᵢ ℓᵢ` w.r.t. the layer's pre-activations (so row i is sample i's own gradient).
 */
export type LayerFactors =
  | {
      readonly kind: 'dense';
      /** `A`, `[n,din]` layer inputs. */
      readonly inputs: Matrix;
      /** `Δ`, `[n,dout]`. */
      readonly outputGrads: Matrix;
      /** Default `true`. */
      readonly bias?: boolean;
    }
  | {
      readonly kind: 'conv2d';
      /** `[n,T,k]` unfolded input patches per sample. */
      readonly patches: Matrix;
      /** `[n,T,c]`. */
      readonly outputGrads: Matrix;
      /** Default `true`. */
      readonly bias?: boolean;
    }
  | {
      readonly kind: 'jacobian';
      /** Per-sample gradients `[n,d]`. */
      readonly jacobian: Matrix;
    };

/** The `[n,n]` per-sample Gram of one layer's factors (dispatches to {@link denseGram}, {@link conv2dGram}, {@link jacobianGram}). */
export function layerGram(dev: LinalgDevice, factors: LayerFactors): Matrix {
  const f = factors as LayerFactors | null | undefined;
  switch (f?.kind) {
    case 'dense':
      return denseGram(dev, f.inputs, f.outputGrads, f.bias === undefined ? {} : { bias: f.bias });
    case 'conv2d':
      return conv2dGram(dev, f.patches, f.outputGrads, f.bias === undefined ? {} : { bias: f.bias });
    case 'jacobian':
      return jacobianGram(dev, f.jacobian);
    default:
      throw new FisherArgumentError(
        `layerGram: factors.kind must be 'dense', 'conv2d' or 'jacobian', got ${String((f as { kind?: unknown } | null | undefined)?.kind)}`,
      );
  }
}
