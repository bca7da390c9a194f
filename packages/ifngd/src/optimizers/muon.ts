/**
 * Muon (Keller Jordan's reference, `MuonWithAuxAdam`): the hidden layers' weight matrices take momentum
 * orthogonalized by Newton–Schulz (`newton-schulz.ts`); every other leaf — biases, normalization and embedding
 * parameters, and by default the output layer — takes Adam, as the reference prescribes. Per matrix leaf W
 * (out × in, whatever its storage layout):
 * `b ← βb + (1−β)g`, `u = (1−β)g + βb` (Nesterov; `b` without), `O = NS₅(u)`,
 * `W ← W(1 − lr·wd) − lr·√max(1, out/in)·O`.
 * @module
 */
import { asSchedule, type Schedule } from '../schedule.js';
import { checkKeys, checkObject } from '../option-keys.js';
import { scheduledRate } from '../rate.js';
import type { HostTree } from '../tree.js';
import { scaleByAdam, type AdamState } from '../transforms/adam.js';
import { InvalidArgumentError } from '../errors.js';
import type { MatrixLayer, OptimizerDefinition, OptimizerEnv } from './contract.js';
import { hostOptions, HostOptimizer, numberOption, type HostOptimizerOptions } from './host-optimizer.js';
import { orthogonalize } from './newton-schulz.js';

/** The Adam rule of Muon's other leaves. */
export interface MuonAdamOptions {
  /** Default 3e-4. */
  readonly learningRate?: number | Schedule;
  /** Default 0.9. */
  readonly beta1?: number;
  /** Default 0.95. */
  readonly beta2?: number;
  /** Default 1e-10. */
  readonly epsilon?: number;
  /** Decoupled weight decay; default 0. */
  readonly weightDecay?: number;
}

/** Options of the `'muon'` optimizer (defaults: the reference's). */
export interface MuonOptions extends HostOptimizerOptions {
  /** The matrices' learning rate; default 0.02. */
  readonly learningRate?: number | Schedule;
  /** Momentum β ∈ [0, 1); default 0.95. */
  readonly momentum?: number;
  /** Nesterov momentum; default true. */
  readonly nesterov?: boolean;
  /** Newton–Schulz iterations, 1–20; default 5. */
  readonly nsSteps?: number;
  /** The matrices' decoupled weight decay ≥ 0; default 0. */
  readonly weightDecay?: number;
  /**
   * The output layer — the last of the trainer's matrix layers (a tfjs FunctionModel: the last of its `taps`) —
   * takes Adam (default, as the reference) or Muon.
   */
  readonly outputLayer?: 'adam' | 'muon';
  /** The Adam rule of every other leaf. */
  readonly adam?: MuonAdamOptions;
}

/** Muon's state: the step count, the matrices' momentum buffers and the other leaves' Adam moments. */
export interface MuonState {
  readonly count: number;
  readonly buffers: HostTree;
  readonly adam: AdamState;
}

/** A matrix leaf's shape as Muon sees it. */
interface MatrixLeaf {
  readonly rows: number;
  readonly cols: number;
  /** √max(1, out/in). */
  readonly scale: number;
}

function matrixLeaves(layers: readonly MatrixLayer[], plain: readonly string[], outputLayer: 'adam' | 'muon', sizes: ReadonlyMap<string, number>): Map<string, MatrixLeaf> {
  const chosen = outputLayer === 'adam' ? layers.slice(0, -1) : layers;
  const out = new Map<string, MatrixLeaf>();
  for (const l of chosen) {
    if (plain.includes(l.weight)) continue;
    const size = sizes.get(l.weight);
    if (size === undefined || !(l.outputs > 0) || size % l.outputs !== 0) throw new InvalidArgumentError(`muon: layer '${l.weight}' has ${String(size)} values, not a multiple of its ${l.outputs} outputs`);
    const inputs = size / l.outputs;
    const [rows, cols] = l.layout === 'out-in' ? [l.outputs, inputs] : [inputs, l.outputs];
    out.set(l.weight, { rows, cols, scale: Math.sqrt(Math.max(1, l.outputs / inputs)) });
  }
  return out;
}

const split = (t: HostTree, keep: (k: string) => boolean): HostTree => Object.fromEntries(Object.entries(t).filter(([k]) => keep(k)));

export const muonDefinition: OptimizerDefinition<MuonOptions> = {
  kind: 'muon',
  checkpointFormat: 'ifngd-muon',
  trees: 'host',
  create(options, envAny) {
    const env = envAny as OptimizerEnv<HostTree>;
    const shared = hostOptions(options, ['momentum', 'nesterov', 'nsSteps', 'weightDecay', 'outputLayer', 'adam'], 'muon', 0.02);
    const o = options as Record<string, unknown>;
    const beta = numberOption(o, 'momentum', 0.95, (v) => v >= 0 && v < 1, 'in [0, 1)', 'muon');
    const steps = numberOption(o, 'nsSteps', 5, (v) => Number.isInteger(v) && v >= 1 && v <= 20, 'an integer in 1–20', 'muon');
    const wd = numberOption(o, 'weightDecay', 0, (v) => v >= 0 && Number.isFinite(v), 'finite and ≥ 0', 'muon');
    const nesterov = o['nesterov'] ?? true;
    if (typeof nesterov !== 'boolean') throw new InvalidArgumentError(`muon: nesterov must be a boolean, got ${String(nesterov)}`);
    const outputLayer = o['outputLayer'] ?? 'adam';
    if (outputLayer !== 'adam' && outputLayer !== 'muon') throw new InvalidArgumentError(`muon: outputLayer must be 'adam' or 'muon', got ${String(outputLayer)}`);
    const a = (o['adam'] ?? {}) as Record<string, unknown>;
    checkObject(a, 'muon: adam');
    checkKeys(a, ['learningRate', 'beta1', 'beta2', 'epsilon', 'weightDecay'], 'muon: adam');
    const adamRate = a['learningRate'] ?? 3e-4;
    if (typeof adamRate === 'number' && !(adamRate >= 0 && Number.isFinite(adamRate))) throw new InvalidArgumentError(`muon: adam.learningRate must be finite and ≥ 0, got ${String(adamRate)}`);
    const adamLr = asSchedule(adamRate as number | Schedule, 'muon: adam.learningRate');
    const adamWd = numberOption(a, 'weightDecay', 0, (v) => v >= 0 && Number.isFinite(v), 'finite and ≥ 0', 'muon: adam');
    const moments = scaleByAdam(
      {
        beta1: numberOption(a, 'beta1', 0.9, (v) => v >= 0 && v < 1, 'in [0, 1)', 'muon: adam'),
        beta2: numberOption(a, 'beta2', 0.95, (v) => v >= 0 && v < 1, 'in [0, 1)', 'muon: adam'),
        epsilon: numberOption(a, 'epsilon', 1e-10, (v) => v > 0 && Number.isFinite(v), 'finite and > 0', 'muon: adam'),
      },
      'muon: adam',
    );
    let matrices: Map<string, MatrixLeaf> | null = null;
    const matricesOf = (params: HostTree): Map<string, MatrixLeaf> =>
      (matrices ??= matrixLeaves(env.layers, env.plain, outputLayer, new Map(Object.entries(params).map(([k, v]) => [k, v.length]))));
    return new HostOptimizer<MuonState>(
      'muon',
      'ifngd-muon',
      {
        init(params) {
          const m = matricesOf(params);
          const buffers = Object.fromEntries([...m.keys()].map((k) => [k, new Float32Array((params[k] as Float32Array).length)]));
          return { count: 0, buffers, adam: moments.init(split(params, (k) => !m.has(k))) };
        },
        async update(grads, state, params, lr) {
          const m = matricesOf(params);
          const updates: Record<string, Float32Array> = {};
          const buffers: Record<string, Float32Array> = {};
          // the matrices: momentum, then Newton–Schulz on the device (all enqueued, then read)
          const pending = [...m.entries()].map(([k, leaf]) => {
            const g = grads[k] as Float32Array;
            const b0 = state.buffers[k] as Float32Array;
            const b = new Float32Array(g.length);
            const u = new Float32Array(g.length);
            for (let i = 0; i < g.length; i++) {
              b[i] = beta * (b0[i] as number) + (1 - beta) * (g[i] as number);
              u[i] = nesterov ? (1 - beta) * (g[i] as number) + beta * (b[i] as number) : (b[i] as number);
            }
            buffers[k] = b;
            return orthogonalize(env.device, u, leaf.rows, leaf.cols, steps).then((ortho) => [k, leaf, ortho] as const);
          });
          for (const [k, leaf, ortho] of await Promise.all(pending)) {
            const p = params[k] as Float32Array;
            updates[k] = ortho.map((x, i) => -lr * (wd * (p[i] as number) + leaf.scale * x));
          }
          // every other leaf: Adam with its own rate (decoupled weight decay)
          const rest = (k: string) => !m.has(k);
          const r = moments.update(split(grads, rest), state.adam, split(params, rest), {});
          const alr = scheduledRate(adamLr, state.count, shared.onNonFinite === 'skip', 'step: muon adam');
          for (const [k, u] of Object.entries(r.updates)) {
            const p = params[k] as Float32Array;
            updates[k] = u.map((x, i) => -alr * (x + adamWd * (p[i] as number)));
          }
          return { updates, state: { count: state.count + 1, buffers, adam: r.state } };
        },
      },
      shared,
      env.ops,
    ) as never;
  },
};
