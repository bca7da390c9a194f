/**
 * `ifngd/internal`: building blocks the adapters, examples and tests of this repository share but that are not
 * part of the public API (no semver promise): the repository's one seeded generator and the shuffles the batch
 * plan is made of, and the trainers' call queue and `fit` epochs. The public batch contract is `planBatches` / `permutation` in the package index.
 * @module
 */
export { mixSeed, mulberry32, shuffled } from './rng.js';
export { sampleTargets, type OutputForm, type SampledLoss } from './sampling.js';
export { differenceStep, gaussNewtonProducts } from './gauss-newton.js';
export { CallQueue } from './call-queue.js';
export { runPlannedEpochs, type PlannedFitHost, type PlannedFitOptions } from './planned-epochs.js';
export { inverseRoot, symmetricEigen, type SymmetricEigen } from './optimizers/symmetric-eigen.js';
