/**
 * The `conv2d` factor kind: unfolded input patches and output-gradients of a layer whose weight is shared over
 * positions (convolutions of any dimension, dense layers over sequences, a weight applied at several sites).
 * @module
 */
import type { Matrix } from '@ifngd/linalg-gpu';
import { conv2dGram } from '../conv.js';
import { ShapeMismatchError } from '../errors.js';
import { fmt, requireMatrix, requireRank } from '../validate.js';
import type { FactorKind } from './registry.js';

/** Factors of a weight shared over T positions. */
export interface Conv2dFactors {
  readonly kind: 'conv2d';
  /** `[n,T,k]` unfolded input patches per sample. */
  readonly patches: Matrix;
  /** `[n,T,c]`. */
  readonly outputGrads: Matrix;
  /** Default `true`. */
  readonly bias?: boolean;
}

/** `Gᵢⱼ = Σₜₛ (aᵢₜ·aⱼₛ + 1)(δᵢₜ·δⱼₛ)` ({@link conv2dGram}). */
export const conv2dKind: FactorKind<Conv2dFactors> = {
  kind: 'conv2d',
  samples(f) {
    requireMatrix(f.patches, 'patches', 'conv2d factors');
    requireMatrix(f.outputGrads, 'outputGrads', 'conv2d factors');
    requireRank(f.patches, 3, 'patches', 'conv2d factors');
    requireRank(f.outputGrads, 3, 'outputGrads', 'conv2d factors');
    if (f.patches.batch !== f.outputGrads.batch || f.patches.rows !== f.outputGrads.rows) {
      throw new ShapeMismatchError(`conv2d factors: patches ${fmt(f.patches)} and outputGrads ${fmt(f.outputGrads)} must be [n,T,·] with the same n, T`);
    }
    return f.patches.batch;
  },
  gram: (dev, f) => conv2dGram(dev, f.patches, f.outputGrads, f.bias === undefined ? {} : { bias: f.bias }),
};
