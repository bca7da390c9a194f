/**
 * Scaling by (minus) a learning rate or schedule; the last transform of an optimizer.
 * @module
 */
import { asSchedule, type Schedule } from '../schedule.js';
import type { GradientTransformation } from '../transform.js';
import { hostTreeOps, type HostTree, type TreeOps } from '../tree.js';

/** State of {@link scaleByLearningRate}: the schedule position. */
export interface LearningRateState {
  readonly count: number;
}

/** `u ← −lr(count)·u` (or `−extras.learningRate·u`, the rate its optimizer evaluated), `count ← count + 1`. */
export function scaleByLearningRate<T = HostTree>(
  learningRate: number | Schedule,
  ops: TreeOps<T, unknown> = hostTreeOps as unknown as TreeOps<T, unknown>,
): GradientTransformation<LearningRateState, T> {
  const lr = asSchedule(learningRate, 'scaleByLearningRate: learningRate');
  return {
    init: () => ({ count: 0 }),
    update: (updates, state, _params, extras) => ({ updates: ops.scale(updates, -(extras?.learningRate ?? lr(state.count))), state: { count: state.count + 1 } }),
  };
}
