/**
 * `@ifngd/adapters-tfjs/internal`: the trainer's building blocks — the capture pass and its per-sample factors,
 * patch unfolding, factor upload, weighted gradients, tree helpers, the seeded generator. This repository's tests,
 * benchmarks and examples use them; they are not part of the public API (no semver promise).
 * @module
 */
export { capture, captureAsync, type Capture, type SiteGroup, type SiteRecord } from './capture.js';
export { unfoldPatches, PatchFilters } from './patches.js';
export { uploadFactors } from './upload.js';
export { perSampleJacobian, weightedGroupGrads, weightedLossGradsAsync } from './weighted-grads.js';
export { collectTensors, makeTree, type ShapeMap } from './tree-ops.js';
export { mixSeed, mulberry32 } from './rng.js';
