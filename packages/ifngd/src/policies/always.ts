/**
 * `'always'`: every request recomputes the batch's coefficients — exact damped natural gradient every step,
 * the reference the reusing policies are measured against.
 * @module
 */
import { statelessRule } from './stateless.js';
import type { RefreshPolicyDefinition } from './types.js';

export const alwaysPolicy: RefreshPolicyDefinition<true> = {
  kind: 'always',
  names: ['always'],
  parse: (p) => (p === 'always' ? true : undefined),
  guardReference: 'global-max',
  idleFields: {},
  check: () => null,
  create: () => statelessRule('always', () => 'refresh'),
};
