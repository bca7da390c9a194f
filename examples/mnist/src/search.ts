/**
 * The tuning protocol's search spaces and trial sampling. Every optimizer gets the same number of trials.
 *
 * Sampling is stratified random search (a Latin hypercube over grids): each optimizer's learning-rate grid is
 * a log grid of half-decade steps over 3.5 decades (8 points); its `K` trials split the grid into `K`
 * contiguous strata and draw one point from each, so the trials always span the whole grid. FNGD's damping λ
 * (a log grid of decades) and `mode` (global, layer-wise) are drawn as balanced shuffled sequences and paired
 * with the learning rates at random; KFAC's damping likewise (KFAC has no mode). With `K = 8` SGD's and Adam's
 * searches are their full grids. The sample is seeded and the same for every task and batch size; the FNGD
 * variants share it (they differ only in the refresh policy), which makes their comparison a paired one.
 * @module
 */
import { permutation } from '@ifngd/adapters-tfjs';
import { mulberry32 } from '@ifngd/adapters-tfjs/internal';

/** The optimizers of the benchmark. */
export type OptName = 'fngd' | 'fngd-drift' | 'fngd-auto' | 'fngd-always' | 'kfac' | 'kfac-sampled' | 'kfac-adaptive' | 'kfac-gn' | 'kfac-lm' | 'adam' | 'sgd' | 'adamw' | 'muon' | 'shampoo';
export const OPTIMIZERS: readonly OptName[] = ['fngd', 'fngd-drift', 'fngd-auto', 'fngd-always', 'kfac', 'kfac-sampled', 'kfac-adaptive', 'kfac-gn', 'kfac-lm', 'adam', 'sgd', 'adamw', 'muon', 'shampoo'];
export const FNGD_VARIANTS = ['fngd', 'fngd-drift', 'fngd-auto', 'fngd-always'] as const satisfies readonly OptName[];

/**
 * One trial's hyper-parameters. `damping` for FNGD variants and KFAC, `mode` for FNGD variants only; no learning
 * rate for KFAC's adaptive mode (its quadratic model sets it: `damping` is its initial λ).
 */
export interface TrialConfig {
  readonly learningRate?: number;
  readonly damping?: number;
  readonly mode?: 'global' | 'layerwise';
}

/** Momentum of SGD (heavy ball), of every FNGD variant and of KFAC: a fixed set-up choice, not tuned. */
export const MOMENTUM = 0.9;

/** A log grid `10^lo, 10^(lo+step), …, 10^hi` (values rounded to 4 significant digits). */
export function logGrid(lo: number, hi: number, step: number): number[] {
  const n = Math.round((hi - lo) / step);
  return Array.from({ length: n + 1 }, (_, i) => Number((10 ** (lo + i * step)).toPrecision(4)));
}

/** The search space of each optimizer (exponents of 10). */
export const SPACES = {
  sgd: { learningRate: logGrid(-3.5, 0, 0.5) },
  adam: { learningRate: logGrid(-4.5, -1, 0.5) },
  fngd: { learningRate: logGrid(-2.5, 1, 0.5), damping: logGrid(-2, 2, 1), mode: ['global', 'layerwise'] as const },
  /**
   * KFAC's λ is split between its two factors (π-rule). Its grid spans the reference implementations' range
   * (default 1e-3) *and* FNGD's: both λ damp a Fisher approximation of the same loss, in the same units, and the
   * autoencoder's loss sums 784 pixels — FNGD's tuned λ there is 10–100, which a grid ending at 1 would deny KFAC.
   */
  kfac: { learningRate: logGrid(-3.5, 0, 0.5), damping: logGrid(-4, 2, 1) },
  /** KFAC with the sampled (true) Fisher: KFAC's space, and KFAC's sample (a paired comparison of the two Fishers). */
  'kfac-sampled': { learningRate: logGrid(-3.5, 0, 0.5), damping: logGrid(-4, 2, 1) },
  /**
   * KFAC's adaptive mode (kfac-jax's: learning rate and momentum from the quadratic model, λ by Levenberg–Marquardt,
   * the sampled Fisher): only its initial λ is tuned, over KFAC's range at twice the resolution.
   */
  'kfac-adaptive': { damping: logGrid(-4, 2, 0.5) },
  /**
   * Adaptive KFAC with kfac-jax's quadratic model — the batch's exact Gauss–Newton matrix instead of the factors'
   * one-sample estimate: `kfac-adaptive`'s space and sample (a paired comparison of the two models).
   */
  'kfac-gn': { damping: logGrid(-4, 2, 0.5) },
  /**
   * KFAC as kfac-jax's stochastic examples run it: a learning rate and momentum 0.9, only λ adapted (Levenberg–Marquardt
   * from its initial value, {@link KFAC_LM_SETUP}), the sampled Fisher: KFAC's space and sample, so the fixed-λ KFACs
   * and this one are paired.
   */
  'kfac-lm': { learningRate: logGrid(-3.5, 0, 0.5), damping: logGrid(-4, 2, 1) },
  /** AdamW: Adam's grid; weight decay at PyTorch's default 0.01 (a set-up choice, not tuned). */
  adamw: { learningRate: logGrid(-4.5, -1, 0.5) },
  /**
   * Muon: the matrices' learning rate, over 3.5 decades around the reference's 0.02; the other leaves' Adam rate
   * follows it at the reference's ratio (3e-4 / 0.02, {@link MUON_ADAM_RATIO}), so one number is tuned, as for
   * every other optimizer. Momentum 0.95 with Nesterov, as the reference runs it.
   */
  muon: { learningRate: logGrid(-3, 0.5, 0.5) },
  /**
   * Shampoo (Adam-grafted, {@link SHAMPOO_SETUP}): the learning rate over Adam's grid (the step takes the grafted Adam's
   * norm) and its ε (`damping`: added to the statistics' eigenvalues) over the decades of the reference's tuning
   * guide, 1e-12 … 1e-2, drawn as FNGD's and KFAC's λ are.
   */
  shampoo: { learningRate: logGrid(-4.5, -1, 0.5), damping: logGrid(-12, -2, 2) },
} as const;

/**
 * Shampoo's set-up, not tuned: blocks of at most 256 a side and roots every 10 steps (KFAC's inverse period), so a
 * 785-wide factor is four eigendecompositions of 256 rather than one of 785 (≈ 30× fewer flops); the preconditioner
 * from step 10 (the reference's default start, its frequency); no momentum beyond the gradient filter (β₁ 0.9) and
 * no weight decay, the reference's defaults.
 */
export const SHAMPOO_SETUP = { blockSize: 256, preconditionFrequency: 10 } as const;

/**
 * The Levenberg–Marquardt set-up of `kfac-lm`, not tuned: kfac-jax's ResNet-50 ImageNet example, its stochastic recipe
 * (`damping_adaptation_interval` 50, `damping_adaptation_decay` 0.99963, `min_damping` 1e-6, `max_damping` 1000).
 * Its decay is per step: an adaptation moves λ by 0.99963⁵⁰ ≈ 0.98. The adaptive mode's defaults (kfac-jax's: every
 * 5 steps by 0.9⁵ ≈ 0.59) are the full-batch examples' pace; on mini-batches ρ ≈ 1 on the step's own batch drives λ
 * to its floor at that pace.
 */
export const KFAC_LM_SETUP = { interval: 50, decay: 0.99963, minDamping: 1e-6, maxDamping: 1000 } as const;

/** Muon's auxiliary Adam learning rate ÷ its matrix learning rate (the reference's defaults: 3e-4 / 0.02). */
export const MUON_ADAM_RATIO = 0.015;

/** The space an optimizer is searched in. */
export function spaceOf(opt: OptName): {
  learningRate?: readonly number[];
  damping?: readonly number[];
  mode?: readonly ('global' | 'layerwise')[];
} {
  return opt in SPACES ? SPACES[opt as keyof typeof SPACES] : SPACES.fngd;
}

/** Seed of the trial sample (fixed: the sample is part of the protocol). */
export const SEARCH_SEED = 20260301;

/** One point per stratum of `0..g-1` split into `k` contiguous strata, in random order. */
function stratified(g: number, k: number, rand: () => number): number[] {
  const picks: number[] = [];
  for (let s = 0; s < k; s++) {
    const lo = Math.floor((s * g) / k);
    const hi = Math.max(lo + 1, Math.floor(((s + 1) * g) / k));
    picks.push(lo + Math.floor(rand() * (hi - lo)));
  }
  return permutation(k, Math.floor(rand() * 2 ** 31)).map((i) => picks[i] as number);
}

/** `k` values cycling through `values`, shuffled: each value appears ⌊k/|values|⌋ or ⌈k/|values|⌉ times. */
function balanced<T>(values: readonly T[], k: number, rand: () => number): T[] {
  const seq = Array.from({ length: k }, (_, i) => values[i % values.length] as T);
  return permutation(k, Math.floor(rand() * 2 ** 31)).map((i) => seq[i] as T);
}

/** The `k` trial configurations of `opt` (deterministic in `k` and `seed`). */
export function sampleTrials(opt: OptName, k: number, seed = SEARCH_SEED): TrialConfig[] {
  if (!Number.isSafeInteger(k) || k < 1) throw new Error(`trials must be a positive integer, got ${k}`);
  const space = spaceOf(opt);
  // the FNGD variants share one sample, the KFACs with a tuned rate another, the two adaptive KFACs a third: paired comparisons
  const kind =
    opt === 'kfac-sampled' || opt === 'kfac-lm'
      ? 'kfac'
      : opt === 'kfac-gn'
        ? 'kfac-adaptive'
        : opt.startsWith('fngd')
          ? 'fngd'
          : (opt as Exclude<OptName, 'kfac-sampled' | 'kfac-lm' | 'kfac-gn' | `fngd${string}`>);
  const salt = { sgd: 0x51, adam: 0xad, kfac: 0x6b, 'kfac-adaptive': 0x6c, fngd: 0xf9, adamw: 0xa3, muon: 0x3c, shampoo: 0x5a }[kind];
  const rand = mulberry32(seed ^ salt);
  if (!space.learningRate) {
    // one tuned number, λ: stratified as the learning rates of the others
    const d = space.damping as readonly number[];
    return stratified(d.length, k, rand).map((i) => ({ damping: d[i] as number }));
  }
  const lr = space.learningRate;
  const lrs = stratified(lr.length, k, rand).map((i) => lr[i] as number);
  if (!space.damping) return lrs.map((learningRate) => ({ learningRate }));
  const dampings = balanced(space.damping, k, rand);
  const modes = space.mode ? balanced(space.mode, k, rand) : null;
  return lrs.map((learningRate, i) => ({
    learningRate,
    damping: dampings[i] as number,
    ...(modes ? { mode: modes[i] as 'global' | 'layerwise' } : {}),
  }));
}
