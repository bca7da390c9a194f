/**
 * `'first-epoch'` (the paper's): a batch's coefficients are computed at its first visit and reused ever after.
 * @module
 */
import { statelessPolicy } from './stateless.js';

export const firstEpochPolicy = statelessPolicy('first-epoch', () => 'hit');
