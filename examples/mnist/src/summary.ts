/**
 * Pure statistics of the reported runs: medians with min–max spread over seeds, time to a target (linear
 * interpolation between epoch ends), the metric at a given training time, and per-optimizer ROI figures.
 * @module
 */

/** One epoch of a reported run. */
export interface EpochRow {
  readonly epoch: number;
  readonly seconds: number;
  readonly trainLoss: number;
  readonly testLoss: number;
  readonly testAccuracy?: number;
}

/** Median with min and max. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** How many values were finite (the rest: not reached / diverged). */
  readonly n: number;
}

/** Median (mean of the middle two for even counts), min and max of the finite values; null if none. */
export function spread(values: readonly (number | null)[]): Spread | null {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  const median = v.length % 2 ? (v[m] as number) : ((v[m - 1] as number) + (v[m] as number)) / 2;
  return { median, min: v[0] as number, max: v[v.length - 1] as number, n: v.length };
}

/** Which direction is better for a metric. */
export type Metric = 'testAccuracy' | 'testLoss';

export function metricOf(row: EpochRow, metric: Metric): number {
  return metric === 'testAccuracy' ? (row.testAccuracy ?? NaN) : row.testLoss;
}

function reaches(metric: Metric, value: number, target: number): boolean {
  return metric === 'testAccuracy' ? value >= target : value <= target;
}

/**
 * Training seconds until the metric first reaches `target`, interpolating linearly between the end of the
 * epoch before and the end of the epoch that reaches it (the curve starts at the first epoch's end: a target
 * met there counts that epoch's full time). Null if never reached.
 */
export function timeToTarget(rows: readonly EpochRow[], metric: Metric, target: number): number | null {
  let t = 0;
  let prev: { t: number; v: number } | null = null;
  for (const r of rows) {
    const v = metricOf(r, metric);
    const tEnd = t + r.seconds;
    if (Number.isFinite(v) && reaches(metric, v, target)) {
      if (!prev || !Number.isFinite(prev.v) || prev.v === v) return tEnd;
      return prev.t + ((target - prev.v) / (v - prev.v)) * (tEnd - prev.t);
    }
    prev = { t: tEnd, v };
    t = tEnd;
  }
  return null;
}

/**
 * The metric at training time `at` (linear between epoch ends); null before the first epoch ends or past
 * the last.
 */
export function metricAtTime(rows: readonly EpochRow[], metric: Metric, at: number): number | null {
  let t = 0;
  let prev: { t: number; v: number } | null = null;
  for (const r of rows) {
    const tEnd = t + r.seconds;
    const v = metricOf(r, metric);
    if (at <= tEnd) {
      if (!prev) return at === tEnd ? v : null;
      return prev.v + ((at - prev.t) / (tEnd - prev.t)) * (v - prev.v);
    }
    prev = { t: tEnd, v };
    t = tEnd;
  }
  return null;
}

/** Total training seconds of a run. */
export function totalSeconds(rows: readonly EpochRow[]): number {
  return rows.reduce((s, r) => s + r.seconds, 0);
}

/** Mean of epochs 2…E (the steady, cached-coefficient regime); null with fewer than two epochs. */
export function steadyEpochSeconds(rows: readonly EpochRow[]): number | null {
  if (rows.length < 2) return null;
  return totalSeconds(rows.slice(1)) / (rows.length - 1);
}
