/**
 * The `auto` refresh policy: refresh a batch's coefficients when a refresh pays for itself.
 *
 * **Return on investment, per batch.** A batch's coefficients are computed once (cost `1 + p` in units of a
 * cached step, `p` the measured price of a refresh) and then reused at cost 1 per visit. A reuse `k` visits
 * after the computation keeps a fraction `e(k)` of the value of an exact natural-gradient step. Over a cycle of
 * `τ` visits the value per unit cost is `R(τ) = (1 + Σ_{k<τ} e(k)) / (τ + p)`. With `e` decreasing, the cycle
 * length that maximises it is the first age at which one more reuse is worth less than the best rate,
 * `e(k) < R* = max_τ R(τ)` (renewal-reward optimal stopping). So: refresh iff `e(age) < R*`.
 *
 * **Benefit, measured — on held-out gradients.** Every refresh of a cached batch compares the cached
 * coefficients with the fresh ones through the fresh Gram(s), with no extra backward pass. The value of a direction
 * `d` under the one-step quadratic model in the damped-Fisher metric `M = F + λI`, at its best step length, is
 * `(ĝᵀd)² / ‖d‖²_M`, with `ĝ` the gradient the step should descend. Taking `ĝ` as the batch's own mean gradient
 * (which makes the ratio `cos²_M`) credits the fresh direction for fitting this batch's own sampling noise: every
 * sample's gradient meets itself. `auto` pairs each sample's gradient only with the others' mean — a leave-one-out
 * estimate of the population gradient: `ĝᵀ(Jᵀa) = Σᵢ aᵢ Σ_{j≠i} Gᵢⱼ / (n − 1)`. The efficiency is the cached
 * direction's held-out value over the fresh one's, in [0, 2]: one that does not descend counts 0, and values
 * above 1 are kept up to 2 — where the two directions are alike the ratio scatters around 1, and cutting it at 1
 * would bias the mean below 1 and buy refreshes that measure only noise. An observation at age `k` gives a
 * per-visit retention `e^{1/k}`, entered with the weight of `k` one-visit observations (it spans k visits of
 * decay); the policy keeps the running mean `ρ` (an arithmetic mean, so that one near-zero observation does not
 * dominate as it would a mean of logarithms) and models `e(k) = min(1, ρ^k)`, `ρ = exp(−r)`:
 * a reuse is never valued above a fresh step.
 *
 * **Cost, measured — paired in time.** On a shared machine the load changes faster than an epoch, so two
 * timings are only compared when they were taken close together:
 * - every computed step gives a *split*: the time of the curvature computation itself (Gram, factorization,
 *   solves, the efficiency probe — after the factors were captured) against the rest of that same step,
 *   `solve / (T_fresh − solve)`. Both parts are timed within one step, under one load. It is a lower bound of
 *   the price: the rest of a computed step (capture pass, weighted gradient from the factors) costs at least a
 *   cached step's forward/backward.
 * - the wall time between successive requests (one step's cost, cached or computed, same epoch only, so that an
 *   evaluation pause does not count) gives *pairs*: each period, as it is recorded, against the latest period of
 *   the other kind if that one is at most 32 steps older, `T_fresh / T_cached − 1`. Pairs are kept as they form
 *   (the 31 most recent), so long reuse cycles keep their pairs too.
 * The price is the larger of the split median and the pair median (3 pairs at least), so a cached-step timing
 * from a quieter moment cannot drive it to 0, and no request is ever served from the cache only to time it:
 * cached steps are timed when the policy reuses anyway.
 * A fixed `price` replaces the clock (flops ratios, deterministic runs).
 *
 * Everything here is a pure function of plain numbers (the state is checkpointed with the optimizer).
 * @module
 */
import { InvalidArgumentError } from './errors.js';
import { checkKeys } from './option-keys.js';
import type { DriftOptions } from './drift-options.js';

/** Options of the `auto` refresh policy. */
export interface AutoOptions {
  /**
   * Price of a refresh in cached steps: `'measured'` (default: wall time on this backend, see the module doc)
   * or a fixed number ≥ 0 (e.g. a flop ratio, or 0.2 for a reproducible run).
   */
  readonly price?: 'measured' | number;
  /** Efficiency observations before the model is trusted; until then cached batches are refreshed. Default 4. */
  readonly warmup?: number;
  /** Weight of a new observation in the running mean per-visit retention (0 < w ≤ 1). Default 0.25. */
  readonly smoothing?: number;
  /** Longest reuse, in visits of a batch, before a refresh whatever the model says. Default `Infinity`. */
  readonly maxAge?: number;
  /**
   * Length test (as the `drift` policy's): mark a batch stale when its reused update is longer than this
   * multiple of the batch's fresh update; `null` disables it. Default: off while the reuse guard caps reused
   * updates at the batch's own fresh norm (the default guard: `reference: 'batch'`, `factor` ≤ 1 — a capped update
   * is no longer than the fresh one, and its direction is what the value measures; refreshes chosen by length
   * would also bias the observations towards the batches that changed most), 2 otherwise (`guard: false`, a
   * `'global-max'` reference or a factor above 1).
   */
  readonly lengthRatio?: number | null;
  /**
   * Shift test: mark a batch stale when its loss exceeds this multiple of both its loss at its previous visit
   * and the running mean batch loss (data that changed under the same key, or a jump in training — not the
   * noise of a batch whose loss is near 0); it is refreshed at its next visit. `null` disables it. Default 1.5.
   */
  readonly lossRatio?: number | null;
  /** Clock in milliseconds for the measured price. Default `performance.now`. Not checkpointed. */
  readonly clock?: () => number;
}

/** {@link AutoOptions} with defaults filled in. */
export interface ResolvedAuto {
  readonly price: 'measured' | number;
  readonly warmup: number;
  readonly smoothing: number;
  readonly maxAge: number;
  readonly lengthRatio: number | null | 'default';
  readonly lossRatio: number | null;
  readonly clock: () => number;
}

/** Recent timings kept for the measured price. */
const WINDOW = 31;
/** Largest cycle the optimal-rate search considers. */
const MAX_CYCLE = 1024;
/** Furthest apart (in steps) a computed-step and a cached-step period may be to form a pair. */
const PAIR_SPAN = 32;
/** Pairs needed before the pair median counts. */
const MIN_PAIRS = 3;
/** The model is trusted below this multiple of the oldest age observed. */
const EXPLORE_FACTOR = 2;
/** Largest efficiency ratio kept (a cached direction worth up to twice a fresh one on held-out gradients). */
const MAX_RATIO = 2;
/** Retention floor (a direction that lost all its value still has a finite decay rate). */
const MIN_EFFICIENCY = 1e-6;

/** The policy's learned state (plain data, part of the optimizer checkpoint). */
export interface AutoState {
  /**
   * Decay rate r = −ln ρ of the running mean per-visit retention ρ (≥ −ln 2; negative when reuse measured worth
   * more than fresh — the model still caps a reuse's value at 1); null before the first observation.
   */
  rate: number | null;
  /** Efficiency observations so far. */
  observations: number;
  /** Last observation: age (visits) and efficiency. */
  last: { age: number; efficiency: number } | null;
  /** The oldest age (visits) observed so far (0 before any): the model is trusted below twice it. */
  oldest: number;
  /** The latest period (ms) after a cached request and after a computed one, with its ordinal `at`. */
  lastCached: { ms: number; at: number } | null;
  lastFresh: { ms: number; at: number } | null;
  /** Periods recorded so far (the ordinal of the next one). */
  periods: number;
  /** Recent pair prices: `T_fresh / T_cached − 1` of a computed-step and a cached-step period ≤ 32 steps apart. */
  pairs: number[];
  /** Recent split prices of computed steps: curvature time ÷ the rest of the same step. */
  splits: number[];
  /** Running mean of batch losses (the shift test's floor); null before a loss was seen. */
  meanLoss: number | null;
}

/** A fresh state. */
export function emptyAutoState(): AutoState {
  return { rate: null, observations: 0, last: null, oldest: 0, lastCached: null, lastFresh: null, periods: 0, pairs: [], splits: [], meanLoss: null };
}

/** Weight of one batch loss in the running mean loss. */
const LOSS_SMOOTHING = 1 / 32;

/** Folds one batch loss into the running mean (a new state; non-finite or negative losses are ignored). */
export function observeLoss(s: AutoState, loss: number | undefined): AutoState {
  if (loss === undefined || !Number.isFinite(loss) || loss < 0) return s;
  return { ...s, meanLoss: s.meanLoss === null ? loss : s.meanLoss + LOSS_SMOOTHING * (loss - s.meanLoss) };
}

function check(ok: boolean, what: string, v: unknown): void {
  if (!ok) throw new InvalidArgumentError(`refresh auto: ${what}, got ${String(v)}`);
}

/** Validates options and fills in the defaults. */
export function resolveAuto(o: AutoOptions): ResolvedAuto {
  check(typeof o === 'object' && o !== null && !Array.isArray(o), 'options must be an object', o);
  checkKeys(o, ['price', 'warmup', 'smoothing', 'maxAge', 'lengthRatio', 'lossRatio', 'clock'], 'refresh: auto');
  const price = o.price ?? 'measured';
  check(price === 'measured' || (typeof price === 'number' && Number.isFinite(price) && price >= 0), "price must be 'measured' or a finite number ≥ 0", price);
  const warmup = o.warmup ?? 4;
  check(Number.isSafeInteger(warmup) && warmup >= 1, 'warmup must be an integer ≥ 1', warmup);
  const smoothing = o.smoothing ?? 0.25;
  check(Number.isFinite(smoothing) && smoothing > 0 && smoothing <= 1, 'smoothing must be in (0, 1]', smoothing);
  const maxAge = o.maxAge ?? Infinity;
  check(maxAge === Infinity || (Number.isSafeInteger(maxAge) && maxAge >= 1), 'maxAge must be an integer ≥ 1 or Infinity', maxAge);
  const lengthRatio = o.lengthRatio === undefined ? 'default' : o.lengthRatio;
  check(lengthRatio === 'default' || lengthRatio === null || (Number.isFinite(lengthRatio) && lengthRatio > 0), 'lengthRatio must be > 0 or null', lengthRatio);
  const lossRatio = o.lossRatio === undefined ? 1.5 : o.lossRatio;
  check(lossRatio === null || (Number.isFinite(lossRatio) && lossRatio > 1), 'lossRatio must be > 1 or null', lossRatio);
  const clock = o.clock ?? (() => performance.now());
  check(typeof clock === 'function', 'clock must be a function', clock);
  return { price, warmup, smoothing, maxAge, lengthRatio, lossRatio, clock };
}

/**
 * Efficiency of cached coefficients against fresh ones, through the fresh Gram(s) `grams` (layers·n·n,
 * layer-major) at damping λ: the cached direction's held-out value over the fresh one's (see the module doc).
 * For d = Jᵀa: ‖d‖²_M = (Ga)ᵀ(Ga)/n + λ·aᵀGa and the held-out slope h(a) = Σᵢ aᵢ Σ_{j≠i} Gᵢⱼ / (n − 1); the value
 * is max(0, h)² / ‖d‖²_M. Layer-wise coefficients are one block per layer (slopes and norms add over layers).
 * Returns a number in [0, 2] — 0 when the cached direction vanishes or does not descend, capped at 2 — or null
 * when there is nothing to compare against: fewer than 2 samples, or a fresh direction with no held-out descent.
 */
export function reuseEfficiency(grams: Float32Array, n: number, cached: Float32Array, fresh: Float32Array, damping: number): number | null {
  if (n < 2) return null;
  const layers = cached.length / n;
  let hc = 0;
  let hf = 0;
  let cc = 0;
  let ff = 0;
  const ga = new Float64Array(n);
  const gb = new Float64Array(n);
  for (let l = 0; l < layers; l++) {
    const g0 = l * n * n;
    const v0 = l * n;
    for (let i = 0; i < n; i++) {
      let sa = 0;
      let sb = 0;
      let others = 0;
      for (let j = 0; j < n; j++) {
        const g = grams[g0 + i * n + j] as number;
        sa += g * (cached[v0 + j] as number);
        sb += g * (fresh[v0 + j] as number);
        if (j !== i) others += g;
      }
      ga[i] = sa;
      gb[i] = sb;
      hc += (cached[v0 + i] as number) * others;
      hf += (fresh[v0 + i] as number) * others;
    }
    for (let i = 0; i < n; i++) {
      const x = ga[i] as number;
      const y = gb[i] as number;
      cc += (x * x) / n + damping * (cached[v0 + i] as number) * x;
      ff += (y * y) / n + damping * (fresh[v0 + i] as number) * y;
    }
  }
  // the common 1/(n − 1) cancels in the ratio
  if (!(hf > 0) || !(ff > 0) || !Number.isFinite(hf * hf) || !Number.isFinite(ff)) return null;
  if (!(hc > 0) || !(cc > 0)) return 0;
  const e = (hc / hf) * (hc / hf) * (ff / cc);
  return e >= 0 ? Math.min(MAX_RATIO, e) : 0; // NaN (an overflow) → 0, +∞ → 2
}

/**
 * Folds one efficiency observation at `age` visits into the state (returns a new state): its per-visit
 * retention `e^{1/age}` enters the running mean retention ρ = exp(−rate) with the weight of `age` one-visit
 * observations, `1 − (1 − smoothing)^age` (it spans that many visits of decay).
 */
export function observe(s: AutoState, age: number, efficiency: number, o: ResolvedAuto): AutoState {
  if (!(age >= 1) || !Number.isFinite(efficiency)) return s;
  const e = Math.min(MAX_RATIO, Math.max(0, efficiency));
  const retention = e ** (1 / age);
  // an observation at age k spans k visits of decay: it enters with the weight of k one-visit observations
  const w = 1 - (1 - o.smoothing) ** age;
  const mean = s.rate === null ? retention : Math.exp(-s.rate) + w * (retention - Math.exp(-s.rate));
  const rate = -Math.log(Math.max(MIN_EFFICIENCY, mean)) || 0;
  return { ...s, rate, observations: s.observations + 1, last: { age, efficiency: e }, oldest: Math.max(s.oldest, age) };
}

/**
 * The length test's ratio in effect: the option, or its default — off while the reuse guard caps every reused
 * update at the batch's own fresh norm (`reference: 'batch'`, `factor ≤ 1`), 2 otherwise.
 */
export function autoLengthRatio(option: number | null | 'default', capsAtFreshNorm: boolean): number {
  if (option === 'default') return capsAtFreshNorm ? Infinity : 2;
  return option ?? Infinity;
}

/**
 * The free tests `auto` runs on each reused step, resolved once per optimizer: the length test at
 * {@link autoLengthRatio}, nothing else (the shift test is `auto`'s own, the direction probe is its value measure).
 */
export function autoReuseTests(option: number | null | 'default', capsAtFreshNorm: boolean): Required<DriftOptions> {
  return {
    lengthRatio: autoLengthRatio(option, capsAtFreshNorm),
    lossRatio: null,
    markOnCap: false,
    probeEvery: 1,
    minProbeEvery: 1,
    maxProbeEvery: 1,
    minCosine: 0,
  };
}

/** Modelled efficiency of a reuse (never above a fresh step's) `age` visits after the computation. */
export function modelledEfficiency(rate: number, age: number): number {
  return Math.min(1, Math.exp(-rate * age));
}

/**
 * The best value-per-cost of a refresh cycle, `R* = max_τ (1 + Σ_{k<τ} e(k)) / (τ + p)`, and the cycle τ* that
 * reaches it (τ ≤ `maxAge`).
 */
export function optimalCycle(rate: number, price: number, maxAge = Infinity): { rate: number; cycle: number } {
  let value = 1;
  let best = 1 / (1 + price);
  let cycle = 1;
  const limit = Math.min(MAX_CYCLE, maxAge);
  for (let tau = 2; tau <= limit; tau++) {
    value += modelledEfficiency(rate, tau - 1);
    const R = value / (tau + price);
    if (R > best) {
      best = R;
      cycle = tau;
    }
  }
  return { rate: best, cycle };
}

function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** The pair median (null with fewer than 3 pairs). */
export function pairedPrice(s: AutoState): number | null {
  return s.pairs.length >= MIN_PAIRS ? median(s.pairs) : null;
}

/**
 * The price of a refresh in cached steps: the fixed `price`, or measured (see the module doc) as the larger of
 * the split median and the pair median; 1 before any computed step was timed.
 */
export function refreshPrice(s: AutoState, o: ResolvedAuto): number {
  if (o.price !== 'measured') return o.price;
  const split = median(s.splits);
  const paired = pairedPrice(s);
  if (split === null && paired === null) return 1;
  return Math.max(0, split ?? 0, paired ?? 0);
}

/**
 * Records one timing (a new state): a period after a cached or a computed request (ms) — paired with the latest
 * period of the other kind when that one is at most 32 steps older — or a computed step's split price.
 * Non-finite or negative values are ignored; pairs and splits keep their 31 most recent.
 */
export function recordTiming(s: AutoState, kind: 'cachedPeriods' | 'freshPeriods' | 'splits', value: number): AutoState {
  if (!Number.isFinite(value) || value < 0) return s;
  const push = (xs: readonly number[], x: number): number[] => [...xs, x].slice(-WINDOW);
  if (kind === 'splits') return { ...s, splits: push(s.splits, value) };
  const at = s.periods;
  const fresh = kind === 'freshPeriods';
  const other = fresh ? s.lastCached : s.lastFresh;
  const [f, c] = fresh ? [value, other?.ms] : [other?.ms, value];
  const paired = other !== null && at - other.at <= PAIR_SPAN && (c as number) > 0;
  const mark = { ms: value, at };
  return {
    ...s,
    ...(fresh ? { lastFresh: mark } : { lastCached: mark }),
    periods: at + 1,
    pairs: paired ? push(s.pairs, (f as number) / (c as number) - 1) : s.pairs,
  };
}

/**
 * The split price of a computed step: its curvature computation `solveMs` against the rest of its period
 * `periodMs` (null when the period does not exceed the computation: a clock that did not move).
 */
export function splitPrice(solveMs: number, periodMs: number): number | null {
  return Number.isFinite(solveMs) && Number.isFinite(periodMs) && solveMs >= 0 && periodMs > solveMs ? solveMs / (periodMs - solveMs) : null;
}

/** Why `auto` decided to refresh (or `null`: reuse). */
export type AutoReason = 'warmup' | 'roi' | 'explore' | 'max-age' | null;

/**
 * The decision for a cached batch whose coefficients have been reused `reuses` times (so that reusing them now
 * is a reuse at age `reuses + 1` visits): refresh during warm-up, past `maxAge`, when the modelled efficiency
 * of one more reuse falls below the best cycle rate, or to explore — when the age reaches twice the oldest age
 * observed, so the model is never extrapolated far past its evidence (reuse stops measuring; the first batch to
 * reach the bound measures it, and the bound doubles: ages 2, 4, 8, … — a handful of refreshes in a run; a refresh
 * that yields no observation — a batch of one sample, or no held-out slope — does not move the bound). Every refresh of a
 * cached batch is an observation at that age, so the rate keeps being measured whatever the cycle.
 */
export function autoDecision(
  s: AutoState,
  reuses: number,
  o: ResolvedAuto,
): { reason: AutoReason; price: number; threshold: number | null; cycle: number | null } {
  const price = refreshPrice(s, o);
  const age = reuses + 1;
  if (age > o.maxAge) return { reason: 'max-age', price, threshold: null, cycle: null };
  // warm-up: refresh, each refresh measuring the efficiency the reuse would have had
  if (s.rate === null || s.observations < o.warmup) return { reason: 'warmup', price, threshold: null, cycle: null };
  const best = optimalCycle(s.rate, price, o.maxAge);
  const reason = modelledEfficiency(s.rate, age) < best.rate ? 'roi' : age >= EXPLORE_FACTOR * s.oldest ? 'explore' : null;
  return { reason, price, threshold: best.rate, cycle: best.cycle };
}

/**
 * Validates a checkpointed state (returns null when it is not one). A state from before the paired price (with
 * `work` and `sinceCachedTiming`, no ordinals) keeps its learned model and mean loss; its timings, which cannot
 * be paired, are dropped.
 */
export function checkAutoState(v: unknown): AutoState | null {
  if (typeof v !== 'object' || v === null) return null;
  const x = v as Record<string, unknown>;
  const nums = (a: unknown, min = 0): a is number[] => Array.isArray(a) && a.length <= WINDOW && a.every((t) => typeof t === 'number' && Number.isFinite(t) && t >= min);
  const rateOk = x.rate === null || (typeof x.rate === 'number' && Number.isFinite(x.rate) && x.rate >= -Math.log(MAX_RATIO) - 1e-12);
  const last = x.last as { age?: unknown; efficiency?: unknown } | null;
  const lastOk =
    last === null ||
    (typeof last === 'object' && Number.isSafeInteger(last.age) && (last.age as number) >= 0 && typeof last.efficiency === 'number' && Number.isFinite(last.efficiency));
  const meanLoss = x.meanLoss ?? null;
  if (meanLoss !== null && !(typeof meanLoss === 'number' && Number.isFinite(meanLoss) && meanLoss >= 0)) return null;
  if (!rateOk || !Number.isSafeInteger(x.observations) || (x.observations as number) < 0 || !lastOk) return null;
  // `oldest` came with the exploration bound; a state from before it knows its last age at least
  const oldest = x.oldest ?? (last === null ? 0 : last.age);
  if (!Number.isSafeInteger(oldest) || (oldest as number) < 0) return null;
  const model = {
    rate: x.rate as number | null,
    observations: x.observations as number,
    last: last === null ? null : { age: last.age as number, efficiency: last.efficiency as number },
    oldest: oldest as number,
    meanLoss: meanLoss as number | null,
  };
  if (x.periods === undefined) {
    // before the paired price
    const since = x.sinceCachedTiming ?? 0;
    if (!nums(x.cachedPeriods) || !nums(x.freshPeriods) || !nums(x.work) || !Number.isSafeInteger(since) || (since as number) < 0) return null;
    return { ...emptyAutoState(), ...model };
  }
  const periods = x.periods;
  if (!Number.isSafeInteger(periods) || (periods as number) < 0 || !nums(x.pairs, -1) || !nums(x.splits)) return null;
  const mark = (m: unknown): m is { ms: number; at: number } | null =>
    m === null ||
    (typeof m === 'object' && m !== null && nums([(m as { ms: unknown }).ms]) && Number.isSafeInteger((m as { at: unknown }).at) && (m as { at: number }).at >= 0 && (m as { at: number }).at < (periods as number));
  if (!mark(x.lastCached) || !mark(x.lastFresh)) return null;
  // in emptyAutoState's key order (a checkpoint round-trips byte for byte)
  return {
    rate: model.rate,
    observations: model.observations,
    last: model.last,
    oldest: model.oldest,
    lastCached: x.lastCached === null ? null : { ms: x.lastCached.ms, at: x.lastCached.at },
    lastFresh: x.lastFresh === null ? null : { ms: x.lastFresh.ms, at: x.lastFresh.at },
    periods: periods as number,
    pairs: [...(x.pairs as number[])],
    splits: [...x.splits],
    meanLoss: model.meanLoss,
  };
}
