/**
 * `@ifngd/fisher`: the low-rank empirical Fisher of FNGD. Per-sample Gram matrices straight from layer
 * factors (J is never formed), and the Sherman–Morrison–Woodbury coefficients `α = (G + nλI)⁻¹·1` that turn
 * the d×d damped natural gradient into an n×n solve: `(JᵀJ/n + λI)⁻¹·Jᵀ1/n = Jᵀα`.
 *
 * ```ts
 * const g = sumGrams(dev, layers.map((f) => layerGram(dev, f)));   // global mode, [n,n]
 * const { alpha } = await solveCoefficients(dev, g, 1e-3);         // n floats, never NaN
 * ```
 * @packageDocumentation
 */
export { jacobianGram } from './jacobian.js';
export { denseGram, type GramOptions } from './dense.js';
export { conv2dGram, type Conv2dGramOptions } from './conv.js';
export { conv2dGramCost, conv2dGramMethod, type Conv2dGramMethod } from './conv-plan.js';
export { layerGram } from './layer.js';
export {
  factorKindOf,
  factorKinds,
  factorSamples,
  registerFactorKind,
  type FactorKind,
  type FactorKinds,
  type LayerFactors,
} from './kinds/registry.js';
export type { Conv2dFactors } from './kinds/conv2d.js';
export type { DenseFactors } from './kinds/dense.js';
export type { JacobianFactors } from './kinds/jacobian.js';
export type { GramFactors } from './kinds/gram.js';
export { stackGrams, sumGrams } from './combine.js';
export { naturalGradient, smwCoefficients } from './smw.js';
export { solveCoefficients, type CoefficientSolve, type SolveOptions } from './solve.js';
export { IfngdError } from '@ifngd/linalg-gpu';
export {
  FactorizationError,
  FisherArgumentError,
  FisherError,
  InvalidDampingError,
  NonFiniteError,
  ShapeMismatchError,
  type FisherErrorCode,
} from './errors.js';
