/**
 * FNGD through the optimizer contract. Per step: the coefficients (`factors('gram')` only on a miss, a refresh
 * or a probe), the α-weighted gradient `Jᵀα` (plain parameters weighted 1/(nλ), the regularizers' gradients 1/λ,
 * so that the direction λ·(Jᵀα + ∇R/λ) ends in the mean gradient and ∇R as λ grows), then `propose` where the
 * trees live, one read of its scalars with the trainer's own, and `settle`.
 * @module
 */
import type { BatchKey } from '../cache.js';
import { InvalidArgumentError } from '../errors.js';
import { FNGD_CHECKPOINT_FORMAT } from '../optimizer-checkpoint.js';
import { fngd, type FngdOptimizer } from '../fngd.js';
import type { FngdOptions } from '../options.js';
import type { OptimizerDefinition, StepCapture, StepOutcome, TrainingOptimizer } from './contract.js';

/** FNGD's options as a trainer takes them (the trainer supplies the device and its trees). */
export type FngdTrainingOptions = Omit<FngdOptions<never, never>, 'device' | 'ops'>;

/** An {@link FngdOptimizer} as trainers drive it. */
export class FngdTraining<T> implements TrainingOptimizer<T> {
  readonly kind = 'fngd';
  readonly inner: FngdOptimizer<T, unknown>;

  constructor(inner: FngdOptimizer<T, unknown>) {
    this.inner = inner;
  }

  get state(): unknown {
    return this.inner.state;
  }

  get stats(): unknown {
    return this.inner.stats;
  }

  init(params: T): Promise<void> {
    return this.inner.initAsync(params);
  }

  async step(capture: StepCapture<T>): Promise<StepOutcome<T>> {
    const opt = this.inner;
    const n = capture.n;
    const c = await opt.coefficients({ batchKey: capture.batchKey, epoch: capture.epoch, n, factors: () => capture.factors('gram') });
    const g = await capture.gradients({
      weights: c.layers === 1 ? c.alpha : (block) => c.layer(block),
      plainWeight: 1 / (n * c.damping),
      penalties: 1 / c.damping,
    });
    const proposal = capture.contain(() => opt.propose(g.grads, g.params, { coefficients: c }));
    const { values, loss } = await capture.read(proposal.scalars);
    const params = opt.settle(proposal, values, { loss });
    return { params, loss, fresh: c.fresh && !c.skipped };
  }

  retain(keys: Iterable<BatchKey>): number {
    return this.inner.retain(keys);
  }

  serialize(): Uint8Array {
    return this.inner.serialize();
  }

  restore(bytes: Uint8Array): void {
    this.inner.restore(bytes);
  }

  dispose(): void {}
}

export const fngdDefinition: OptimizerDefinition<FngdTrainingOptions> = {
  kind: 'fngd',
  checkpointFormat: FNGD_CHECKPOINT_FORMAT,
  trees: 'any',
  perSampleGradients: true,
  create(options, env) {
    if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new InvalidArgumentError('fngd: options must be an object');
    for (const k of ['device', 'ops'] as const) if (k in options) throw new InvalidArgumentError(`fngd.${k} is set by the trainer; remove it`);
    return new FngdTraining(fngd({ ...(options as object), device: env.device, ops: env.ops } as FngdOptions<any, any>)) as never;
  },
};
