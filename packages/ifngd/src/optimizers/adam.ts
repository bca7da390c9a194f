/**
 * Adam and AdamW as PyTorch runs them (`torch.optim.Adam`, `torch.optim.AdamW`): bias-corrected moments,
 * `u = m̂/(√v̂ + ε)`. Adam's `weightDecay` is L2 (added to the gradient before the moments); AdamW's is decoupled
 * (`θ ← θ − lr·(u + wd·θ)`).
 * @module
 */
import type { HostTree } from '../tree.js';
import type { Schedule } from '../schedule.js';
import { scaleByAdam, type AdamState } from '../transforms/adam.js';
import type { OptimizerDefinition, OptimizerEnv, TrainingOptimizer } from './contract.js';
import { hostOptions, HostOptimizer, numberOption, type HostOptimizerOptions } from './host-optimizer.js';

/** Options of the `'adam'` and `'adamw'` optimizers. */
export interface AdamOptions extends HostOptimizerOptions {
  /** Default 0.001. */
  readonly learningRate?: number | Schedule;
  /** First-moment decay β₁ ∈ [0, 1); default 0.9. */
  readonly beta1?: number;
  /** Second-moment decay β₂ ∈ [0, 1); default 0.999. */
  readonly beta2?: number;
  /** ε > 0; default 1e-8. */
  readonly epsilon?: number;
  /** Weight decay ≥ 0: L2 for `'adam'` (default 0), decoupled for `'adamw'` (default 0.01, PyTorch's). */
  readonly weightDecay?: number;
}

/** Creates Adam (`decoupled` false) or AdamW on host trees. */
function createAdam(kind: 'adam' | 'adamw', options: AdamOptions, env: OptimizerEnv<HostTree>): TrainingOptimizer<HostTree> {
  const decoupled = kind === 'adamw';
  const shared = hostOptions(options, ['beta1', 'beta2', 'epsilon', 'weightDecay'], kind, 0.001);
  const o = options as Record<string, unknown>;
  const moments = scaleByAdam(
    {
      beta1: numberOption(o, 'beta1', 0.9, (v) => v >= 0 && v < 1, 'in [0, 1)', kind),
      beta2: numberOption(o, 'beta2', 0.999, (v) => v >= 0 && v < 1, 'in [0, 1)', kind),
      epsilon: numberOption(o, 'epsilon', 1e-8, (v) => v > 0 && Number.isFinite(v), 'finite and > 0', kind),
    },
    kind,
  );
  const wd = numberOption(o, 'weightDecay', decoupled ? 0.01 : 0, (v) => v >= 0 && Number.isFinite(v), 'finite and ≥ 0', kind);
  return new HostOptimizer<AdamState>(
    kind,
    `ifngd-${kind}`,
    {
      init: (params) => moments.init(params),
      update(grads, state, params, lr) {
        const g = decoupled || wd === 0 ? grads : Object.fromEntries(Object.entries(grads).map(([k, v]) => [k, v.map((x, i) => x + wd * (params[k]![i] as number))]));
        const r = moments.update(g, state, params, {});
        const updates = Object.fromEntries(
          Object.entries(r.updates).map(([k, u]) => {
            const p = params[k] as Float32Array;
            return [k, u.map((x, i) => -lr * (x + (decoupled ? wd * (p[i] as number) : 0)))];
          }),
        );
        return { updates, state: r.state };
      },
    },
    shared,
    env.ops,
  );
}

export const adamDefinition: OptimizerDefinition<AdamOptions> = {
  kind: 'adam',
  checkpointFormat: 'ifngd-adam',
  trees: 'host',
  create: (options, env) => createAdam('adam', options, env as OptimizerEnv<HostTree>) as never,
};

export const adamwDefinition: OptimizerDefinition<AdamOptions> = {
  kind: 'adamw',
  checkpointFormat: 'ifngd-adamw',
  trees: 'host',
  create: (options, env) => createAdam('adamw', options, env as OptimizerEnv<HostTree>) as never,
};
