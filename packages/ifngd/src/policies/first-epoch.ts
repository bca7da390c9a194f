/**
 * `'first-epoch'` (the paper's): a batch's coefficients are computed at its first visit and reused ever after.
 * @module
 */
import { statelessRule } from './stateless.js';
import type { RefreshPolicyDefinition } from './types.js';

export const firstEpochPolicy: RefreshPolicyDefinition<true> = {
  kind: 'first-epoch',
  names: ['first-epoch'],
  parse: (p) => (p === 'first-epoch' ? true : undefined),
  guardReference: 'global-max',
  idleFields: {},
  check: () => null,
  create: () => statelessRule('first-epoch', () => 'hit'),
};
