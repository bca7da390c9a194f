/**
 * KFAC (Kronecker-factored approximate curvature) on the same layer factors and linalg device as FNGD.
 * @module
 */
export { kfac, KfacOptimizer, type KfacStepExtras } from './optimizer.js';
export type { KfacChainState } from './chain.js';
export { KFAC_DEFAULTS, type KfacLayer, type KfacOptions, type WeightLayout } from './options.js';
export type { FactorSource } from './curvature.js';
export type { KfacLayerState } from './layer-state.js';
export type { KfacDiagonalState, SecondMoments, SecondMomentSource } from './diagonal.js';
export type { LayerDims } from './dims.js';
export type { KfacStats } from './stats.js';
export type { KfacAdaptiveOptions, KfacAdaptiveState } from './adaptive.js';
export { scaleByKfac, type KfacScaleOptions, type KfacScaleState } from './scale.js';
export { KFAC_CHECKPOINT_VERSION } from './checkpoint.js';
export type { KfacStepInfo } from '../transform.js';
