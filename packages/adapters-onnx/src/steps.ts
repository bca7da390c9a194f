/**
 * One optimizer step on a validated batch: FNGD (coefficients, then the α-weighted gradient pass) or KFAC (the
 * factor pass when the running averages are due, the mean-loss gradient always: two ORT passes on factor
 * steps, one otherwise). Each returns the new parameters and the batch's mean loss; the caller commits them.
 *
 * One rule for non-finite values, `ifngd`'s: a non-finite batch loss, Gram, factor, gradient or update throws
 * `NonFiniteError` under `onNonFinite: 'throw'` (the loss before the optimizer's step, so nothing changes) and is a
 * counted skip that changes nothing else under `'skip'` (the loss is handed to the optimizer, which skips).
 * @module
 */
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import { NonFiniteError, type FngdOptimizer, type HostTree, type KfacOptimizer } from 'ifngd';
import type { Tensor } from 'onnxruntime-common';
import type { Passes } from './passes.js';

/** The outcome of a step, not yet committed. */
export interface StepResult {
  readonly params: HostTree;
  readonly loss: number;
}

/** What a step needs besides the optimizer. */
export interface StepContext {
  readonly passes: Passes;
  readonly device: LinalgDevice;
  /** Trainable layers. */
  readonly layers: number;
  readonly params: HostTree;
  /** Feeds of the training graphs (`Passes.baseFeeds`). */
  readonly base: Record<string, Tensor>;
  readonly n: number;
  /** The optimizer's `onNonFinite`. */
  readonly onNonFinite: 'throw' | 'skip';
}

/** The loss as the optimizer's `loss` extra: throws for a non-finite one under `'throw'`; under `'skip'` the optimizer skips on it. */
function lossExtra(loss: number, onNonFinite: 'throw' | 'skip'): { loss: number } {
  if (!Number.isFinite(loss) && onNonFinite === 'throw') throw new NonFiniteError(`step: the batch's mean loss is ${loss} (onNonFinite: 'throw'); nothing changed`);
  return { loss };
}

/**
 * One FNGD step: coefficients (factor pass only when the optimizer asks), the α-weighted gradient, the update.
 * A throw after `coefficients()` (the gradient pass failing, a non-finite loss, the optimizer's step) leaves the
 * optimizer as it was because `ifngd` stages what `coefficients()` does until `step()` succeeds.
 */
export async function fngdStep(opt: FngdOptimizer, cx: StepContext, batchKey: string | number, epoch: number): Promise<StepResult> {
  const { passes, base, n, layers: L } = cx;
  const created: Matrix[] = [];
  let c;
  try {
    c = await opt.coefficients({ batchKey, epoch, n, factors: () => passes.factors(base, cx.device, created) });
  } finally {
    for (const m of created) m.dispose();
  }
  const alpha = new Float32Array(L * n);
  for (let l = 0; l < L; l++) alpha.set(c.layers === 1 ? c.alpha : c.layer(l), l * n);
  const { grads, loss } = await passes.gradients(base, alpha, n);
  const params = opt.step(grads, cx.params, { coefficients: c, ...lossExtra(loss, cx.onNonFinite) });
  return { params, loss };
}

/** One KFAC step: the factor pass when the running averages are due, the mean-loss gradient always. */
export async function kfacStep(opt: KfacOptimizer, cx: StepContext): Promise<StepResult> {
  const { passes, base, n, layers: L } = cx;
  const created: Matrix[] = [];
  try {
    // KFAC's layers are the Kronecker ones; scale-shift parameters (explicit per-sample gradients) take the plain gradient
    const factors = opt.factorsDue ? (await passes.factors(base, cx.device, created)).filter((f) => f.kind !== 'jacobian') : undefined;
    const { grads, loss } = await passes.gradients(base, new Float32Array(L * n).fill(1 / n), n);
    const params = await opt.step(grads, cx.params, { ...(factors ? { factors } : {}), ...lossExtra(loss, cx.onNonFinite) });
    return { params, loss };
  } finally {
    for (const m of created) m.dispose();
  }
}
