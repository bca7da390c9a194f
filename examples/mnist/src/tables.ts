/**
 * `npm run report`: one table per task across batch sizes, from the committed demo results
 * (`results/<task>-b<batch>.json`), written to `results/SUMMARY.md` and printed; the charts beside each JSON
 * are re-drawn from it.
 * @module
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { renderCharts } from './charts.js';
import { boundViolations, FASTEST, fmtDelta, fmtMetric, kfacChoiceOf, kfacComparator, kfacMark, reuseBound, timeToTargetVsKfac, type OptimizerSummary, type Report } from './report.js';
import { describeConfig } from './optimizers.js';
import type { Spread } from './summary.js';

const f = (x: number | null, d = 2): string => (x === null ? 'n/a' : x.toFixed(d));

/** The markdown of one task's reports (sorted by batch size). */
export function taskTable(reports: readonly Report[]): string {
  const r0 = reports[0];
  if (!r0) return '';
  const { metric } = r0;
  const sp = (s: Spread | null, fm: (v: number) => string): string =>
    s ? `${fm(s.median)} [${fm(s.min)}–${fm(s.max)}]` : 'n/a';
  const fm = (v: number): string => fmtMetric(metric, v);
  const out: string[] = [];
  out.push(
    `### ${r0.task} (${r0.model}${r0.data ? `, ${r0.data.source}` : ''}), ${r0.sizes.train.toLocaleString('en-US')} / ${r0.sizes.test.toLocaleString('en-US')} ${r0.data ? 'images' : 'digits'}, ${r0.epochs} epochs, ${r0.backend}, median [min–max] of ${r0.seeds.length} seeds`,
  );
  out.push('');
  const mid = Math.max(1, Math.round(r0.epochs / 2));
  out.push(
    `| batch | optimizer | tuned setting | final ${metric === 'testAccuracy' ? 'test accuracy' : 'test loss'} | Δ vs Adam after epoch 1 / ${mid} / ${r0.epochs} | epoch 1 ÷ SGD | steady epoch ÷ SGD | time to target | ÷ Adam |`,
  );
  out.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of [...reports].sort((a, b) => a.batchSize - b.batchSize)) {
    const adam = r.summary.find((s) => s.optimizer === 'adam');
    const delta = (s: OptimizerSummary, e: number): string => {
      const v = s.perEpoch[e - 1] ?? null;
      const a = adam?.perEpoch[e - 1] ?? null;
      return v === null || a === null ? 'n/a' : fmtDelta(metric, v - a);
    };
    for (const s of r.summary) {
      const deltas = s.optimizer === 'adam' ? '—' : [1, mid, r.epochs].map((e) => delta(s, e)).join(' / ');
      out.push(
        `| ${r.batchSize} | ${s.optimizer} | ${s.config ? describeConfig(s.config) : ''} | ${sp(s.final, fm)}${s.diverged ? ` (${s.diverged} diverged)` : ''} | ${deltas} | ` +
          `${f(s.epoch1VsSgd)} | ${f(s.steadyVsSgd)} | ${sp(s.timeToTarget, (v) => `${v.toFixed(1)} s`)} (${s.reached}/${r.seeds.length}) | ${f(s.timeToTargetVsAdam)} |`,
      );
    }
  }
  out.push('');
  out.push(
    'ROI in the method\'s own terms (FNGD variants; "at equal time" = every optimizer\'s median metric at the shortest median total training time; ' +
      '"÷ KFAC" = median time to target ÷ KFAC\'s (of the KFACs run — adaptive KFAC with the Gauss–Newton or the factors\' quadratic model, KFAC with a tuned learning rate — the one with the best validation score), the paper\'s FNGD ÷ KFAC ratio (its ResNet-18/CIFAR-100 figure is 1/2.07 ≈ 0.48); n/a where KFAC did not run or either missed the target):',
  );
  out.push('');
  out.push(
    '| batch | target | variant | epoch-1 investment over SGD | steady epoch ÷ SGD | at equal time (vs Adam) | time to target ÷ Adam | time to target ÷ KFAC | factorizations | verdict |',
  );
  out.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of [...reports].sort((a, b) => a.batchSize - b.batchSize)) {
    const adam = r.summary.find((s) => s.optimizer === 'adam');
    r.summary.forEach((s) => {
      if (!s.optimizer.startsWith('fngd')) return;
      const fastest = r.verdicts.find((v) => v.startsWith(FASTEST))?.replace(/ to the target .*$/, '');
      const verdict = (r.verdicts.find((v) => v.startsWith(`${s.optimizer}:`))?.replace(/^.*— /, '') ?? '') + (fastest ? ` (${fastest})` : '');
      out.push(
        `| ${r.batchSize} | ${fm(r.target.value)} | ${s.optimizer} | ${s.investmentSeconds === null ? 'n/a' : `${s.investmentSeconds >= 0 ? '+' : ''}${s.investmentSeconds.toFixed(1)} s`} | ${f(s.steadyVsSgd)} | ` +
          `${fmtMetric(metric, s.atEqualTime)} (${fmtMetric(metric, adam?.atEqualTime ?? null)}) at ${r.equalTime.toFixed(0)} s | ${f(s.timeToTargetVsAdam)} | ${f(timeToTargetVsKfac(r.summary, s, kfacChoiceOf(r)))} | ${s.factorizations ?? 'n/a'} | ${verdict} |`,
      );
    });
  }
  if (reports.some((r) => r.summary.some((s) => s.finalRecalibrated !== undefined))) {
    out.push(
      '',
      "BatchNorm's running statistics against recalibrated ones: the final test metric as inference computes it (running statistics, an average over the training steps that trails the weights) and with every BatchNorm's statistics re-estimated on the training images after the last epoch (not timed):",
      '',
      '| batch | optimizer | final (running statistics) | final (recalibrated) |',
      '| --- | --- | --- | --- |',
    );
    for (const r of [...reports].sort((a, b) => a.batchSize - b.batchSize))
      for (const s of r.summary) out.push(`| ${r.batchSize} | ${s.optimizer} | ${sp(s.final, fm)} | ${sp(s.finalRecalibrated ?? null, fm)} |`);
  }
  out.push('');
  out.push(...kfacTable(reports));
  out.push('');
  out.push(...policyTable(reports));
  out.push('');
  out.push(
    `Target: ${r0.target.rule}. Reproduce: \`npm run tune -- --task ${r0.task}${r0.model === 'mlp' ? '' : ` --model ${r0.model}`} --batch N\`, then \`npm run demo -- --task ${r0.task}${r0.model === 'mlp' ? '' : ` --model ${r0.model}`} --batch N --out results\`.`,
  );
  return out.join('\n');
}

/**
 * FNGD against KFAC (the paper's comparator): time to the shared target and to KFAC's own median final metric,
 * each FNGD variant's ÷ KFAC's (the paper reports FNGD 2.07× faster: a ratio of 0.48). Empty without KFAC runs.
 */
export function kfacTable(reports: readonly Report[]): string[] {
  const r0 = reports[0];
  if (!r0 || !reports.some((r) => kfacComparator(r.summary, kfacChoiceOf(r)) !== null)) return [];
  const { metric } = r0;
  const fm = (v: number | null): string => fmtMetric(metric, v);
  const f = (v: number | null): string => (v === null ? 'n/a' : v.toFixed(2));
  const sec = (sp: { median: number; n: number } | null, seeds: number): string => (sp ? `${sp.median.toFixed(1)} s (${sp.n}/${seeds})` : 'not reached');
  const out = [
    'FNGD against KFAC (the paper\'s comparator, tuned by the same protocol: of the KFACs run — kfac-gn and kfac-adaptive, kfac-jax\'s adaptive mode with its exact Gauss–Newton or the factors\' quadratic model, kfac-lm, its stochastic recipe (a tuned learning rate, λ adapted), and kfac, a tuned learning rate and λ — the one with the best validation score, in that order where the run has no scores), medians; "÷ KFAC" < 1: faster than KFAC (the paper: 0.48):',
    '',
    '| batch | optimizer | final | time to target | ÷ KFAC | time to KFAC\'s final | ÷ KFAC |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of [...reports].sort((a, b) => a.batchSize - b.batchSize)) {
    const mark = kfacMark(r);
    if (!mark) continue;
    for (const s of r.summary) {
      if (!s.optimizer.startsWith('fngd') && s.optimizer !== mark.kfac) continue;
      const m = mark.rows.get(s.optimizer);
      out.push(
        `| ${r.batchSize} | ${s.optimizer} | ${fm(s.final?.median ?? null)} | ${sec(s.timeToTarget, r.seeds.length)} | ${f(timeToTargetVsKfac(r.summary, s, kfacChoiceOf(r)))} | ` +
          `${sec(m?.seconds ?? null, r.seeds.length)} | ${f(m?.ratio ?? null)} |`,
      );
    }
    out.push(`| ${r.batchSize} | | target ${fm(r.target.value)}; ${mark.kfac}'s final ${fm(mark.mark)} | | | | |`);
  }
  return out;
}

/**
 * The refresh policies against exact NGD every step (`fngd-always`): what each keeps of its final metric, at
 * what share of its factorizations, and how fast it reaches the shared target relative to `always` and Adam.
 */
export function policyTable(reports: readonly Report[]): string[] {
  const r0 = reports[0];
  if (!r0) return [];
  const { metric } = r0;
  const out = [
    'Refresh policies against exact NGD every step (`fngd-always`), medians:',
    '',
    '| batch | policy | final | ÷ always | factorizations | ÷ always | time to target ÷ always | ÷ Adam | steady epoch ÷ SGD |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  let bounds = 0;
  for (const r of [...reports].sort((a, b) => a.batchSize - b.batchSize)) {
    const always = r.summary.find((s) => s.optimizer === 'fngd-always');
    for (const s of r.summary) {
      if (!s.optimizer.startsWith('fngd')) continue;
      const fin = s.final?.median ?? null;
      const aFin = always?.final?.median ?? null;
      const t = s.timeToTarget?.median ?? null;
      const aT = always?.timeToTarget?.median ?? null;
      out.push(
        `| ${r.batchSize} | ${s.optimizer} | ${fmtMetric(metric, fin)} | ${f(fin !== null && aFin ? fin / aFin : null, 3)} | ${s.factorizations ?? 'n/a'} | ` +
          `${f(s.factorizations !== null && always?.factorizations ? s.factorizations / always.factorizations : null)} | ${f(t !== null && aT ? t / aT : null)} | ${f(s.timeToTargetVsAdam)} | ${f(s.steadyVsSgd)} |`,
      );
    }
    const bound = reuseBound(r);
    if (bound) {
      bounds++;
      const faster = boundViolations(r);
      const cell =
        faster.length === 0
          ? `${f(bound.median)} [${f(bound.min)}–${f(bound.max)}]`
          : `n/a: ${faster.join(', ')} reach${faster.length === 1 ? 'es' : ''} the target in fewer epochs than \`always\``;
      out.push(`| ${r.batchSize} | *bound: \`always\`'s epochs at a cached step's price* | | | | | ${cell} | | |`);
    }
  }
  if (bounds > 0)
    out.push(
      '',
      "The bound row re-times `always`'s own curve, epochs 2 onward at `fngd`'s cached-step epoch of the same seed: a refresh policy that at best matches `always` epoch for epoch cannot reach the target faster. Where a policy beats `always` in epochs on some seed the premise fails and no bound is given.",
    );
  return out;
}

const HELP = `npm run report

Rebuilds examples/mnist/results/SUMMARY.md — one return-on-investment table per task across batch sizes — and the
charts beside each result, from the committed demo results (results/<task>-b<batch>.json). Trains nothing.`;

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log(HELP);
    return;
  }
  const dir = join(import.meta.dirname, '..', 'results');
  const files = existsSync(dir)
    ? readdirSync(dir).filter((n) => /^(classifier|autoencoder)(-(cnn|resnet|vit))?-b\d+\.json$/.test(n))
    : [];
  const reports = files.map((n) => JSON.parse(readFileSync(join(dir, n), 'utf8')) as Report);
  // the charts are re-drawn from the same JSON, so a change of chart style needs no new training run
  for (const [i, n] of files.entries()) await renderCharts(reports[i] as Report, join(dir, n.replace(/\.json$/, '')));
  const groups = new Map<string, Report[]>();
  const group = (r: Report): string => `${r.task}/${r.model}/${r.data?.source ?? 'mnist'}`;
  for (const r of reports) groups.set(group(r), [...(groups.get(group(r)) ?? []), r]);
  const md = [
    '# MNIST return-on-investment summary',
    '',
    'Generated by `npm run report` from the JSON files beside it; every optimizer tuned by `npm run tune` (same trial budget, validation split).',
    '',
  ];
  for (const g of [...groups.values()]) md.push(taskTable(g), '');
  const text = md.join('\n');
  writeFileSync(join(dir, 'SUMMARY.md'), text);
  const shownFrom = process.env['INIT_CWD'] ?? process.cwd();
  console.log(`${reports.length} results, ${groups.size} tables; wrote:\n  ${relative(shownFrom, join(dir, 'SUMMARY.md'))} (and the charts beside each JSON)`);
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
