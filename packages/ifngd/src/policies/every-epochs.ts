/**
 * `{ everyEpochs: k }`: a batch's coefficients are recomputed once they are k epochs old.
 * @module
 */
import { positive } from '../drift-options.js';
import { namedForm } from './forms.js';
import { statelessRule } from './stateless.js';
import type { RefreshPolicyDefinition } from './types.js';

export const everyEpochsPolicy: RefreshPolicyDefinition<number> = {
  kind: 'every',
  names: ['everyEpochs'],
  parse: (p) => namedForm<number, number>(p, 'everyEpochs', (k) => positive(k, 'everyEpochs', true), false),
  guardReference: 'global-max',
  idleFields: {},
  check: () => null,
  create: (epochs) => statelessRule('every', (entry, epoch) => (epoch - entry.epoch >= epochs ? 'refresh' : 'hit')),
};
