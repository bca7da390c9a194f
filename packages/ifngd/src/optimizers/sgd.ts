/**
 * SGD as PyTorch's `torch.optim.SGD` runs it: L2 weight decay added to the gradient, then heavy-ball or Nesterov
 * momentum `b ← μb + g` (update `b`, or `g + μb`), then `θ ← θ − lr·update`.
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import type { HostTree } from '../tree.js';
import type { Schedule } from '../schedule.js';
import type { OptimizerDefinition } from './contract.js';
import { hostOptions, HostOptimizer, numberOption, type HostOptimizerOptions } from './host-optimizer.js';

/** Options of the `'sgd'` optimizer. */
export interface SgdOptions extends HostOptimizerOptions {
  /** Default 0.01. */
  readonly learningRate?: number | Schedule;
  /** Momentum μ ∈ [0, 1); default 0 (none). */
  readonly momentum?: number;
  /** Nesterov momentum; default false. */
  readonly nesterov?: boolean;
  /** L2 weight decay added to the gradient (PyTorch's `weight_decay`), ≥ 0; default 0. */
  readonly weightDecay?: number;
}

/** The state of SGD: the momentum buffers (none without momentum). */
export interface SgdState {
  readonly buffer: HostTree | null;
}

export const sgdDefinition: OptimizerDefinition<SgdOptions> = {
  kind: 'sgd',
  checkpointFormat: 'ifngd-sgd',
  trees: 'host',
  create(options, env) {
    const shared = hostOptions(options, ['momentum', 'nesterov', 'weightDecay'], 'sgd', 0.01);
    const o = options as Record<string, unknown>;
    const mu = numberOption(o, 'momentum', 0, (v) => v >= 0 && v < 1, 'in [0, 1)', 'sgd');
    const wd = numberOption(o, 'weightDecay', 0, (v) => v >= 0 && Number.isFinite(v), 'finite and ≥ 0', 'sgd');
    const nesterov = o['nesterov'] ?? false;
    if (typeof nesterov !== 'boolean') throw new InvalidArgumentError(`sgd: nesterov must be a boolean, got ${String(nesterov)}`);
    if (nesterov && mu === 0) throw new InvalidArgumentError('sgd: nesterov needs momentum > 0 (as PyTorch)');
    const opt = new HostOptimizer<SgdState>(
      'sgd',
      'ifngd-sgd',
      {
        init: (params) => ({ buffer: mu > 0 ? Object.fromEntries(Object.entries(params).map(([k, v]) => [k, new Float32Array(v.length)])) : null }),
        update(grads, state, params, lr) {
          const updates: Record<string, Float32Array> = {};
          const buffer: Record<string, Float32Array> = {};
          for (const [k, g] of Object.entries(grads)) {
            const p = params[k] as Float32Array;
            const b0 = state.buffer?.[k];
            const u = new Float32Array(g.length);
            const b = new Float32Array(b0 ? g.length : 0);
            for (let i = 0; i < g.length; i++) {
              const gi = (g[i] as number) + wd * (p[i] as number);
              if (b0) {
                b[i] = mu * (b0[i] as number) + gi;
                u[i] = -lr * (nesterov ? gi + mu * (b[i] as number) : (b[i] as number));
              } else u[i] = -lr * gi;
            }
            updates[k] = u;
            buffer[k] = b;
          }
          return { updates, state: { buffer: state.buffer ? buffer : null } };
        },
      },
      shared,
      env.ops as never,
    );
    return opt as never;
  },
};
