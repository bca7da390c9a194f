/**
 * The `dense` factor kind: layer inputs and output-gradients of a fully connected layer.
 * @module
 */
import type { Matrix } from '@ifngd/linalg-gpu';
import { denseGram } from '../dense.js';
import { ShapeMismatchError } from '../errors.js';
import { fmt, requireMatrix, requireRank } from '../validate.js';
import type { FactorKind } from './registry.js';

/** Factors of a dense layer `z = W·a (+ b)`. */
export interface DenseFactors {
  readonly kind: 'dense';
  /** `A`, `[n,din]` layer inputs. */
  readonly inputs: Matrix;
  /** `Δ`, `[n,dout]`. */
  readonly outputGrads: Matrix;
  /** Default `true`. */
  readonly bias?: boolean;
}

/** `G = (A·Aᵀ + 1)∘(Δ·Δᵀ)` ({@link denseGram}). */
export const denseKind: FactorKind<DenseFactors> = {
  kind: 'dense',
  samples(f) {
    requireMatrix(f.inputs, 'inputs', 'dense factors');
    requireMatrix(f.outputGrads, 'outputGrads', 'dense factors');
    requireRank(f.inputs, 2, 'inputs', 'dense factors');
    requireRank(f.outputGrads, 2, 'outputGrads', 'dense factors');
    if (f.inputs.rows !== f.outputGrads.rows) {
      throw new ShapeMismatchError(`dense factors: inputs ${fmt(f.inputs)} and outputGrads ${fmt(f.outputGrads)} must be [n,·] with the same n`);
    }
    return f.inputs.rows;
  },
  gram: (dev, f) => denseGram(dev, f.inputs, f.outputGrads, f.bias === undefined ? {} : { bias: f.bias }),
};
