/**
 * `'always'`: every request recomputes the batch's coefficients — exact damped natural gradient every step,
 * the reference the reusing policies are measured against.
 * @module
 */
import { statelessPolicy } from './stateless.js';

export const alwaysPolicy = statelessPolicy('always', () => 'refresh');
