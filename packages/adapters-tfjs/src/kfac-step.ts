/**
 * KFAC in the tfjs trainer (`FngdTrainer.create(model, { loss, kfac })`). The model's Kronecker layers (its taps:
 * Dense, Conv1D/2D, recurrent and pointwise kernels — the site groups whose rule is `kronecker`) become KFAC
 * layers; tfjs kernels are `[in, out]` (Conv2D `[kh, kw, cin, cout]`, patches unfolded in that order), so every
 * layer has layout `'in-out'`. Every other trainable variable (normalization scale and shift, depthwise filters,
 * embeddings, PReLU, transposed-convolution kernels, layers without a block) is KFAC's diagonal block: its
 * empirical-Fisher diagonal from per-sample second moments (`kfac-moments.ts`). Per step:
 * 1. when the optimizer's running averages are due (`factorsDue`): one capture pass — layer inputs A and
 *    output-gradients Δ of the summed loss — gives KFAC's factors, the diagonal block's second moments and the
 *    mean-loss gradient `Σᵢ (1/n)∇ℓᵢ` (from the factors, as FNGD's α-weighted gradient with αᵢ = 1/n); otherwise
 *    one ordinary backward pass of the mean loss;
 * 2. gradients and parameters are read to the host in one awaited read (KFAC preconditions on the linalg
 *    device and keeps its state on the host: no synchronous read, so it runs on webgpu too) — with
 *    `trainBatch`'s target value check, verified right after it (`TargetError` before anything changes);
 * 3. `kfac.step(...)`, then `variable.assign`. A step that throws assigns nothing and, KFAC's steps being
 *    transactions, leaves the optimizer as it was.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import { hostTreeOps, kfac, type HostTree, type KfacLayer, type KfacOptimizer, type KfacOptions, type TreeOps } from 'ifngd';
import { captureAsync, type Capture } from './capture.js';
import { AdapterArgumentError } from './errors.js';
import { secondMoments } from './kfac-moments.js';
import { penaltyGrads } from './penalties.js';
import type { TapWeights } from './model.js';
import type { StepContext } from './step-context.js';
import type { TargetValueCheck } from './targets.js';
import { uploadFactors } from './upload.js';
import { perSampleJacobianAsync, weightedGroupGrads, weightedLossGradsAsync, wholeBatchJacobian } from './weighted-grads.js';
import type { SiteGroup } from './sites/types.js';

/**
 * KFAC options as the trainer takes them: `ifngd`'s `kfac` options without `device`, `ops` and `layers` (the
 * trainer supplies the device and maps the model's layers); every field optional, missing ones from
 * `KFAC_DEFAULTS`.
 */
export type TrainerKfacOptions = Omit<KfacOptions<HostTree>, 'device' | 'ops' | 'layers' | 'diagonal'> & {
  /**
   * The parameters of no Kronecker layer (normalization scale and shift, depthwise filters, embeddings, PReLU,
   * transposed-convolution kernels, layers without a block): `'gradient'` (default) leaves them the plain gradient
   * (kfac-pytorch, whose defaults these are); `'diagonal'` preconditions them by their empirical-Fisher diagonal
   * (kfac-jax's diagonal blocks) — with a fixed learning rate and KL clipping it can take too long steps on
   * those parameters (the diagonal ignores their correlations); see the adapter README.
   */
  readonly nonKronecker?: 'gradient' | 'diagonal';
};

/** What one KFAC step reports. */
export interface KfacStepResult {
  /** Mean loss of the batch before the step. */
  readonly loss: number;
  /** The step refreshed the damped inverses. */
  readonly fresh: boolean;
}

/** The KFAC layer specs of a model's taps (`names`: each variable's leaf name). */
export function kfacLayersOf(taps: readonly TapWeights[], names: ReadonlyMap<Variable, string>): KfacLayer[] {
  const name = (v: Variable): string => {
    const n = names.get(v);
    if (n === undefined) throw new AdapterArgumentError(`kfac: tapped variable '${v.name}' is not among the model's variables`);
    return n;
  };
  return taps.map((t) => ({ weight: name(t.kernel), bias: t.bias ? name(t.bias) : null, layout: 'in-out' }));
}

/** Reads float32 tensors to the host with one awaited read (one concatenation). */
async function readHost(tensors: readonly Tensor[]): Promise<Float32Array[]> {
  if (tensors.length === 0) return [];
  const flat = tf.tidy(() => tf.concat(tensors.map((t) => tf.reshape(tf.cast(t, 'float32'), [-1]))));
  try {
    const data = (await flat.data()) as Float32Array;
    let at = 0;
    return tensors.map((t) => data.slice(at, (at += t.size)));
  } finally {
    flat.dispose();
  }
}

/** The pieces of the trainer a KFAC step uses. */
export interface KfacStepContext extends StepContext {
  readonly taps: readonly TapWeights[];
  readonly device: LinalgDevice;
}

/** The KFAC branch of the trainer: the optimizer and its step over tfjs variables. */
export class KfacStep {
  /** The optimizer (host parameter trees). */
  readonly optimizer: KfacOptimizer<HostTree>;
  readonly #c: KfacStepContext;

  /** Validates the options (`AdapterArgumentError`; `ifngd`'s `InvalidArgumentError` for bad values). */
  constructor(c: KfacStepContext, options: TrainerKfacOptions) {
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      throw new AdapterArgumentError('FngdTrainer.create: `kfac` must be an options object (`{}` for KFAC_DEFAULTS)');
    }
    for (const k of ['device', 'ops', 'layers', 'diagonal'] as const) {
      if (k in options) throw new AdapterArgumentError(`FngdTrainer.create: kfac.${k} is set by the trainer; remove it`);
    }
    const names = new Map(c.variables.map((v, i) => [v, c.names[i] as string]));
    const layers = kfacLayersOf(c.taps, names);
    const plain = new Set(c.model.plain ?? []);
    const notDiagonal = new Set([...layers.flatMap((l) => [l.weight, l.bias]), ...c.variables.flatMap((v, i) => (plain.has(v) ? [c.names[i]] : []))]);
    this.#c = c;
    const { nonKronecker = 'gradient', ...rest } = options;
    if (nonKronecker !== 'gradient' && nonKronecker !== 'diagonal') {
      throw new AdapterArgumentError(`FngdTrainer.create: kfac.nonKronecker must be 'gradient' or 'diagonal', got ${String(nonKronecker)}`);
    }
    const diagonal = nonKronecker === 'diagonal' ? c.names.filter((n) => !notDiagonal.has(n)) : [];
    if (layers.length === 0 && diagonal.length === 0) {
      throw new AdapterArgumentError(
        "FngdTrainer.create: KFAC has no Kronecker layer here (no trainable Dense, convolution or recurrent kernel); precondition the other parameters with kfac: { nonKronecker: 'diagonal' }, or train with FNGD",
      );
    }
    // host trees with the variables' shapes in their spec (the checkpoint's model fingerprint covers them)
    const shapes = new Map(c.variables.map((v, i) => [c.names[i] as string, v.shape]));
    const ops: TreeOps<HostTree> = { ...hostTreeOps, spec: (t) =>
        hostTreeOps.spec(t).map((l) => {
          const shape = shapes.get(l.name);
          return shape ? { ...l, shape } : l;
        }),
    };
    this.optimizer = kfac<HostTree>({ ...rest, device: c.device, layers, diagonal, ops });
  }

  /** Starts the optimizer at the variables' current values (an awaited read). */
  async init(): Promise<void> {
    this.optimizer.init(this.#tree(await readHost(this.#c.variables)));
  }

  #tree(values: readonly Float32Array[]): HostTree {
    const t: Record<string, Float32Array> = {};
    this.#c.names.forEach((n, i) => (t[n] = values[i] as Float32Array));
    return t;
  }

  /**
   * The capture's Kronecker groups in the order of the trainer's KFAC layers; throws unless they are exactly
   * those layers.
   */
  #kroneckerGroups(cap: Capture): SiteGroup[] {
    const { taps } = this.#c;
    const kron = cap.groups.filter((g) => g.rule.kronecker);
    const ordered = taps.map((t) => kron.find((g) => g.params['kernel'] === t.kernel && (g.params['bias'] ?? null) === (t.bias ?? null)));
    if (kron.length !== taps.length || ordered.some((g) => g === undefined)) {
      throw new AdapterArgumentError(`kfac: the forward pass tapped ${kron.length} dense/conv layers, not the ${taps.length} the trainer was created with`);
    }
    return ordered as SiteGroup[];
  }

  /** The mean-loss gradient from a capture (every site group's rule), plus one backward pass for uncovered and plain variables. */
  async #gradsFromCapture(cap: Capture, w: Float32Array, x: Tensor, y: Tensor, out: Map<Variable, Tensor>): Promise<void> {
    for (const g of cap.groups) for (const [v, t] of weightedGroupGrads(g, w, this.#c.filters)) out.set(v, t);
    const rest = [...cap.uncovered, ...(this.#c.model.plain ?? [])];
    if (rest.length > 0) {
      for (const [v, g] of (await weightedLossGradsAsync(this.#c.model, this.#c.loss, x, y, w, rest)).grads) out.set(v, g);
    }
  }

  /** The diagonal block's second moments from a capture, read to the host by leaf name. */
  async #moments(cap: Capture, x: Tensor, y: Tensor): Promise<Record<string, Float32Array>> {
    const { model, loss, filters } = this.#c;
    // variables at no site: one backward pass per sample — of the whole batch when the forward couples samples
    // (each ℓᵢ's total derivative), else of the sample alone
    const jacobian = model.couplesSamples === true ? wholeBatchJacobian : perSampleJacobianAsync;
    const diag = cap.groups.filter((g) => !g.rule.kronecker);
    const m = await secondMoments(cap, diag, { filters, n: cap.n }, (vars) => jacobian(model, loss, x, y, vars));
    try {
      const vars = [...m.keys()];
      const host = await readHost(vars.map((v) => m.get(v) as Tensor));
      const names = new Map(this.#c.variables.map((v, i) => [v, this.#c.names[i] as string]));
      return Object.fromEntries(vars.map((v, i) => [names.get(v) ?? v.name, host[i] as Float32Array]));
    } finally {
      for (const t of m.values()) t.dispose();
    }
  }

  /** One KFAC step on a batch of `n` samples; `check`: the targets' value check to read with the gradients. */
  async run(x: Tensor, y: Tensor, n: number, check: TargetValueCheck | null = null): Promise<KfacStepResult> {
    const { model, loss, variables, device } = this.#c;
    const opt = this.optimizer;
    const refreshes = opt.stats.inverseRefreshes;
    const w = new Float32Array(n).fill(1 / n);
    let cap: Capture | null = null;
    const made: Matrix[] = [];
    const grads = new Map<Variable, Tensor>();
    let probe: Tensor[] = [];
    let kron: SiteGroup[] = [];
    let penalties = new Map<Variable, Tensor>();
    try {
      let lossSum: number;
      if (opt.factorsDue) {
        cap = await captureAsync(model, loss, x, y);
        kron = this.#kroneckerGroups(cap);
        lossSum = cap.lossSum;
        await this.#gradsFromCapture(cap, w, x, y, grads);
      } else {
        const r = await weightedLossGradsAsync(model, loss, x, y, w, variables);
        for (const [v, g] of r.grads) grads.set(v, g);
        lossSum = r.lossSum;
      }
      const ordered = variables.map((v, i) => {
        const g = grads.get(v);
        if (!g) throw new AdapterArgumentError(`no gradient for variable '${this.#c.names[i]}'`);
        return g;
      });
      penalties = penaltyGrads(model.penalties);
      const penalized = [...penalties.keys()];
      probe = check ? check.take() : [];
      const host = await readHost([...ordered, ...variables, ...penalized.map((v) => penalties.get(v) as Tensor), ...probe]);
      const at = 2 * variables.length + penalized.length;
      check?.verify(host.slice(at).map((v) => v[0] as number)); // bad targets: TargetError now
      const g = this.#tree(host.slice(0, variables.length));
      const params = this.#tree(host.slice(variables.length));
      const names = new Map(variables.map((v, i) => [v, this.#c.names[i] as string]));
      const penaltyHost = Object.fromEntries(penalized.map((v, k) => [names.get(v) as string, host[2 * variables.length + k] as Float32Array]));
      const captured = cap;
      const factors = captured
        ? await uploadFactors(device, captured, this.#c.filters, () => new Float32Array(0), made, kron)
        : undefined;
      const mean = lossSum / n;
      const moments = captured && opt.diagonal.length > 0 ? { secondMoments: () => this.#moments(captured, x, y) } : {};
      const next = await opt.step(g, params, {
        ...(factors ? { factors } : {}),
        ...moments,
        ...(penalized.length > 0 ? { penaltyGrads: penaltyHost } : {}),
        loss: mean, // a non-finite loss: thrown under 'throw', a counted skip under 'skip' (ifngd's one rule)
      });
      if (next !== params) {
        variables.forEach((v, i) => {
          const t = tf.tensor(next[this.#c.names[i] as string] as Float32Array, v.shape, 'float32');
          v.assign(t);
          t.dispose();
        });
      }
      return { loss: mean, fresh: opt.stats.inverseRefreshes > refreshes };
    } finally {
      tf.dispose(probe);
      for (const t of penalties.values()) t.dispose();
      for (const m of made) m.dispose();
      cap?.dispose();
      for (const t of grads.values()) t.dispose();
    }
  }

  /** Releases the device copies of the inverses. */
  dispose(): void {
    this.optimizer.dispose();
  }
}
