/**
 * KFAC through the optimizer contract. Per step: the Kronecker layers' factors when the running averages are due
 * (`factors('kronecker')`), the diagonal block's second moments then too, the mean-loss gradient with the
 * regularizers' gradients apart (added to the preconditioned direction, not preconditioned), one read, the step.
 * `nonKronecker` chooses what the parameters of no Kronecker layer get: the plain gradient (kfac-pytorch, the
 * default) or KFAC's diagonal block (kfac-jax), which needs a trainer that computes second moments.
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import { mixSeed } from '../rng.js';
import { kfac, type KfacOptimizer } from '../kfac/optimizer.js';
import { KFAC_CHECKPOINT_FORMAT } from '../kfac/checkpoint.js';
import type { KfacOptions } from '../kfac/options.js';
import type { HostTree } from '../tree.js';
import type { OptimizerDefinition, StepCapture, StepOutcome, TrainingOptimizer } from './contract.js';

/** KFAC's options as a trainer takes them: the trainer supplies the device, trees and layers. */
export type KfacTrainingOptions = Omit<KfacOptions<HostTree>, 'device' | 'ops' | 'layers' | 'diagonal'> & {
  /**
   * The parameters of no Kronecker layer (normalization scale and shift, depthwise filters, embeddings, PReLU,
   * transposed-convolution kernels, layers without a block): `'gradient'` (default) leaves them the plain gradient
   * (kfac-pytorch, whose defaults these are); `'diagonal'` preconditions them by their empirical-Fisher diagonal
   * (kfac-jax's diagonal blocks) — with a fixed learning rate and KL clipping it can take too long steps on
   * those parameters (the diagonal ignores their correlations).
   */
  readonly nonKronecker?: 'gradient' | 'diagonal';
  /**
   * The curvature's targets: `'empirical'` (default) — the batch's own, the empirical Fisher (kfac-pytorch's);
   * `'sampled'` — drawn from the model's predictive distribution at each factor step, the true Fisher (kfac-jax's
   * default), at one more forward pass per factor step. The gradient is always the batch's.
   */
  readonly fisher?: 'empirical' | 'sampled';
};

/** A {@link KfacOptimizer} as trainers drive it. */
export class KfacTraining implements TrainingOptimizer<HostTree> {
  readonly kind = 'kfac';
  readonly inner: KfacOptimizer<HostTree>;
  readonly #sampled: boolean;

  constructor(inner: KfacOptimizer<HostTree>, fisher: 'empirical' | 'sampled' = 'empirical') {
    this.inner = inner;
    this.#sampled = fisher === 'sampled';
  }

  get state(): unknown {
    return this.inner.state;
  }

  get stats(): unknown {
    return this.inner.stats;
  }

  async init(params: HostTree): Promise<void> {
    this.inner.init(params);
  }

  async step(capture: StepCapture<HostTree>): Promise<StepOutcome<HostTree>> {
    const opt = this.inner;
    const n = capture.n;
    const refreshes = opt.stats.inverseRefreshes;
    // the true Fisher's targets are drawn afresh at each factor step, seeded by the step count (a checkpoint resumes the draws)
    const how = this.#sampled ? { targets: 'sampled' as const, seed: mixSeed(0x6b666163, opt.stats.steps) } : undefined;
    const factors = opt.factorsDue ? await capture.factors('kronecker', how) : undefined;
    const diagonal = opt.diagonal;
    const moments = factors && diagonal.length > 0 && capture.secondMoments ? await capture.secondMoments(diagonal) : undefined;
    const g = await capture.gradients({ weights: new Float32Array(n).fill(1 / n), plainWeight: 1 / n, penalties: 'apart' });
    const { loss } = await capture.read([]);
    const penalties = g.penalties && Object.keys(g.penalties).length > 0 ? g.penalties : undefined;
    const params = await opt.step(g.grads, g.params, {
      ...(factors ? { factors } : {}),
      ...(moments ? { secondMoments: moments } : {}),
      ...(penalties ? { penaltyGrads: penalties } : {}),
      loss, // a non-finite loss: thrown under 'throw', a counted skip under 'skip' (ifngd's one rule)
      ...(capture.lossAt ? { lossAt: (p: HostTree) => capture.lossAt!(p) } : {}),
      ...(capture.gaussNewton ? { gaussNewton: (v: readonly HostTree[]) => capture.gaussNewton!(v) } : {}),
    });
    return { params, loss, fresh: opt.stats.inverseRefreshes > refreshes };
  }

  serialize(): Uint8Array {
    return this.inner.serialize();
  }

  restore(bytes: Uint8Array): void {
    this.inner.restore(bytes);
  }

  /** Releases the device copies of the inverses. */
  dispose(): void {
    this.inner.dispose();
  }
}

export const kfacDefinition: OptimizerDefinition<KfacTrainingOptions> = {
  kind: 'kfac',
  checkpointFormat: KFAC_CHECKPOINT_FORMAT,
  trees: 'host',
  create(options, env) {
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      throw new InvalidArgumentError('kfac: options must be an object (`{}` for KFAC_DEFAULTS)');
    }
    for (const k of ['device', 'ops', 'layers', 'diagonal'] as const) {
      if (k in options) throw new InvalidArgumentError(`kfac.${k} is set by the trainer; remove it`);
    }
    const { nonKronecker = 'gradient', fisher = 'empirical', ...rest } = options;
    if (fisher !== 'empirical' && fisher !== 'sampled') throw new InvalidArgumentError(`kfac: fisher must be 'empirical' or 'sampled', got ${String(fisher)}`);
    if (fisher === 'sampled' && !env.sampledTargets) {
      throw new InvalidArgumentError("kfac: fisher: 'sampled' draws targets from the model's predictive distribution, which needs a named loss ('softmax-cross-entropy', 'sigmoid-cross-entropy' or 'mse') on one output; use 'empirical'");
    }
    const adaptive = rest.adaptive;
    if (typeof adaptive === 'object' && adaptive !== null && adaptive.quadraticModel === 'gauss-newton' && env.gaussNewton !== true) {
      throw new InvalidArgumentError(
        "kfac: adaptive.quadraticModel 'gauss-newton' takes the batch's Gauss–Newton products, which this trainer cannot: they need a named loss ('softmax-cross-entropy', 'sigmoid-cross-entropy' or 'mse') on one output and a training-mode forward without random layers (Dropout, noise); use 'factors'",
      );
    }
    if (nonKronecker !== 'gradient' && nonKronecker !== 'diagonal') {
      throw new InvalidArgumentError(`kfac: nonKronecker must be 'gradient' or 'diagonal', got ${String(nonKronecker)}`);
    }
    const layers = env.layers.map((l) => ({ weight: l.weight, bias: l.bias, layout: l.layout }));
    const inLayers = new Set([...layers.flatMap((l) => [l.weight, l.bias]), ...env.plain]);
    const diagonal = nonKronecker === 'diagonal' ? env.leaves.filter((n) => !inLayers.has(n)) : [];
    if (diagonal.length > 0 && !env.secondMoments) {
      throw new InvalidArgumentError("kfac: nonKronecker: 'diagonal' needs per-sample second moments, which this trainer does not compute; use 'gradient'");
    }
    if (layers.length === 0 && diagonal.length === 0) {
      throw new InvalidArgumentError(
        "kfac: the trainer found no Kronecker layer (a trainable dense, convolution or recurrent kernel; a tfjs FunctionModel declares them in `taps`); precondition the other parameters with nonKronecker: 'diagonal', or train with FNGD",
      );
    }
    return new KfacTraining(kfac<HostTree>({ ...rest, device: env.device, layers, diagonal, ops: env.ops as never }), fisher) as never;
  },
};
