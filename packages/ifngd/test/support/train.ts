/**
 * A minimal trainer for the tests: the FNGD step flow (coefficients → weighted gradient → step) over fixed
 * batches, with the MLP of `mlp.ts`.
 */
import type { LayerFactors } from '@ifngd/fisher';
import type { LinalgDevice } from '@ifngd/linalg-gpu';
import type { FngdOptimizer, HostTree } from '../../src/index.js';
import { deviceFactors, disposeFactors, forwardBackward, weightedGradient, type Batch, type Mlp } from './mlp.js';

/** Per-step record. */
export interface StepRecord {
  readonly epoch: number;
  readonly key: number;
  readonly loss: number;
  readonly fresh: boolean;
  /** ‖θ_new − θ_old‖. */
  readonly updateNorm: number;
}

/** Options of {@link train}. */
export interface TrainOptions {
  readonly epochs: number;
  /** First epoch number. Default 1. */
  readonly startEpoch?: number;
  /** Batch order per epoch (indices); default in order. */
  readonly order?: (epoch: number) => number[];
  /** Stop when the loss is not finite or exceeds this. Default 1e6. */
  readonly lossLimit?: number;
  /** Also report the after-step loss to the optimizer (adaptive damping). */
  readonly observeLoss?: boolean;
}

/** Runs the FNGD loop; returns the final parameters, the per-step records and how often factors were built. */
export async function train(
  dev: LinalgDevice,
  model: Mlp,
  opt: FngdOptimizer,
  params: HostTree,
  data: readonly Batch[],
  o: TrainOptions,
): Promise<{ params: HostTree; records: StepRecord[]; factorCalls: number; diverged: boolean }> {
  let theta = params;
  const records: StepRecord[] = [];
  let factorCalls = 0;
  const start = o.startEpoch ?? 1;
  for (let epoch = start; epoch < start + o.epochs; epoch++) {
    const order = o.order?.(epoch) ?? data.map((_, i) => i);
    for (const key of order) {
      const b = data[key]!;
      const pass = forwardBackward(model, theta, b);
      if (!Number.isFinite(pass.meanLoss) || pass.meanLoss > (o.lossLimit ?? 1e6)) {
        return { params: theta, records, factorCalls, diverged: true };
      }
      let made: LayerFactors[] | null = null;
      const c = await opt
        .coefficients({
          batchKey: key,
          epoch,
          n: b.n,
          factors: () => {
            factorCalls++;
            return (made = deviceFactors(dev, pass));
          },
        })
        .finally(() => made && disposeFactors(made));
      const g = weightedGradient(pass, c.alpha);
      const next = opt.step(g, theta, { coefficients: c, loss: pass.meanLoss });
      let u = 0;
      for (const k of Object.keys(next)) next[k]!.forEach((v, i) => (u += (v - theta[k]![i]!) ** 2));
      if (o.observeLoss) opt.observeLoss(forwardBackward(model, next, b).meanLoss);
      records.push({ epoch, key, loss: pass.meanLoss, fresh: c.fresh, updateNorm: Math.sqrt(u) });
      theta = next;
    }
  }
  return { params: theta, records, factorCalls, diverged: false };
}
