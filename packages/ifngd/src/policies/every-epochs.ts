/**
 * `{ everyEpochs: k }`: a batch's coefficients are recomputed once they are k epochs old.
 * @module
 */
import { positive } from '../drift-options.js';
import { statelessRule } from './stateless.js';
import type { RefreshPolicyDefinition } from './types.js';

export const everyEpochsPolicy: RefreshPolicyDefinition<number> = {
  kind: 'every',
  names: ['everyEpochs'],
  parse(p) {
    if (typeof p !== 'object' || p === null || Array.isArray(p)) return undefined;
    const keys = Object.keys(p);
    if (keys.length !== 1 || keys[0] !== 'everyEpochs') return undefined;
    return positive((p as { everyEpochs: number }).everyEpochs, 'everyEpochs', true);
  },
  guardReference: 'global-max',
  idleFields: {},
  check: () => null,
  create: (epochs) => statelessRule('every', (entry, epoch) => (epoch - entry.epoch >= epochs ? 'refresh' : 'hit')),
};
