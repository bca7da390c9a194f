/**
 * The Gram of explicit per-sample gradients.
 * @module
 */
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import { requireMatrix } from './validate.js';

/**
 * Per-sample Gram `J·Jᵀ` of per-sample gradients `J` (rows = ∇ℓᵢ, *not* divided by n).
 * `[n,d]` → `[n,n]`; `[L,n,d]` (one Jacobian per layer) → `[L,n,n]`. Enqueues one SYRK.
 */
export function jacobianGram(dev: LinalgDevice, jacobian: Matrix): Matrix {
  requireMatrix(jacobian, 'jacobian', 'jacobianGram');
  return dev.gram(jacobian);
}
