/**
 * `conv2d`: `z = conv2d(x, K) (+ b)` (NHWC, kernel `[kh, kw, cin, cout]`); the inputs are unfolded into patches
 * `[n, T, kh·kw·cin]` in the kernel's flattening order, then it is the dense rule over positions (several sites
 * of one kernel: their positions side by side). Conv1D sites are conv2d sites of height 1.
 * @module
 */
import type { Conv2dGeometry } from '../model.js';
import { unfoldPatches } from '../patches.js';
import { sharedFactors, sharedWeightedGrads, type SiteRows } from './dense.js';
import type { SiteRule } from './types.js';

const patchRows: SiteRows = (s, ctx) => {
  const g = s.meta as Conv2dGeometry & { kernelShape?: readonly number[] };
  return unfoldPatches(s.inputs, g.kernelShape ?? (s.params['kernel'] as { shape: number[] }).shape, g, ctx.filters);
};

/** The conv2d rule. */
export const conv2dRule: SiteRule = {
  kind: 'conv2d',
  roles: ['kernel', 'bias'],
  kronecker: true,
  factors: (g, ctx) => sharedFactors(g, patchRows, ctx),
  weightedGrads: (g, w, ctx) => sharedWeightedGrads(g, w, patchRows, ctx),
};
