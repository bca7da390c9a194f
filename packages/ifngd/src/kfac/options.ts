/**
 * Options of the KFAC optimizer, their defaults and their validation.
 * @module
 */
import type { LinalgDevice } from '@ifngd/linalg-gpu';
import { InvalidArgumentError } from '../errors.js';
import { checkKeys } from '../option-keys.js';
import { asSchedule, type Schedule } from '../schedule.js';
import type { MomentumOptions } from '../transforms/momentum.js';
import type { HostTree, TreeOps } from '../tree.js';

/**
 * How a layer's weight leaf is stored (row-major), with p = inputs per position (dense `din`, conv
 * `k = c_in·kh·kw` in the order of the patch columns) and q = outputs (dense `dout`, conv `c_out`):
 * - `'out-in'`: `[q, p]`, `z = W·a` — this package's worked example and tests, ONNX `Conv` (`[c_out, c_in, kh, kw]`),
 *   PyTorch `Linear`;
 * - `'in-out'`: `[p, q]`, `z = a·W` — TensorFlow.js `Dense` kernels `[din, dout]` and `Conv2D` kernels
 *   `[kh, kw, c_in, c_out]` (with patches unfolded in the kernel's flattening order, as the tfjs adapter does).
 */
export type WeightLayout = 'out-in' | 'in-out';

/** One layer KFAC preconditions: which leaves of the parameter tree hold its weight and bias. */
export interface KfacLayer {
  /** Name of the weight leaf. */
  readonly weight: string;
  /** Name of the bias leaf (q values); omit or `null` for a layer without bias. */
  readonly bias?: string | null;
  /** How the weight leaf is laid out (required: a square layer would otherwise be silently transposed). */
  readonly layout: WeightLayout;
}

/**
 * Defaults of {@link kfac}: the constructor defaults of the reference PyTorch implementations
 * (gpauloski/kfac-pytorch: learning rate 0.1, factor decay 0.95, damping 0.001, KL clip 0.001;
 * alecwangcq/KFAC-Pytorch: momentum 0.9), with factors every step and inverses every 10 steps. They were not
 * tuned on this project's benchmarks.
 */
export const KFAC_DEFAULTS = Object.freeze({
  learningRate: 0.1,
  damping: 0.001,
  decay: 0.95,
  factorEvery: 1,
  inverseEvery: 10,
  klClip: 0.001,
  momentum: 0.9,
} as const);

/** Options of KFAC's adaptive mode (`kfac({ adaptive })`, `adaptive.ts`). */
export interface KfacAdaptiveOptions {
  /** The first damping λ (finite, > 0). Default: the optimizer's `damping`. */
  readonly initialDamping?: number;
  /** Adapt λ every this many steps (integer ≥ 1; one more forward pass then). Default 5. */
  readonly interval?: number;
  /** λ's factor per adaptation, in (0, 1). Default 0.9. */
  readonly decay?: number;
  /** Bounds of λ. Defaults 1e-8 and Infinity. */
  readonly minDamping?: number;
  readonly maxDamping?: number;
  /**
   * The curvature C of the quadratic model that sets the free coefficients (learning rate, momentum) and ρ:
   * - `'factors'` (default): the Fisher the step's factors describe, restricted to the Kronecker layers — a
   *   one-sample estimate under `fisher: 'sampled'` — at one GEMM per layer and vector, no extra pass. (With both
   *   coefficients fixed, kfac-jax's default takes ρ's curvature from its Kronecker-factored running averages
   *   instead; this is the batch's own.)
   * - `'gauss-newton'`: the batch's exact Gauss–Newton matrix over every parameter, as kfac-jax takes it for the
   *   free coefficients (`exact_quad_model_matrix_type='ggn'`), at 2k + 1 more forward passes for k ≤ 2 vectors in
   *   either trainer (central differences); the step then needs `extras.gaussNewton` (a trainer's
   *   `StepCapture.gaussNewton`).
   */
  readonly quadraticModel?: 'factors' | 'gauss-newton';
}

/** The adaptive mode's settings, validated. */
export interface ResolvedAdaptive {
  /** The fixed learning rate (the optimizer's `learningRate`), or null: the quadratic model's. */
  readonly learningRate: Schedule | null;
  /** The fixed momentum on the last update (the optimizer's `momentum`), or null: the quadratic model's. */
  readonly momentum: number | null;
  /** KL clipping κ of the step `−lr·P` (kfac-jax's `norm_constraint`; only with a fixed learning rate), or null. */
  readonly klClip: number | null;
  readonly initialDamping: number;
  readonly interval: number;
  readonly decay: number;
  readonly minDamping: number;
  readonly maxDamping: number;
  readonly quadraticModel: 'factors' | 'gauss-newton';
}

/** Options of {@link kfac}. Only `device` and `layers` are required; the rest default to {@link KFAC_DEFAULTS}. */
export interface KfacOptions<T = HostTree> {
  /** The linear-algebra device the factor statistics, inverses and preconditioning run on. */
  readonly device: LinalgDevice;
  /**
   * The Kronecker-factored layers, in the order of the step's `factors`. Leaves of neither `layers` nor `diagonal`
   * get the plain gradient. May be empty when `diagonal` is not.
   */
  readonly layers: readonly KfacLayer[];
  /**
   * Leaves preconditioned by the diagonal of their empirical Fisher (`diagonal.ts`: normalization scale and shift,
   * depthwise filters, embeddings, …); the step then needs `extras.secondMoments` whenever it needs `factors`.
   * Default none.
   */
  readonly diagonal?: readonly string[];
  /**
   * Learning rate (finite, > 0) or schedule. In the adaptive mode it fixes the step's coefficient of the
   * preconditioned gradient, which the quadratic model sets when it is omitted.
   */
  readonly learningRate?: number | Schedule;
  /** Tikhonov damping λ (finite, > 0), split between the factors by the π-rule. */
  readonly damping?: number;
  /** Decay β ∈ [0, 1) of the factors' running averages (first-step initialisation). */
  readonly decay?: number;
  /** Update the running averages every this many steps (integer ≥ 1); other steps need no factors. */
  readonly factorEvery?: number;
  /** Refresh the damped inverses every this many steps (integer ≥ 1). */
  readonly inverseEvery?: number;
  /** KL clipping κ (finite, > 0): the step is scaled by ν = min(1, √(κ / (lr²·Σ⟨V, ∇W⟩))); `false` turns it off. */
  readonly klClip?: number | false;
  /**
   * Momentum decay, or options (Nesterov); `0` turns momentum off. In the adaptive mode a number in [0, 1) fixes
   * the coefficient of the last update (heavy ball on the update, kfac-jax's `momentum_schedule`), which the
   * quadratic model sets when it is omitted.
   */
  readonly momentum?: number | MomentumOptions;
  /** Decoupled weight decay (added after the preconditioner). Default 0. */
  readonly weightDecay?: number;
  /** Clip the preconditioned (and KL-clipped) direction to this global norm. Default none. */
  readonly clipNorm?: number;
  /** Non-finite gradients or updates: throw `NonFiniteError` (default) or skip the step (counted). */
  readonly onNonFinite?: 'throw' | 'skip';
  /**
   * kfac-jax's adaptive mode (`adaptive.ts`): the damping by the Levenberg–Marquardt rule (starting at `damping`,
   * or `initialDamping`), and the learning rate and momentum from the quadratic model each step — unless
   * `learningRate` or `momentum` is set, which fixes that coefficient. `true` takes kfac-jax's defaults. Both
   * unset is kfac-jax's full adaptive mode, which its authors run full-batch; both set (a learning rate, momentum
   * 0.9) with λ adapted slowly (its ResNet-50 example: `{ interval: 50, decay: 0.99963, minDamping: 1e-6,
   * maxDamping: 1000 }`) is the recipe its stochastic examples run; with a fixed learning rate `klClip` bounds the
   * step `−lr·P` as kfac-jax's `norm_constraint` does (off unless set). `clipNorm` and `weightDecay` do not apply
   * (setting one is refused), factors are needed every step (`factorEvery` 1), and every `interval` steps the step
   * needs `extras.lossAt`. Default off.
   */
  readonly adaptive?: boolean | KfacAdaptiveOptions;
  /** Tree operations; default host `Float32Array` trees. */
  readonly ops?: TreeOps<T>;
}

/** Options after validation, with defaults. */
export interface ResolvedKfacOptions {
  readonly layers: readonly Required<KfacLayer>[];
  readonly diagonal: readonly string[];
  readonly learningRate: Schedule;
  readonly damping: number;
  readonly decay: number;
  readonly factorEvery: number;
  readonly inverseEvery: number;
  readonly klClip: number | null;
  readonly momentum: MomentumOptions | null;
  readonly weightDecay: number;
  readonly clipNorm: number | null;
  readonly onNonFinite: 'throw' | 'skip';
  readonly adaptive: ResolvedAdaptive | null;
}

const fail = (message: string): never => {
  throw new InvalidArgumentError(`kfac: ${message}`);
};

const positive = (x: unknown, name: string): number =>
  typeof x === 'number' && Number.isFinite(x) && x > 0 ? x : fail(`${name} must be finite and > 0, got ${String(x)}`);

const positiveInt = (x: unknown, name: string): number =>
  Number.isSafeInteger(x) && (x as number) >= 1
    ? (x as number)
    : fail(`${name} must be an integer ≥ 1, got ${String(x)}`);

function resolveLayers(layers: unknown, seen: Set<string>): Required<KfacLayer>[] {
  if (!Array.isArray(layers)) return fail('layers must be an array');
  return layers.map((layer: unknown, l) => {
    if (typeof layer !== 'object' || layer === null) return fail(`layers[${l}] must be an object`);
    checkKeys(layer, ['weight', 'bias', 'layout'], `kfac: layers[${l}]`);
    const { weight, bias = null, layout } = layer as KfacLayer;
    if (typeof weight !== 'string' || weight === '') return fail(`layers[${l}].weight must be a leaf name`);
    if (bias !== null && (typeof bias !== 'string' || bias === ''))
      return fail(`layers[${l}].bias must be a leaf name or null`);
    if (layout !== 'out-in' && layout !== 'in-out')
      return fail(`layers[${l}].layout must be 'out-in' or 'in-out', got ${String(layout)}`);
    for (const name of bias === null ? [weight] : [weight, bias]) {
      if (seen.has(name)) fail(`leaf '${name}' belongs to two layers`);
      seen.add(name);
    }
    return { weight, bias, layout };
  });
}

function resolveDiagonal(diagonal: unknown, seen: Set<string>): string[] {
  if (diagonal === undefined) return [];
  if (!Array.isArray(diagonal)) return fail('diagonal must be an array of leaf names');
  return diagonal.map((name: unknown, k) => {
    if (typeof name !== 'string' || name === '') return fail(`diagonal[${k}] must be a leaf name`);
    if (seen.has(name)) fail(`leaf '${name}' is listed twice (layers and diagonal, or diagonal twice)`);
    seen.add(name);
    return name;
  });
}

/** Every key {@link kfac} accepts (adapters pass `device`, `ops` and `layers` through). */
export const KFAC_OPTION_KEYS: readonly (keyof KfacOptions)[] = [
  'device',
  'layers',
  'diagonal',
  'learningRate',
  'damping',
  'decay',
  'factorEvery',
  'inverseEvery',
  'klClip',
  'momentum',
  'weightDecay',
  'clipNorm',
  'onNonFinite',
  'adaptive',
  'ops',
];

/** Momentum: a decay in [0, 1) (0 = off) or `{ decay, nesterov? }`. */
function resolveMomentum(m: unknown): MomentumOptions | null {
  if (typeof m === 'number') {
    if (!(m >= 0 && m < 1)) return fail(`momentum must be in [0, 1), got ${String(m)}`);
    return m === 0 ? null : { decay: m };
  }
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return fail(`momentum must be a number or options, got ${String(m)}`);
  checkKeys(m, ['decay', 'nesterov'], 'kfac: momentum');
  const { decay, nesterov } = m as MomentumOptions;
  if (typeof decay !== 'number' || !(decay >= 0 && decay < 1)) fail(`momentum.decay must be in [0, 1), got ${String(decay)}`);
  if (nesterov !== undefined && typeof nesterov !== 'boolean') fail(`momentum.nesterov must be a boolean, got ${String(nesterov)}`);
  return { decay, ...(nesterov === undefined ? {} : { nesterov }) };
}

/** Validates every option (unknown keys included); throws `InvalidArgumentError` naming the key and value. */
export function resolveKfacOptions<T>(o: KfacOptions<T>): ResolvedKfacOptions {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return fail('options are required');
  checkKeys(o, KFAC_OPTION_KEYS, 'kfac');
  if (typeof o.device !== 'object' || o.device === null) fail(`a linalg device is required, got ${String(o.device)}`);
  if (o.ops !== undefined && (typeof o.ops !== 'object' || o.ops === null)) fail(`ops must be tree operations, got ${String(o.ops)}`);
  const decay = o.decay ?? KFAC_DEFAULTS.decay;
  if (typeof decay !== 'number' || !(decay >= 0 && decay < 1)) fail(`decay must be in [0, 1), got ${String(decay)}`);
  const lr = o.learningRate ?? KFAC_DEFAULTS.learningRate;
  if (typeof lr === 'number') positive(lr, 'learningRate');
  else if (typeof lr !== 'function') fail('learningRate must be a number or a schedule');
  const klClip = o.klClip ?? KFAC_DEFAULTS.klClip;
  const momentum = resolveMomentum(o.momentum ?? KFAC_DEFAULTS.momentum);
  const weightDecay = o.weightDecay ?? 0;
  if (typeof weightDecay !== 'number' || !Number.isFinite(weightDecay) || weightDecay < 0)
    fail(`weightDecay must be finite and ≥ 0, got ${String(weightDecay)}`);
  const onNonFinite = o.onNonFinite ?? 'throw';
  if (onNonFinite !== 'throw' && onNonFinite !== 'skip') fail(`onNonFinite must be 'throw' or 'skip', got ${String(onNonFinite)}`);
  const seen = new Set<string>();
  const layers = resolveLayers(o.layers, seen);
  const diagonal = resolveDiagonal(o.diagonal, seen);
  if (layers.length === 0 && diagonal.length === 0) fail('nothing to precondition: layers and diagonal are both empty');
  const damping = positive(o.damping ?? KFAC_DEFAULTS.damping, 'damping');
  const adaptive = resolveAdaptive(o, damping);
  return {
    layers,
    diagonal,
    learningRate: asSchedule(lr, 'kfac: learningRate'),
    damping,
    decay,
    factorEvery: positiveInt(o.factorEvery ?? KFAC_DEFAULTS.factorEvery, 'factorEvery'),
    inverseEvery: positiveInt(o.inverseEvery ?? KFAC_DEFAULTS.inverseEvery, 'inverseEvery'),
    klClip: klClip === false ? null : positive(klClip, 'klClip'),
    momentum,
    weightDecay,
    clipNorm: o.clipNorm === undefined ? null : positive(o.clipNorm, 'clipNorm'),
    onNonFinite,
    adaptive,
  };
}

/** The adaptive mode's settings (null when off); refuses the options it replaces. */
function resolveAdaptive<T>(o: KfacOptions<T>, damping: number): ResolvedAdaptive | null {
  const a = o.adaptive ?? false;
  if (a === false) return null;
  if (a !== true && (typeof a !== 'object' || a === null || Array.isArray(a))) return fail(`adaptive must be a boolean or options, got ${String(a)}`);
  for (const k of ['clipNorm', 'weightDecay'] as const) {
    if (o[k] !== undefined) fail(`${k} does not apply in the adaptive mode (the quadratic model sets the step); remove it`);
  }
  // kfac-jax's norm_constraint: a bound on the step −lr·P, so it needs the learning rate fixed
  const klClip = o.klClip === undefined || o.klClip === false ? null : positive(o.klClip, 'klClip');
  if (klClip !== null && o.learningRate === undefined) {
    fail('klClip in the adaptive mode bounds the step −lr·P, so it needs a fixed learningRate (the quadratic model sets the step otherwise); set learningRate or remove klClip');
  }
  const momentum = o.momentum;
  if (momentum !== undefined && (typeof momentum !== 'number' || !(momentum >= 0 && momentum < 1))) {
    fail(`the adaptive mode's momentum is a fixed coefficient of the last update: a number in [0, 1), got ${typeof momentum === 'object' ? JSON.stringify(momentum) : String(momentum)}`);
  }
  if ((o.factorEvery ?? 1) !== 1) fail('the adaptive mode needs factors every step: factorEvery must be 1');
  const x: KfacAdaptiveOptions = a === true ? {} : a;
  if (a !== true) checkKeys(a, ['initialDamping', 'interval', 'decay', 'minDamping', 'maxDamping', 'quadraticModel'], 'kfac: adaptive');
  const quadraticModel = x.quadraticModel ?? 'factors';
  if (quadraticModel !== 'factors' && quadraticModel !== 'gauss-newton') fail(`adaptive.quadraticModel must be 'factors' or 'gauss-newton', got ${String(quadraticModel)}`);
  const decay = x.decay ?? 0.9;
  if (typeof decay !== 'number' || !(decay > 0 && decay < 1)) fail(`adaptive.decay must be in (0, 1), got ${String(decay)}`);
  const minDamping = x.minDamping === undefined ? 1e-8 : positive(x.minDamping, 'adaptive.minDamping');
  const maxDamping = x.maxDamping ?? Infinity;
  if (typeof maxDamping !== 'number' || !(maxDamping >= minDamping)) fail(`adaptive.maxDamping must be ≥ minDamping, got ${String(maxDamping)}`);
  const initialDamping = x.initialDamping === undefined ? damping : positive(x.initialDamping, 'adaptive.initialDamping');
  return {
    learningRate: o.learningRate === undefined ? null : asSchedule(o.learningRate, 'kfac: learningRate'),
    momentum: (momentum as number | undefined) ?? null,
    klClip,
    initialDamping,
    interval: positiveInt(x.interval ?? 5, 'adaptive.interval'),
    decay,
    minDamping,
    maxDamping,
    quadraticModel,
  };
}
