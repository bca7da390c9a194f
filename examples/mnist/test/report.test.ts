import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { boundViolations, buildReport, epochsToTarget, kfacComparator, kfacMark, type OptimizerSummary, reportLines, reuseBound, timeToTargetVsKfac, type Report, type ReportInput, type Run } from '../src/report.js';
import type { OptName } from '../src/search.js';
import { kfacTable, policyTable, taskTable } from '../src/tables.js';

/** A run whose loss falls linearly from `start` by `step` per epoch, each epoch taking `sec` seconds. */
function run(optimizer: OptName, seed: number, sec: [number, number], start: number, step: number, epochs = 4): Run {
  return {
    optimizer,
    seed,
    diverged: null,
    epochs: Array.from({ length: epochs }, (_, e) => ({
      epoch: e + 1,
      seconds: e === 0 ? sec[0] : sec[1],
      trainLoss: start - step * e,
      testLoss: start - step * e,
    })),
  };
}

const input = (runs: Run[]): ReportInput => ({
  task: 'autoencoder',
  model: 'mlp',
  backend: 'cpu',
  metric: 'testLoss',
  batchSize: 128,
  epochs: 4,
  seeds: [1, 2, 3],
  sizes: { train: 100, test: 10 },
  tuned: {
    file: 'x.json',
    initializer: 'lecun-normal',
    best: { adam: { learningRate: 0.001 } },
    trialsPerOptimizer: 8,
  },
  runs,
});

describe('buildReport', () => {
  const runs: Run[] = [];
  for (const seed of [1, 2, 3]) {
    runs.push(run('sgd', seed, [1, 1], 200, 10));
    runs.push(run('adam', seed, [1.2, 1.2], 200 + seed, 20)); // finals 141, 142, 143 → target 142
    runs.push(run('fngd-always', seed, [2, 1.5], 190, 30)); // reaches 142 during epoch 3
  }
  const r = buildReport(input(runs));
  const by = (o: OptName) => r.summary.find((s) => s.optimizer === o)!;

  it("targets Adam's median final loss on the autoencoder", () => {
    expect(r.target.value).toBe(142);
    expect(by('adam').final).toEqual({ median: 142, min: 141, max: 143, n: 3 });
  });

  it('computes epoch costs against SGD, the investment, and time to target', () => {
    const f = by('fngd-always');
    expect(f.epoch1VsSgd).toBeCloseTo(2, 12);
    expect(f.steadyVsSgd).toBeCloseTo(1.5, 12);
    expect(f.investmentSeconds).toBeCloseTo(1, 12);
    // 190,160,130: 142 is reached 18/30 into epoch 3 (from t = 3.5 s to 5 s)
    expect(f.timeToTarget?.median).toBeCloseTo(3.5 + (18 / 30) * 1.5, 12);
    // Adam: seed 1 (…,161,141) at 3.6 + 19/20·1.2 = 4.74 s, seed 2 (…,142) at 4.8 s, seed 3 (…,143) never
    expect(by('adam').timeToTarget).toEqual({
      median: expect.closeTo(4.77, 12),
      min: expect.closeTo(4.74, 12),
      max: expect.closeTo(4.8, 12),
      n: 2,
    });
    expect(by('adam').reached).toBe(2);
    expect(f.timeToTargetVsAdam).toBeCloseTo((3.5 + 0.9) / 4.77, 12);
    expect(by('sgd').reached).toBe(0);
  });

  it('compares all at the shortest median total time and names the winner', () => {
    expect(r.equalTime).toBe(4);
    expect(by('sgd').atEqualTime).toBe(170);
    expect(r.verdicts).toHaveLength(1);
    expect(r.verdicts[0]).toMatch(/^fngd-always: .* 0\.92× adam's .* fngd-always wins\.$/);
    expect(by('fngd-always').perEpoch).toEqual([190, 160, 130, 100]);
  });

  it('counts diverged runs and leaves them out of medians', () => {
    const bad = runs.map((x) =>
      x.optimizer === 'fngd-always' && x.seed === 1 ? { ...x, diverged: 'epoch 2: boom' } : x,
    );
    const s = buildReport(input(bad)).summary.find((x) => x.optimizer === 'fngd-always')!;
    expect(s.diverged).toBe(1);
    expect(s.final?.n).toBe(2);
    expect(s.reached).toBe(2);
  });

  it("uses the best baseline's median accuracy − 0.5 points for the classifier", () => {
    const acc = (o: OptName, seed: number, a: number): Run => ({
      optimizer: o,
      seed,
      diverged: null,
      epochs: [{ epoch: 1, seconds: 1, trainLoss: 1, testLoss: 1, testAccuracy: a }],
    });
    const rr = buildReport({
      ...input([acc('adam', 1, 0.95), acc('sgd', 1, 0.96), acc('fngd', 1, 0.955)]),
      task: 'classifier',
      metric: 'testAccuracy',
      epochs: 1,
      seeds: [1],
    });
    expect(rr.target.value).toBeCloseTo(0.955, 12);
    expect(rr.summary.find((s) => s.optimizer === 'fngd')?.reached).toBe(1);
  });

  it('renders a markdown table with every optimizer', () => {
    const md = taskTable([r]);
    for (const o of ['sgd', 'adam', 'fngd-always']) expect(md).toContain(`| 128 | ${o} |`);
    expect(md).toContain('| 128 | 142.0 | fngd-always | +1.0 s | 1.50 |');
    expect(md).toContain('time to target ÷ KFAC');
    expect(md).toMatch(/\| fngd-always \|.*\| 0\.92 \| n\/a \| n\/a \|/); // no KFAC run: n/a
  });

  it("reports each FNGD variant's time to target ÷ KFAC's (the paper's ratio); KFAC gets no verdict", () => {
    const withKfac = [...runs];
    for (const seed of [1, 2, 3]) withKfac.push(run('kfac', seed, [3, 2], 190, 20)); // 190,170,150,130: 142 at 3+2+2+1.6
    const rk = buildReport(input(withKfac));
    const k = rk.summary.find((s) => s.optimizer === 'kfac')!;
    expect(k.timeToTarget?.median).toBeCloseTo(3 + 2 + 2 * (8 / 20) + 2, 12);
    const f = rk.summary.find((s) => s.optimizer === 'fngd-always')!;
    const want = (3.5 + (18 / 30) * 1.5) / (3 + 2 + 2 + 2 * (8 / 20));
    expect(timeToTargetVsKfac(rk.summary, f)).toBeCloseTo(want, 12);
    expect(rk.verdicts).toHaveLength(1);
    expect(taskTable([rk])).toContain(`| ${want.toFixed(2)} |`);
  });

  it("measures every optimizer against KFAC's own final mark, which reads where KFAC misses the shared target", () => {
    expect(kfacMark(r)).toBeNull(); // no KFAC run
    expect(kfacTable([r])).toEqual([]);
    const withKfac = [...runs];
    for (const seed of [1, 2, 3]) withKfac.push(run('kfac', seed, [3, 2], 190, 20)); // 190,170,150,130 at 3,5,7,9 s
    const rk = buildReport(input(withKfac));
    const m = kfacMark(rk)!;
    expect(m.mark).toBe(130);
    expect(m.rows.get('kfac')?.seconds?.median).toBeCloseTo(9, 12);
    expect(m.rows.get('kfac')?.ratio).toBeCloseTo(1, 12);
    // fngd-always: 190,160,130 at 2, 3.5, 5 s → the mark at 5 s
    expect(m.rows.get('fngd-always')?.seconds?.median).toBeCloseTo(5, 12);
    expect(m.rows.get('fngd-always')?.ratio).toBeCloseTo(5 / 9, 12);
    expect(m.rows.get('adam')?.ratio).toBeNull(); // Adam ends at 141–143
    const md = kfacTable([rk]).join('\n');
    expect(md).toContain(`| 128 | fngd-always | 100.0 | ${(3.5 + (18 / 30) * 1.5).toFixed(1)} s (3/3) |`);
    expect(md).toContain(`| 5.0 s (3/3) | ${(5 / 9).toFixed(2)} |`);
    expect(md).toContain("kfac's final 130.0");
  });

  it("reports BatchNorm models' recalibrated final metric beside the running-statistics one, and nothing extra otherwise", () => {
    const withRecal = runs.map((x, i) => ({ ...x, recalibrated: { testLoss: 100 + i } }));
    const rr = buildReport(input(withRecal));
    const fa = rr.summary.find((s) => s.optimizer === 'fngd-always')!;
    // fngd-always is runs 2, 5, 8 (every third): recalibrated losses 102, 105, 108
    expect(fa.finalRecalibrated).toMatchObject({ median: 105, min: 102, max: 108, n: 3 });
    const lines = reportLines(rr).join('\n');
    expect(lines).toContain('BN recal.');
    expect(lines).toMatch(/BN recal\.: the final metric with every BatchNorm's running statistics re-estimated/);
    expect(taskTable([rr])).toContain('| 128 | fngd-always | 100.0 [100.0–100.0] | 105.0 [102.0–108.0] |');
    expect(r.summary.every((s) => s.finalRecalibrated === undefined)).toBe(true);
    expect(reportLines(r).join('\n')).not.toContain('BN recal.');
    expect(taskTable([r])).not.toContain('recalibrated');
  });

  it('falls back to KFAC at a tuned learning rate where every adaptive seed diverged', () => {
    const sum = (optimizer: string, final: number | null) => ({ optimizer, final: final === null ? null : { median: final, min: final, max: final, n: 3 } }) as unknown as OptimizerSummary;
    expect(kfacComparator([sum('kfac', 130), sum('kfac-adaptive', null)])?.optimizer).toBe('kfac');
    expect(kfacComparator([sum('kfac', 130), sum('kfac-adaptive', 120)])?.optimizer).toBe('kfac-adaptive');
    expect(kfacComparator([sum('kfac-adaptive', null)])?.optimizer).toBe('kfac-adaptive');
    expect(kfacComparator([sum('sgd', 1)])).toBeNull();
  });

  it('a verdict names an optimizer outside the baselines that reached the target sooner than its winner', () => {
    const withMuon = [...runs];
    for (const seed of [1, 2, 3]) withMuon.push(run('muon', seed, [1, 1], 190, 40)); // 190, 150, 110: 142 at 2 + 8/40
    const rm = buildReport(input(withMuon));
    expect(rm.verdicts[0]).toMatch(/fngd-always wins\.$/);
    expect(rm.verdicts.at(-1)).toBe('fastest of all: muon, 2.2 s to the target (the verdicts above weigh FNGD against Adam and SGD).');
    expect(taskTable([rm])).toContain('fngd-always wins. (fastest of all: muon, 2.2 s) |');
    expect(r.verdicts.some((v) => v.startsWith('fastest of all'))).toBe(false);
  });

  it('chooses between the two KFACs by their validation scores, never by the test runs compared', () => {
    const sum = (optimizer: string, final: number | null) => ({ optimizer, final: final === null ? null : { median: final, min: final, max: final, n: 3 } }) as unknown as OptimizerSummary;
    const both = [sum('kfac', 0.95), sum('kfac-adaptive', 0.97)];
    // accuracy: the tuned-rate KFAC validated better, so it stands for KFAC although adaptive KFAC's test final is higher
    expect(kfacComparator(both, { metric: 'testAccuracy', scores: { kfac: 0.957, 'kfac-adaptive': 0.832 } })?.optimizer).toBe('kfac');
    expect(kfacComparator(both, { metric: 'testAccuracy', scores: { kfac: 0.8, 'kfac-adaptive': 0.9 } })?.optimizer).toBe('kfac-adaptive');
    // loss: lower is better
    expect(kfacComparator(both, { metric: 'testLoss', scores: { kfac: 206, 'kfac-adaptive': 88 } })?.optimizer).toBe('kfac-adaptive');
    expect(kfacComparator(both, { metric: 'testLoss', scores: { kfac: 80, 'kfac-adaptive': 88 } })?.optimizer).toBe('kfac');
    // the chosen one diverged on every seed: the other stands in; one score missing: adaptive, as without scores
    expect(kfacComparator([sum('kfac', null), sum('kfac-adaptive', 0.9)], { metric: 'testAccuracy', scores: { kfac: 0.96, 'kfac-adaptive': 0.8 } })?.optimizer).toBe('kfac-adaptive');
    expect(kfacComparator(both, { metric: 'testAccuracy', scores: { kfac: 0.99 } })?.optimizer).toBe('kfac-adaptive');
    // three: the best score of the three; without every score, the Gauss–Newton model's, then the factors', then the tuned rate
    const three = [...both, sum('kfac-gn', 0.96)];
    expect(kfacComparator(three, { metric: 'testAccuracy', scores: { kfac: 0.957, 'kfac-adaptive': 0.832, 'kfac-gn': 0.955 } })?.optimizer).toBe('kfac');
    expect(kfacComparator(three, { metric: 'testAccuracy', scores: { kfac: 0.957, 'kfac-adaptive': 0.832, 'kfac-gn': 0.958 } })?.optimizer).toBe('kfac-gn');
    expect(kfacComparator(three, { metric: 'testLoss', scores: { kfac: 206, 'kfac-adaptive': 88, 'kfac-gn': 90 } })?.optimizer).toBe('kfac-adaptive');
    expect(kfacComparator(three, { metric: 'testAccuracy', scores: { kfac: 0.99, 'kfac-adaptive': 0.5 } })?.optimizer).toBe('kfac-gn');
    expect(kfacComparator([sum('kfac', 0.9), sum('kfac-gn', null)], { metric: 'testAccuracy', scores: { kfac: 0.5, 'kfac-gn': 0.9 } })?.optimizer).toBe('kfac');
    // a tie keeps the order: the Gauss–Newton model's, then the factors', then the tuned rate
    expect(kfacComparator(three, { metric: 'testAccuracy', scores: { kfac: 0.9, 'kfac-adaptive': 0.9, 'kfac-gn': 0.9 } })?.optimizer).toBe('kfac-gn');
    expect(kfacComparator(both, { metric: 'testLoss', scores: { kfac: 100, 'kfac-adaptive': 100 } })?.optimizer).toBe('kfac-adaptive');
    // kfac-jax's stochastic recipe joins them: chosen by its score, after the adaptive ones on a tie or without scores
    const four = [...three, sum('kfac-lm', 0.97)];
    expect(kfacComparator(four, { metric: 'testLoss', scores: { kfac: 206, 'kfac-adaptive': 120, 'kfac-gn': 130, 'kfac-lm': 110 } })?.optimizer).toBe('kfac-lm');
    expect(kfacComparator(four, { metric: 'testLoss', scores: { kfac: 110, 'kfac-adaptive': 120, 'kfac-gn': 130, 'kfac-lm': 110 } })?.optimizer).toBe('kfac-lm');
    expect(kfacComparator([sum('kfac', 0.9), sum('kfac-lm', 0.95)])?.optimizer).toBe('kfac-lm');
  });

  it('compares with adaptive KFAC (kfac-jax\'s defaults) where it ran, with KFAC at a tuned learning rate otherwise', () => {
    const both = [...runs];
    for (const seed of [1, 2, 3]) both.push(run('kfac', seed, [3, 2], 190, 20)); // 142 at 3 + 2 + 2 + 0.8 s
    for (const seed of [1, 2, 3]) both.push(run('kfac-adaptive', seed, [4, 4], 190, 25)); // 190,165,140,115: 142 at 4 + 4 + 4·23/25
    const rk = buildReport(input(both));
    const f = rk.summary.find((s) => s.optimizer === 'fngd-always')!;
    const adaptive = 4 + 4 + 4 * (23 / 25);
    expect(timeToTargetVsKfac(rk.summary, f)).toBeCloseTo((3.5 + (18 / 30) * 1.5) / adaptive, 12);
    const m = kfacMark(rk)!;
    expect(m.kfac).toBe('kfac-adaptive');
    expect(m.mark).toBe(115);
    const md = kfacTable([rk]).join('\n');
    expect(md).toContain("kfac-adaptive's final 115.0");
    expect(md).toMatch(/\| 128 \| kfac-adaptive \|/);
    expect(md).not.toMatch(/\| 128 \| kfac \|/);
  });

  it('compares each refresh policy with fngd-always: final, factorizations and time to target as ratios', () => {
    const withStats = (r: Run, factorizations: number): Run => ({ ...r, stats: { factorizations } }) as unknown as Run;
    const withAuto = [
      ...runs.filter((x) => x.optimizer !== 'fngd-always'),
      ...runs.filter((x) => x.optimizer === 'fngd-always').map((x) => withStats(x, 100)),
      ...[1, 2, 3].map((seed) => withStats(run('fngd-auto', seed, [2, 1.2], 190, 27), 40)),
    ];
    const rows = policyTable([buildReport(input(withAuto))]);
    // auto: 190,163,136,109 → final 109 vs always 100; reaches 142 at 3.2 + 21/27·1.2 s vs always's 4.4 s
    const auto = rows.find((l) => l.startsWith('| 128 | fngd-auto |'))!;
    expect(auto).toBe(`| 128 | fngd-auto | 109.0 | 1.090 | 40 | 0.40 | ${((3.2 + (21 / 27) * 1.2) / 4.4).toFixed(2)} | ${((3.2 + (21 / 27) * 1.2) / 4.77).toFixed(2)} | 1.20 |`);
    expect(rows.find((l) => l.startsWith('| 128 | fngd-always |'))).toBe('| 128 | fngd-always | 100.0 | 1.000 | 100 | 1.00 | 1.00 | 0.92 | 1.50 |');
    expect(rows.some((l) => l.includes('| adam |'))).toBe(false);
    expect(rows.some((l) => l.includes('*bound:'))).toBe(false); // no fngd (first-epoch) runs: no cached-step price
  });

  it("bounds every refresh policy by always's curve re-timed at the cached step's price, seed by seed", () => {
    // always's epoch 1 differs per seed (2, 3, 4 s), fngd's cached epoch too (0.9, 1.0, 1.1 s): a wrong pairing shows
    const paired = [
      ...runs.filter((x) => x.optimizer !== 'fngd-always'),
      ...[1, 2, 3].map((seed) => run('fngd-always', seed, [1 + seed, 1.5], 190, 30)),
      ...[1, 2, 3].map((seed) => run('fngd', seed, [2, 0.8 + 0.1 * seed], 195, 5)),
      ...[1, 2, 3].map((seed) => run('fngd-auto', seed, [1 + seed, 1.2], 190, 30)), // same epochs as always: allowed
    ];
    const r = buildReport(input(paired));
    // always: 190,160,130 reaches 142 0.6 into epoch 3: t = e1 + 1.5 + 0.6·1.5; re-timed: e1 + c + 0.6·c
    const expected = [1, 2, 3].map((seed) => (1 + seed + 1.6 * (0.8 + 0.1 * seed)) / (1 + seed + 2.4));
    const b = reuseBound(r)!;
    expect(b.n).toBe(3);
    expect(b.min).toBeCloseTo(expected[0]!, 12);
    expect(b.median).toBeCloseTo(expected[1]!, 12);
    expect(b.max).toBeCloseTo(expected[2]!, 12);
    expect(boundViolations(r)).toEqual([]);
    const rows = policyTable([r]);
    expect(rows.find((l) => l.includes('*bound:'))).toBe(`| 128 | *bound: \`always\`'s epochs at a cached step's price* | | | | | ${expected[1]!.toFixed(2)} [${expected[0]!.toFixed(2)}–${expected[2]!.toFixed(2)}] | | |`);
    expect(rows.some((l) => l.startsWith('The bound row'))).toBe(true);

    // a diverged always run drops its seed
    const diverged = paired.map((x) => (x.optimizer === 'fngd-always' && x.seed === 1 ? { ...x, diverged: 'non-finite loss at epoch 2' } : x));
    const b2 = reuseBound(buildReport(input(diverged)))!;
    expect(b2.n).toBe(2);
    expect(b2.min).toBeCloseTo(expected[1]!, 12);
  });

  it('gives no bound where a policy beats always in epochs on some seed (the premise fails)', () => {
    const withFaster = [
      ...runs,
      ...[1, 2, 3].map((seed) => run('fngd', seed, [2, 1], 195, 5)),
      run('fngd-drift', 2, [2, 1], 190, 40), // 190, 150, 110: 142 at epoch 2.2, always's at 2.6
    ];
    const r = buildReport(input(withFaster));
    expect(reuseBound(r)).not.toBeNull();
    expect(boundViolations(r)).toEqual(['fngd-drift']);
    const row = policyTable([r]).find((l) => l.includes('*bound:'))!;
    expect(row).toContain('n/a: fngd-drift reaches the target in fewer epochs than `always`');
    expect(epochsToTarget(withFaster.at(-1)!.epochs, 'testLoss', 142)).toBeCloseTo(2.2, 12);
  });

  it('has no bound where always never reaches the target or a seed lacks its fngd run', () => {
    const far = [
      ...runs.filter((x) => x.optimizer !== 'fngd-always'),
      ...[1, 2, 3].map((seed) => run('fngd-always', seed, [2, 1.5], 190, 5)), // ends at 175 > 142
      ...[1, 2, 3].map((seed) => run('fngd', seed, [2, 1], 195, 5)),
    ];
    expect(reuseBound(buildReport(input(far)))).toBeNull();
    const unpaired = [...runs, run('fngd', 7, [2, 1], 195, 5)]; // seed 7 has no always run, seeds 1–3 no fngd
    expect(reuseBound(buildReport(input(unpaired)))).toBeNull();
  });
});

describe('the printed report', () => {
  const dir = join(import.meta.dirname, '..', 'results');
  const files = readdirSync(dir).filter((n) => /^(classifier|autoencoder)(-(cnn|resnet|vit))?-b\d+\.json$/.test(n));

  it('fits 120 columns for every committed result, and names each optimizer once per table', () => {
    expect(files.length).toBeGreaterThan(0);
    for (const n of files) {
      const r = JSON.parse(readFileSync(join(dir, n), 'utf8')) as Report;
      const lines = reportLines(r);
      for (const l of lines) expect(l.length, `${n}: ${l}`).toBeLessThanOrEqual(120);
      const table = lines.slice(lines.findIndex((l) => l.trimStart().startsWith('optimizer')));
      for (const s of r.summary) expect(table.filter((l) => l.startsWith(`  ${s.optimizer} `)), n).toHaveLength(1);
    }
  });
});
