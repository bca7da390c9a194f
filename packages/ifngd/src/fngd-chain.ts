/**
 * The FNGD optimizer's transformation chain from its options: `scaleByFngd` (λ·Jᵀα and the reuse guard), then
 * `clipByGlobalNorm`, `momentum` and `weightDecay` when enabled, and `scaleByLearningRate` last.
 * @module
 */
import type { ResolvedOptions } from './options.js';
import { chain, type GradientTransformation } from './transform.js';
import { clipByGlobalNorm } from './transforms/clip.js';
import { scaleByFngd } from './transforms/fngd-scale.js';
import { scaleByLearningRate } from './transforms/learning-rate.js';
import { momentum } from './transforms/momentum.js';
import { weightDecay } from './transforms/weight-decay.js';
import type { TreeOps } from './tree.js';

/** The chain (its state: one entry per transform, in order). */
export function fngdChain<T>(o: ResolvedOptions, ops: TreeOps<T, unknown>): GradientTransformation<unknown[], T> {
  const parts: GradientTransformation<any, T>[] = [scaleByFngd(ops)];
  if (o.clipNorm !== null) parts.push(clipByGlobalNorm(o.clipNorm, ops));
  if (o.momentum) parts.push(momentum(o.momentum, ops));
  if (o.weightDecay > 0) parts.push(weightDecay(o.weightDecay, ops));
  parts.push(scaleByLearningRate(o.learningRate, ops));
  return chain<T, GradientTransformation<any, T>[]>(...parts) as GradientTransformation<unknown[], T>;
}
