/**
 * KFAC's pure transformation chain, built from the shared transforms:
 * `applyIfFinite(chain(scaleByKfac, clipByGlobalNorm?, momentum?, weightDecay?, scaleByLearningRate))` — the
 * same order as FNGD's (preconditioner, clip, momentum, decoupled weight decay, learning rate).
 * @module
 */
import { chain, type GradientTransformation } from '../transform.js';
import { applyIfFinite, type ApplyIfFiniteState } from '../transforms/apply-if-finite.js';
import { clipByGlobalNorm } from '../transforms/clip.js';
import { scaleByLearningRate } from '../transforms/learning-rate.js';
import { momentum } from '../transforms/momentum.js';
import { weightDecay } from '../transforms/weight-decay.js';
import type { TreeOps } from '../tree.js';
import type { ResolvedKfacOptions } from './options.js';
import { scaleByKfac, type KfacScaleState } from './scale.js';

/** State of the optimizer's transformation chain (`applyIfFinite` around the chained transforms' states). */
export type KfacChainState = ApplyIfFiniteState<unknown[]>;

/** The chain for resolved options (validates momentum, weight decay, clip norm: `InvalidArgumentError`). */
export function kfacTransformation<T>(
  o: ResolvedKfacOptions,
  ops: TreeOps<T>,
): GradientTransformation<KfacChainState, T> {
  const parts: GradientTransformation<any, T>[] = [
    scaleByKfac({ klClip: o.klClip, learningRate: o.learningRate }, ops),
  ];
  if (o.clipNorm !== null) parts.push(clipByGlobalNorm(o.clipNorm, ops));
  if (o.momentum) parts.push(momentum(o.momentum, ops));
  if (o.weightDecay > 0) parts.push(weightDecay(o.weightDecay, ops));
  parts.push(scaleByLearningRate(o.learningRate, ops));
  const inner = chain<T, GradientTransformation<any, T>[]>(...parts);
  return applyIfFinite(inner, ops) as GradientTransformation<KfacChainState, T>;
}

/** The `scaleByKfac` sub-state (always the chain's first). */
export const kfacScaleState = (s: KfacChainState): KfacScaleState => s.inner[0] as KfacScaleState;

/** The chain state after a skipped step: inner states kept, skip counters advanced. */
export const skippedChain = (s: KfacChainState): KfacChainState => ({
  ...s,
  consecutive: s.consecutive + 1,
  skipped: s.skipped + 1,
  lastApplied: false,
});
