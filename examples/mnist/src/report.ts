/**
 * The ROI report of a multi-seed run: a shared target, per-optimizer medians with min–max spread, epoch costs
 * against SGD, progress per epoch against Adam, the metric at equal training time, time to target (each FNGD
 * variant's also against KFAC's, the paper's comparator), and a one-line verdict per FNGD variant.
 * `buildReport` is pure (tested); `printReport` formats it.
 * @module
 */
import type { FngdStats } from 'ifngd';
import type { ModelKind, Task, Initializer } from './models.js';
import type { OptName, TrialConfig } from './search.js';
import {
  metricAtTime,
  metricOf,
  spread,
  steadyEpochSeconds,
  timeToTarget,
  totalSeconds,
  type EpochRow,
  type Metric,
  type Spread,
} from './summary.js';

/** One (optimizer, seed) run. */
export interface Run {
  readonly optimizer: OptName;
  readonly seed: number;
  readonly epochs: EpochRow[];
  diverged: string | null;
  stats?: FngdStats;
  /** A BatchNorm model's final test metric with its running statistics recalibrated (`recalibrate.ts`). */
  recalibrated?: { readonly testLoss: number; readonly testAccuracy?: number };
}

export interface ReportInput {
  readonly task: Task;
  readonly model: ModelKind;
  /** The images when not the shipped MNIST digits (`--data`): their source, shape, and whether they were mirrored. */
  readonly data?: { readonly source: string; readonly shape: readonly number[]; readonly flips: boolean };
  readonly backend: string;
  readonly metric: Metric;
  readonly batchSize: number;
  readonly epochs: number;
  readonly seeds: readonly number[];
  readonly sizes: { readonly train: number; readonly test: number };
  readonly tuned: {
    readonly file: string;
    readonly initializer: Initializer;
    readonly best: Partial<Record<OptName, TrialConfig>>;
    /** Each best configuration's validation score (the tuning's final-epoch metric); absent in older reports. */
    readonly scores?: Partial<Record<OptName, number>>;
    readonly trialsPerOptimizer: number;
  };
  readonly runs: readonly Run[];
}

/** Per-optimizer figures (medians over seeds, min–max spread). */
export interface OptimizerSummary {
  readonly optimizer: OptName;
  readonly config: TrialConfig | undefined;
  readonly final: Spread | null;
  /** The final metric with BatchNorm's running statistics recalibrated (BatchNorm models; null otherwise). */
  readonly finalRecalibrated?: Spread | null;
  readonly timeToTarget: Spread | null;
  /** Seeds that reached the target. */
  readonly reached: number;
  readonly diverged: number;
  readonly epoch1Seconds: Spread | null;
  readonly steadyEpochSeconds: Spread | null;
  /** Median epoch-1 seconds ÷ SGD's. */
  readonly epoch1VsSgd: number | null;
  /** Median steady-epoch seconds ÷ SGD's. */
  readonly steadyVsSgd: number | null;
  /** Median epoch-1 seconds minus SGD's: the first-epoch investment. */
  readonly investmentSeconds: number | null;
  /** Median metric at the report's equal-time point. */
  readonly atEqualTime: number | null;
  /** Median time to target ÷ Adam's. */
  readonly timeToTargetVsAdam: number | null;
  /** Median metric after each epoch (null where no seed has that epoch). */
  readonly perEpoch: readonly (number | null)[];
  /** Median Gram + Cholesky computations (FNGD variants). */
  readonly factorizations: number | null;
}

export interface Report extends Omit<ReportInput, 'runs'> {
  readonly target: { readonly value: number; readonly rule: string };
  /** The training time at which all optimizers are compared: the shortest median total time. */
  readonly equalTime: number;
  readonly summary: readonly OptimizerSummary[];
  readonly verdicts: readonly string[];
  readonly runs: readonly Run[];
}

const med = (s: Spread | null): number | null => s?.median ?? null;
const ratio = (a: number | null, b: number | null): number | null => (a !== null && b !== null && b > 0 ? a / b : null);

/** The shared target: autoencoder — Adam's median final test loss; classifier — best baseline's median final accuracy − 0.5 points. */
function targetOf(metric: Metric, finals: Map<OptName, Spread | null>): { value: number; rule: string } {
  const base = (['adam', 'sgd'] as const).map((o) => med(finals.get(o) ?? null)).filter((v): v is number => v !== null);
  if (metric === 'testAccuracy') {
    const best = base.length ? Math.max(...base) : Math.max(...[...finals.values()].map((s) => s?.median ?? -Infinity));
    return {
      value: Math.round((best - 0.005) * 10000) / 10000,
      rule: "best baseline's median final test accuracy − 0.5 points",
    };
  }
  const adam = med(finals.get('adam') ?? null);
  if (adam !== null) return { value: adam, rule: "Adam's median final test loss" };
  return {
    value: Math.min(...[...finals.values()].map((s) => s?.median ?? Infinity)),
    rule: 'best median final test loss',
  };
}

export function buildReport(input: ReportInput): Report {
  const { metric } = input;
  const names = [...new Set(input.runs.map((r) => r.optimizer))];
  const runsOf = (o: OptName): Run[] => input.runs.filter((r) => r.optimizer === o);
  const finalOf = (r: Run): number | null => {
    const last = r.epochs.at(-1);
    return r.diverged || !last ? null : metricOf(last, metric);
  };
  const finals = new Map(names.map((o) => [o, spread(runsOf(o).map(finalOf))]));
  const target = targetOf(metric, finals);
  const totals = names.map(
    (o) =>
      spread(
        runsOf(o)
          .filter((r) => !r.diverged)
          .map((r) => totalSeconds(r.epochs)),
      )?.median ?? Infinity,
  );
  const equalTime = Math.min(...totals);
  const e1 = (o: OptName): Spread | null => spread(runsOf(o).map((r) => r.epochs[0]?.seconds ?? null));
  const steady = (o: OptName): Spread | null => spread(runsOf(o).map((r) => steadyEpochSeconds(r.epochs)));
  const ttt = (o: OptName): Spread | null =>
    spread(runsOf(o).map((r) => (r.diverged ? null : timeToTarget(r.epochs, metric, target.value))));
  const sgdE1 = med(e1('sgd'));
  const sgdSteady = med(steady('sgd'));
  const adamT = med(ttt('adam'));
  const summary: OptimizerSummary[] = names.map((o) => {
    const rs = runsOf(o);
    const t = ttt(o);
    const perEpoch = Array.from({ length: input.epochs }, (_, e) =>
      med(spread(rs.map((r) => (r.epochs[e] ? metricOf(r.epochs[e], metric) : null)))),
    );
    const facts = spread(rs.map((r) => r.stats?.factorizations ?? null));
    const recal = rs.some((r) => r.recalibrated)
      ? spread(rs.map((r) => (r.diverged || !r.recalibrated ? null : metric === 'testAccuracy' ? (r.recalibrated.testAccuracy ?? null) : r.recalibrated.testLoss)))
      : undefined;
    return {
      optimizer: o,
      config: input.tuned.best[o],
      final: finals.get(o) ?? null,
      ...(recal === undefined ? {} : { finalRecalibrated: recal }),
      timeToTarget: t,
      reached: t?.n ?? 0,
      diverged: rs.filter((r) => r.diverged).length,
      epoch1Seconds: e1(o),
      steadyEpochSeconds: steady(o),
      epoch1VsSgd: ratio(med(e1(o)), sgdE1),
      steadyVsSgd: ratio(med(steady(o)), sgdSteady),
      investmentSeconds: med(e1(o)) !== null && sgdE1 !== null ? (med(e1(o)) as number) - sgdE1 : null,
      atEqualTime: Number.isFinite(equalTime)
        ? med(spread(rs.map((r) => (r.diverged ? null : metricAtTime(r.epochs, metric, equalTime)))))
        : null,
      timeToTargetVsAdam: ratio(med(t), adamT),
      perEpoch,
      factorizations: med(facts),
    };
  });
  const { runs: _runs, ...rest } = input;
  return {
    ...rest,
    target,
    equalTime,
    summary,
    verdicts: verdicts(metric, summary, input.seeds.length),
    runs: input.runs,
  };
}

/** How a report chooses between its two KFACs: their tuning's validation scores, and the metric's direction. */
export interface KfacChoice {
  readonly scores?: Partial<Record<OptName, number>>;
  readonly metric: Metric;
}

/** The KFACs that may stand for KFAC in "÷ KFAC", in the order chosen without validation scores. */
const KFACS: readonly OptName[] = ['kfac-gn', 'kfac-adaptive', 'kfac-lm', 'kfac'];

/**
 * The KFAC that "÷ KFAC" compares with. Where the report ran more than one of KFAC as its references run it
 * (`kfac-gn`: kfac-jax's adaptive mode with its exact Gauss–Newton quadratic model; `kfac-adaptive`: the same mode with
 * the factors' one-sample estimate of it — both the sampled Fisher, Levenberg–Marquardt damping, learning rate and
 * momentum from the quadratic model; `kfac-lm`: kfac-jax's stochastic recipe, a tuned learning rate and momentum 0.9
 * with λ adapted) and KFAC with a tuned learning rate and fixed λ (`kfac`), the tuning protocol chooses: the
 * one with the best validation score, as the initializer is chosen by Adam's (never by the test runs being
 * compared). Without every score (older reports), that order. A KFAC whose every seed diverged has no final to
 * compare with: the next stands in. Null without any.
 */
export function kfacComparator(summary: readonly OptimizerSummary[], choice?: KfacChoice): OptimizerSummary | null {
  const ran = KFACS.map((o) => summary.find((x) => x.optimizer === o)).filter((x): x is OptimizerSummary => x !== undefined);
  const scores = ran.map((x) => choice?.scores?.[x.optimizer]);
  const sign = choice?.metric === 'testAccuracy' ? -1 : 1;
  const ordered = scores.every((v) => v !== undefined)
    ? ran.map((x, i) => ({ x, v: sign * (scores[i] as number) })).sort((a, b) => a.v - b.v).map((e) => e.x) // stable: ties keep the order
    : ran;
  return ordered.find((x) => x.final) ?? ordered[0] ?? null;
}

/** The {@link KfacChoice} of a report. */
export const kfacChoiceOf = (r: Pick<Report, 'tuned' | 'metric'>): KfacChoice => ({ metric: r.metric, ...(r.tuned.scores ? { scores: r.tuned.scores } : {}) });

/**
 * Median time to target of `s` ÷ KFAC's in the same report ({@link kfacComparator}; the paper's FNGD ÷ KFAC
 * ratio; < 1: `s` is faster). Null when KFAC did not run or either never reached the target.
 */
export function timeToTargetVsKfac(summary: readonly OptimizerSummary[], s: OptimizerSummary, choice?: KfacChoice): number | null {
  return ratio(med(s.timeToTarget), med(kfacComparator(summary, choice)?.timeToTarget ?? null));
}

/**
 * The paper's comparison on KFAC's own terms, which still reads where KFAC misses the shared target: the mark is
 * KFAC's median final metric; each optimizer's time to it (median over the seeds whose run reaches it) ÷ KFAC's
 * own median time to it. Null without KFAC runs; `ratio` null where either never reaches the mark.
 */
export function kfacMark(report: Report): { mark: number; kfac: OptName; rows: Map<OptName, { seconds: Spread | null; ratio: number | null }> } | null {
  const k = kfacComparator(report.summary, kfacChoiceOf(report));
  const mark = k?.final?.median ?? null;
  if (!k || mark === null) return null;
  const rows = new Map<OptName, { seconds: Spread | null; ratio: number | null }>();
  const time = (o: OptName): Spread | null =>
    spread(report.runs.filter((r) => r.optimizer === o).map((r) => (r.diverged ? null : timeToTarget(r.epochs, report.metric, mark))));
  const kT = med(time(k.optimizer));
  for (const s of report.summary) {
    const t = time(s.optimizer);
    rows.set(s.optimizer, { seconds: t, ratio: ratio(med(t), kT) });
  }
  return { mark, kfac: k.optimizer, rows };
}

/**
 * The most any refresh policy can buy over exact NGD every step, from the runs themselves: per seed, `fngd-always`'s
 * curve with epochs 2…E re-timed at the same seed's cached-step epoch (the steady epoch of `fngd`, which reuses
 * every coefficient after epoch 1), its time to the target ÷ `always`'s own. A policy that at best matches
 * `always` per epoch and at best costs a cached step per step cannot be faster than this (epoch 1 computes
 * every batch fresh under every policy). Spread over the seeds where `always` reaches the target; null without
 * `fngd` and `fngd-always` runs of the same seeds or when `always` never reaches it.
 */
export function reuseBound(report: Pick<Report, 'runs' | 'metric' | 'target'>): Spread | null {
  const ratios = report.runs
    .filter((a) => a.optimizer === 'fngd-always' && !a.diverged)
    .map((a) => {
      const reuse = report.runs.find((r) => r.optimizer === 'fngd' && r.seed === a.seed && !r.diverged);
      const cached = reuse ? steadyEpochSeconds(reuse.epochs) : null;
      const tAlways = timeToTarget(a.epochs, report.metric, report.target.value);
      if (cached === null || tAlways === null) return null;
      const retimed = a.epochs.map((e, i) => (i === 0 ? e : { ...e, seconds: cached }));
      const tBound = timeToTarget(retimed, report.metric, report.target.value);
      return tBound === null ? null : tBound / tAlways;
    });
  return spread(ratios);
}

/** Epochs (fractional: linear within the reaching epoch) until a run first reaches `target`; null if never. */
export function epochsToTarget(rows: readonly EpochRow[], metric: Metric, target: number): number | null {
  return timeToTarget(
    rows.map((r) => ({ ...r, seconds: 1 })),
    metric,
    target,
  );
}

/**
 * The refresh policies that break {@link reuseBound}'s premise: FNGD variants that, on some seed, reach the target
 * in fewer epochs than `fngd-always` on the same seed (or reach it where `always` does not). Where any does, the
 * "bound" bounds nothing — reuse keeps pace with exact NGD epoch for epoch there.
 */
export function boundViolations(report: Pick<Report, 'runs' | 'metric' | 'target'>): OptName[] {
  const { metric, target } = report;
  const always = new Map(
    report.runs
      .filter((r) => r.optimizer === 'fngd-always' && !r.diverged)
      .map((r) => [r.seed, epochsToTarget(r.epochs, metric, target.value)] as const),
  );
  const out = new Set<OptName>();
  for (const r of report.runs) {
    if (!r.optimizer.startsWith('fngd') || r.optimizer === 'fngd-always' || r.diverged || !always.has(r.seed)) continue;
    const e = epochsToTarget(r.epochs, metric, target.value);
    const a = always.get(r.seed) ?? null;
    if (e !== null && (a === null || e < a - 1e-9)) out.add(r.optimizer);
  }
  return [...out];
}

export function fmtMetric(metric: Metric, v: number | null): string {
  if (v === null) return 'n/a';
  return metric === 'testAccuracy' ? `${(v * 100).toFixed(2)} %` : v.toFixed(1);
}

/** A difference of the metric: points for accuracy, loss units otherwise, always signed. */
export function fmtDelta(metric: Metric, d: number): string {
  const v = metric === 'testAccuracy' ? d * 100 : d;
  return `${v >= 0 ? '+' : ''}${v.toFixed(metric === 'testAccuracy' ? 2 : 1)}${metric === 'testAccuracy' ? ' pt' : ''}`;
}

/** One line per FNGD variant: who wins on time to target, and at what price. */
function verdicts(metric: Metric, summary: readonly OptimizerSummary[], seeds: number): string[] {
  const out: string[] = [];
  const base = summary.filter((s) => s.optimizer === 'adam' || s.optimizer === 'sgd');
  const bestBase = base
    .filter((s) => s.timeToTarget)
    .sort((a, b) => (a.timeToTarget as Spread).median - (b.timeToTarget as Spread).median)[0];
  // the verdicts weigh FNGD against the first-order baselines (the paper's return on investment); where another
  // optimizer (KFAC, Muon, …) reached the target sooner than the winner, they say so
  const fastest = summary
    .filter((s) => s.timeToTarget)
    .sort((a, b) => (a.timeToTarget as Spread).median - (b.timeToTarget as Spread).median)[0];
  for (const s of summary) {
    if (!s.optimizer.startsWith('fngd')) continue;
    const cost = `epoch 1 ${s.epoch1VsSgd?.toFixed(2) ?? 'n/a'}× SGD, later ${s.steadyVsSgd?.toFixed(2) ?? 'n/a'}×`;
    if (!s.timeToTarget) {
      out.push(
        `${s.optimizer}: never reached the target (final ${fmtMetric(metric, med(s.final))}; ${cost}) — ${bestBase ? bestBase.optimizer : 'no one'} wins.`,
      );
      continue;
    }
    if (!bestBase) {
      out.push(
        `${s.optimizer}: reached the target in ${s.timeToTarget.median.toFixed(1)} s; no baseline did — ${s.optimizer} wins (${cost}).`,
      );
      continue;
    }
    const r = s.timeToTarget.median / (bestBase.timeToTarget as Spread).median;
    const who = r < 1 ? s.optimizer : bestBase.optimizer;
    out.push(
      `${s.optimizer}: target in ${s.timeToTarget.median.toFixed(1)} s = ${r.toFixed(2)}× ${bestBase.optimizer}'s (${s.reached}/${seeds} seeds); ${cost} — ${who} wins.`,
    );
  }
  if (fastest && !fastest.optimizer.startsWith('fngd') && fastest !== bestBase) {
    out.push(`${FASTEST}${fastest.optimizer}, ${(fastest.timeToTarget as Spread).median.toFixed(1)} s to the target (the verdicts above weigh FNGD against Adam and SGD).`);
  }
  return out;
}

/** The verdict line that names an optimizer outside the baselines reaching the target sooner than any of them. */
export const FASTEST = 'fastest of all: ';

/** A value of the metric without its unit (the table headers carry it): accuracy in %, loss as is. */
function bare(metric: Metric, v: number | null): string {
  if (v === null) return 'n/a';
  return metric === 'testAccuracy' ? (v * 100).toFixed(1) : v.toFixed(1);
}

/** A bare difference to Adam in the metric's unit (percentage points or loss). */
function bareDelta(metric: Metric, d: number): string {
  const v = metric === 'testAccuracy' ? d * 100 : d;
  return `${v >= 0 ? '+' : ''}${v.toFixed(1)}`;
}

/** The lines `printReport` prints (every one at most 120 characters for the demo's optimizers). */
export function reportLines(r: Report): string[] {
  const { metric } = r;
  const f = (x: number | null, d = 2): string => (x === null ? 'n/a' : x.toFixed(d));
  const unit = metric === 'testAccuracy' ? 'test accuracy (%)' : 'test loss';
  const out: string[] = [];
  out.push('', `Per-epoch median ${unit} over seeds ${r.seeds.join(',')} (in brackets: the difference to Adam):`);
  const adam = r.summary.find((s) => s.optimizer === 'adam');
  const cell = (s: (typeof r.summary)[number], e: number): string => {
    const v = s.perEpoch[e] ?? null;
    const a = adam?.perEpoch[e] ?? null;
    const d = v !== null && a !== null && s !== adam ? ` (${bareDelta(metric, v - a)})` : '';
    return `${bare(metric, v)}${d}`;
  };
  const epochs = Array.from({ length: r.epochs }, (_, e) => e);
  const width = Math.max(...r.summary.flatMap((s) => [s.optimizer.length, ...epochs.map((e) => cell(s, e).length)])) + 2;
  // as many optimizers per block as fit in 120 columns; the next ones in a block below
  const per = Math.max(1, Math.floor((120 - 5) / width));
  for (let at = 0; at < r.summary.length; at += per) {
    const block = r.summary.slice(at, at + per);
    if (at > 0) out.push('');
    out.push('epoch' + block.map((s) => s.optimizer.padStart(width)).join(''));
    for (const e of epochs) out.push(String(e + 1).padStart(5) + block.map((s) => cell(s, e).padStart(width)).join(''));
  }
  out.push(
    '',
    `Return on investment — target ${fmtMetric(metric, r.target.value)} (${r.target.rule});`,
    `median over ${r.seeds.length} seed(s), [min–max]; equal-time point T = ${r.equalTime.toFixed(1)} s.`,
  );
  const withKfac = kfacComparator(r.summary, kfacChoiceOf(r)) !== null;
  const withRecal = r.summary.some((s) => s.finalRecalibrated !== undefined);
  const head = ['optimizer', 'final [min–max]', ...(withRecal ? ['BN recal.'] : []), 'to target', '÷ Adam', ...(withKfac ? ['÷ KFAC'] : []), 'ep 1 ÷ SGD', 'later ÷ SGD', 'at T', 'factoriz.'];
  const rows = r.summary.map((s) => {
    const final = s.final ? `${bare(metric, s.final.median)} [${bare(metric, s.final.min)}–${bare(metric, s.final.max)}]` : 'n/a';
    const toTarget = `${s.timeToTarget ? `${s.timeToTarget.median.toFixed(1)} s` : 'n/a'} (${s.reached}/${r.seeds.length})`;
    const kfac = s.optimizer.startsWith('fngd') ? f(timeToTargetVsKfac(r.summary, s, kfacChoiceOf(r))) : '';
    const recal = s.finalRecalibrated ? bare(metric, s.finalRecalibrated.median) : 'n/a';
    return [
      s.optimizer,
      final,
      ...(withRecal ? [recal] : []),
      toTarget,
      f(s.timeToTargetVsAdam),
      ...(withKfac ? [kfac] : []),
      `${f(s.epoch1VsSgd)} ${s.investmentSeconds === null ? '' : `${s.investmentSeconds >= 0 ? '+' : ''}${s.investmentSeconds.toFixed(1)}s`}`.trim(),
      f(s.steadyVsSgd),
      bare(metric, s.atEqualTime),
      s.factorizations === null ? '' : String(s.factorizations),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string => '  ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  out.push(line(head), ...rows.map(line));
  const diverged = r.summary.filter((s) => s.diverged > 0);
  if (diverged.length > 0) out.push(`  diverged (left out of the medians): ${diverged.map((s) => `${s.optimizer} ${s.diverged}/${r.seeds.length} seeds`).join(', ')}`);
  if (withRecal)
    out.push(
      "  BN recal.: the final metric with every BatchNorm's running statistics re-estimated on the training images",
      '  after the last epoch (not timed; the other columns use the running statistics, as inference does).',
    );
  out.push(
    `  final: the ${unit} after the last epoch. to target: seconds of training until the target`,
    "  (seeds that reached it); ÷ Adam, ÷ KFAC: that time relative to theirs. ep 1 ÷ SGD: the first epoch's time",
    "  relative to SGD's, and the extra seconds (FNGD's investment: every batch fresh); later ÷ SGD: the later",
    "  epochs'. at T: the metric at the equal-time point. factoriz.: n×n or layer-sized factorizations (FNGD: one",
    '  per fresh batch; KFAC: its inverses).',
  );
  for (const v of r.verdicts) out.push(`  → ${v}`);
  return out;
}

/** Prints the report's tables. */
export function printReport(r: Report): void {
  for (const l of reportLines(r)) console.log(l);
}
