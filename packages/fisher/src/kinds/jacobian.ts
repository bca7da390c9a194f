/**
 * The `jacobian` factor kind: explicit per-sample gradients (parameters with cheap per-sample gradients —
 * scale-and-shift, embeddings, depthwise filters — and the generic fallback).
 * @module
 */
import type { Matrix } from '@ifngd/linalg-gpu';
import { jacobianGram } from '../jacobian.js';
import { requireMatrix, requireRank } from '../validate.js';
import type { FactorKind } from './registry.js';

/** Explicit per-sample gradients. */
export interface JacobianFactors {
  readonly kind: 'jacobian';
  /** Per-sample gradients `[n,d]`. */
  readonly jacobian: Matrix;
}

/** `G = J·Jᵀ` ({@link jacobianGram}). */
export const jacobianKind: FactorKind<JacobianFactors> = {
  kind: 'jacobian',
  samples(f) {
    requireMatrix(f.jacobian, 'jacobian', 'jacobian factors');
    requireRank(f.jacobian, 2, 'jacobian', 'jacobian factors');
    return f.jacobian.rows;
  },
  gram: (dev, f) => jacobianGram(dev, f.jacobian),
};
