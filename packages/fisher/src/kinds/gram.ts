/**
 * The `gram` factor kind: a per-sample Gram computed by the caller (a layer whose Gram has a structure cheaper to
 * exploit where its factors live, such as an embedding's token-equality Gram).
 * @module
 */
import type { Matrix } from '@ifngd/linalg-gpu';
import { ShapeMismatchError } from '../errors.js';
import { fmt, requireMatrix, requireRank } from '../validate.js';
import type { FactorKind } from './registry.js';

/** A precomputed `[n,n]` per-sample Gram (symmetric, positive semi-definite). */
export interface GramFactors {
  readonly kind: 'gram';
  readonly gram: Matrix;
}

/** The Gram itself (a copy: the caller keeps its matrix). */
export const gramKind: FactorKind<GramFactors> = {
  kind: 'gram',
  samples(f) {
    requireMatrix(f.gram, 'gram', 'gram factors');
    requireRank(f.gram, 2, 'gram', 'gram factors');
    if (f.gram.rows !== f.gram.cols) throw new ShapeMismatchError(`gram factors: gram ${fmt(f.gram)} must be square [n,n]`);
    return f.gram.rows;
  },
  gram: (dev, f) => dev.scale(f.gram, 1),
};
