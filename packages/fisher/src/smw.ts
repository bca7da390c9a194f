/**
 * Sherman–Morrison–Woodbury coefficients and the natural-gradient direction, enqueued on the device.
 *
 * With per-sample gradients J (`[n,d]`), F = JᵀJ/n and g = Jᵀ1/n:
 * `(F + λI)⁻¹g = Jᵀ·α` with `α = (J·Jᵀ + nλI)⁻¹·1` — an n×n solve instead of a d×d one.
 * @module
 */
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import { scoped } from './scope.js';
import { dampingShift, requireMatrix, requireSquare } from './validate.js';

/**
 * SMW coefficients `α = (G + nλI)⁻¹·1` through a (batched) Cholesky solve; G `[n,n]` → `[n,1]`,
 * `[L,n,n]` (layer-wise) → `[L,n,1]`. Synchronous enqueue: if a factorization breaks down, reading the result
 * throws linalg-gpu's `NotPositiveDefiniteError` (use {@link solveCoefficients} for the robust host path).
 * @throws {@link InvalidDampingError} unless `damping` is finite and > 0.
 */
export function smwCoefficients(dev: LinalgDevice, gram: Matrix, damping: number): Matrix {
  const what = 'smwCoefficients';
  requireMatrix(gram, 'gram', what);
  requireSquare(gram, 'gram', what);
  const shift = dampingShift(damping, gram.rows, what);
  return scoped((s) => dev.choleskySolve(gram, s.tmp(dev.full([gram.rows, 1], 1)), { shift }));
}

/**
 * The damped natural-gradient direction `(JᵀJ/n + λI)⁻¹·Jᵀ1/n = Jᵀ·α` from per-sample gradients J:
 * `[n,d]` → `[d,1]` (`[L,n,d]` → `[L,d,1]`, one block per layer).
 * @throws {@link InvalidDampingError} unless `damping` is finite and > 0.
 */
export function naturalGradient(dev: LinalgDevice, jacobian: Matrix, damping: number): Matrix {
  const what = 'naturalGradient';
  requireMatrix(jacobian, 'jacobian', what);
  dampingShift(damping, jacobian.rows, what);
  return scoped((s) => {
    const alpha = s.tmp(smwCoefficients(dev, s.tmp(dev.gram(jacobian)), damping));
    return dev.gemm(jacobian, alpha, { transA: true });
  });
}
