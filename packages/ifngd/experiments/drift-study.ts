/**
 * The drift study: does the reuse guard stop the epoch-2 blow-up of shared coefficients, and does the
 * `drift` policy catch both failure modes — divergence (MNIST MLP classifier) and stall (deep autoencoder) —
 * refreshing only the batches that need it, at a cost well under `always`?
 *
 *   npx tsx --conditions=@ifngd/source packages/ifngd/experiments/drift-study.ts --json out.json [options]
 *
 * Options: --case classifier|autoencoder|all  --epochs N (classifier)  --ae-epochs N  --seeds a,b
 *          --lambdas a,b  --lrs a,b (classifier learning rates, as lr·λ products: lr = p/λ … see `clfLr`)
 *          --ae-lr x  --ae-lambda x  --ae-seeds a,b  --policies name,name (always, first-epoch, first-epoch+guard,
 *          drift, auto, drift-noguard)  --batch N (default 128)  --pilot (one epoch of `always` per lr)
 *          --momentum m (default 0)  --ae-mode global|layerwise (default layerwise)
 * @module
 */
import { writeFileSync } from 'node:fs';
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import type { LayerFactors } from '@ifngd/fisher';
import { fngd, NonFiniteError, type DriftOptions, type FngdMode, type FngdStats, type HostTree, type RefreshPolicy } from '../src/index.js';
import { loadMnist, partition, type Dataset } from './data.js';
import { deviceFactors, disposeFactors, evaluate, forwardBackward, initParams, weightedGradient, type Net } from './mlp.js';
import { rng } from './rng.js';

// ---------------------------------------------------------------- arguments
const argv = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const flag = (name: string): boolean => argv.includes(`--${name}`);
/** Heavy-ball momentum of every run (`--momentum`); 0 unless given (results before `autoencoder-auto-b*` used none). */
const MOMENTUM = Number(arg('momentum') ?? 0);
/** The autoencoder's curvature mode (`--ae-mode global|layerwise`, default layer-wise as in the recorded results). */
const AE_MODE = (arg('ae-mode') ?? 'layerwise') as FngdMode;
if (!(MOMENTUM >= 0 && MOMENTUM < 1)) throw new Error(`--momentum must be in [0, 1), got ${arg('momentum')}`);
if (AE_MODE !== 'global' && AE_MODE !== 'layerwise') throw new Error(`--ae-mode must be global or layerwise, got ${AE_MODE}`);
const nums = (name: string, dflt: number[]): number[] => (arg(name) ? arg(name)!.split(',').map(Number) : dflt);

// ---------------------------------------------------------------- policies
export interface PolicySpec {
  readonly name: string;
  readonly refresh: RefreshPolicy;
  readonly guard: boolean;
}
const driftOverrides: DriftOptions | null = arg('drift') ? (JSON.parse(arg('drift')!) as DriftOptions) : null;
const POLICIES: Record<string, PolicySpec> = {
  always: { name: 'always', refresh: 'always', guard: true },
  'first-epoch': { name: 'first-epoch (no guard)', refresh: 'first-epoch', guard: false },
  'first-epoch+guard': { name: 'first-epoch + guard', refresh: 'first-epoch', guard: true },
  drift: { name: driftOverrides ? `drift ${JSON.stringify(driftOverrides)}` : 'drift (defaults)', refresh: driftOverrides ? { drift: driftOverrides } : 'drift', guard: true },
  auto: { name: 'auto', refresh: 'auto', guard: true },
  'drift-noguard': { name: 'drift, no guard', refresh: driftOverrides ? { drift: driftOverrides } : 'drift', guard: false },
};

// ---------------------------------------------------------------- one run
export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  testLoss: number;
  testAccuracy: number | null;
  /** Factorizations during this epoch. */
  factorizations: number;
  /** Reused steps capped by the guard during this epoch. */
  capped: number;
  reusedSteps: number;
  /** Batches marked stale this epoch, by reason. */
  staleMarks: Record<string, number>;
  probes: number;
  probeFailures: number;
  /** Batches (distinct keys) that got fresh coefficients this epoch. */
  freshBatches: number;
  seconds: number;
}

export interface RunResult {
  case: string;
  policy: string;
  mode: FngdMode;
  damping: number;
  learningRate: number;
  seed: number;
  diverged: boolean;
  divergedAtEpoch: number | null;
  epochs: EpochRecord[];
  stats: FngdStats;
  seconds: number;
}

interface RunConfig {
  readonly caseName: string;
  readonly net: Net;
  readonly policy: PolicySpec;
  readonly mode: FngdMode;
  readonly damping: number;
  readonly learningRate: number;
  readonly seed: number;
  readonly epochs: number;
}

function asBatch(d: Dataset, target: 'labels' | 'input'): { n: number; x: Float32Array; y: Float32Array } {
  return { n: d.n, x: d.x, y: target === 'labels' ? d.y : d.x };
}

async function run(dev: LinalgDevice, cfg: RunConfig, train: readonly Dataset[], test: Dataset, log = true): Promise<RunResult> {
  const target = cfg.net.loss === 'softmax-ce' ? 'labels' : 'input';
  // momentum 0 unless --momentum: the older recorded results (results/*.json) were made before momentum had a default
  const opt = fngd({ device: dev, learningRate: cfg.learningRate, damping: cfg.damping, momentum: MOMENTUM, mode: cfg.mode, refresh: cfg.policy.refresh, guard: cfg.policy.guard });
  let params: HostTree = initParams(cfg.net, cfg.seed);
  opt.init(params);
  // the batch order shuffles every epoch, identically for every policy of the same seed
  const order = rng(1_000_003 * cfg.seed + 17);
  const epochs: EpochRecord[] = [];
  let epoch1Loss = NaN;
  let diverged = false;
  let divergedAtEpoch: number | null = null;
  const t0 = performance.now();
  let prev = opt.stats;
  for (let epoch = 1; epoch <= cfg.epochs && !diverged; epoch++) {
    const te = performance.now();
    const keys = order.shuffle(train.map((_, i) => i));
    let lossSum = 0;
    let steps = 0;
    const fresh = new Set<number>();
    for (const key of keys) {
      const b = asBatch(train[key]!, target);
      const pass = await forwardBackward(dev, cfg.net, params, b);
      if (!Number.isFinite(pass.meanLoss) || (epoch > 1 && pass.meanLoss > 100 * epoch1Loss)) {
        diverged = true;
        break;
      }
      lossSum += pass.meanLoss;
      steps++;
      let made: LayerFactors[] | null = null;
      const c = await opt
        .coefficients({ batchKey: key, epoch, n: b.n, factors: () => (made = deviceFactors(dev, pass)) })
        .finally(() => made && disposeFactors(made));
      if (c.fresh) fresh.add(key);
      const g = await weightedGradient(dev, cfg.net, pass, cfg.mode === 'global' ? () => c.alpha : (l) => c.layer(l));
      try {
        params = opt.step(g, params, { coefficients: c, loss: pass.meanLoss });
      } catch (e) {
        if (e instanceof NonFiniteError) {
          diverged = true;
          break;
        }
        throw e;
      }
    }
    const trainLoss = steps > 0 ? lossSum / steps : NaN;
    if (epoch === 1) epoch1Loss = trainLoss;
    if (!diverged && epoch > 1 && !(trainLoss <= 10 * epoch1Loss)) diverged = true;
    const ev = diverged ? { loss: NaN, accuracy: null } : await evaluate(dev, cfg.net, params, asBatch(test, target));
    if (!diverged && !Number.isFinite(ev.loss)) diverged = true;
    if (diverged) divergedAtEpoch = epoch;
    const s = opt.stats;
    const marks = Object.fromEntries(Object.entries(s.drift.staleMarks).map(([k, v]) => [k, v - (prev.drift.staleMarks[k as keyof typeof s.drift.staleMarks] ?? 0)]));
    const rec: EpochRecord = {
      epoch,
      trainLoss,
      testLoss: ev.loss,
      testAccuracy: ev.accuracy,
      factorizations: s.factorizations - prev.factorizations,
      capped: s.guard.capped - prev.guard.capped,
      reusedSteps: s.guard.reusedSteps - prev.guard.reusedSteps,
      staleMarks: marks,
      probes: s.drift.probes - prev.drift.probes,
      probeFailures: s.drift.probeFailures - prev.drift.probeFailures,
      freshBatches: fresh.size,
      seconds: (performance.now() - te) / 1000,
    };
    prev = s;
    epochs.push(rec);
    if (log) {
      console.log(
        `  ${cfg.caseName} ${cfg.policy.name.padEnd(24)} λ=${cfg.damping} lr=${cfg.learningRate} seed=${cfg.seed} e${epoch}: train ${trainLoss.toFixed(4)} test ${ev.loss.toFixed(4)}` +
          `${ev.accuracy === null ? '' : ` acc ${(100 * ev.accuracy).toFixed(2)}%`} fact ${rec.factorizations} capped ${rec.capped}/${rec.reusedSteps} stale ${JSON.stringify(marks)} probes ${rec.probes}/${rec.probeFailures}f ${rec.seconds.toFixed(1)}s${diverged ? ' DIVERGED' : ''}`,
      );
    }
  }
  return {
    case: cfg.caseName,
    policy: cfg.policy.name,
    mode: cfg.mode,
    damping: cfg.damping,
    learningRate: cfg.learningRate,
    seed: cfg.seed,
    diverged,
    divergedAtEpoch,
    epochs,
    stats: opt.stats,
    seconds: (performance.now() - t0) / 1000,
  };
}

// ---------------------------------------------------------------- tables
const fmt = (x: number | null | undefined, d = 3): string => (x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(d));
const mean = (xs: number[]): number => (xs.length ? xs.reduce((s, v) => s + v, 0) / xs.length : NaN);
function table(head: string[], rows: (string | number)[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (r: (string | number)[]) => `| ${r.map((c, i) => String(c).padEnd(w[i]!)).join(' | ')} |`;
  return [line(head), `|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

function classifierTable(results: RunResult[]): string {
  const byPolicy = new Map<string, RunResult[]>();
  for (const r of results) byPolicy.set(r.policy, [...(byPolicy.get(r.policy) ?? []), r]);
  const always = byPolicy.get(POLICIES.always!.name) ?? [];
  const alwaysFact = mean(always.map((r) => r.stats.factorizations));
  const rows = [...byPolicy.entries()].map(([p, rs]) => {
    const ok = rs.filter((r) => !r.diverged);
    const last = (r: RunResult) => r.epochs[r.epochs.length - 1]!;
    const divEpochs = rs.filter((r) => r.diverged).map((r) => r.divergedAtEpoch);
    return [
      p,
      `${rs.filter((r) => r.diverged).length}/${rs.length}`,
      divEpochs.length ? [...new Set(divEpochs)].join(',') : '—',
      ok.length ? `${fmt(100 * mean(ok.map((r) => last(r).testAccuracy ?? NaN)), 2)}%` : '—',
      fmt(mean(ok.map((r) => last(r).testLoss)), 4),
      fmt(mean(rs.map((r) => r.stats.factorizations)), 1),
      fmt(mean(rs.map((r) => r.stats.factorizations)) / alwaysFact, 2),
      `${fmt(mean(rs.map((r) => r.stats.guard.capped)), 1)}/${fmt(mean(rs.map((r) => r.stats.guard.reusedSteps)), 1)}`,
      fmt(mean(rs.map((r) => r.stats.guard.maxLengthRatio)), 1),
      JSON.stringify(sumMarks(rs)),
      `${fmt(mean(rs.map((r) => r.stats.drift.probes)), 1)}/${fmt(mean(rs.map((r) => r.stats.drift.probeFailures)), 1)}`,
      fmt(mean(rs.map((r) => r.seconds)), 1),
    ];
  });
  return table(['policy', 'diverged', 'at epoch', 'final test acc (non-div.)', 'test loss', 'factorizations', '÷ always', 'capped/reused', 'max len ratio', 'stale marks (Σ)', 'probes/failed', 'seconds'], rows);
}

function sumMarks(rs: RunResult[]): Record<string, number> {
  const o: Record<string, number> = { cap: 0, length: 0, loss: 0 };
  for (const r of rs) for (const [k, v] of Object.entries(r.stats.drift.staleMarks)) o[k] = (o[k] ?? 0) + v;
  return o;
}

function perConfigTable(results: RunResult[]): string {
  const keys = [...new Set(results.map((r) => `${r.damping}|${r.learningRate}`))];
  const policies = [...new Set(results.map((r) => r.policy))];
  const rows = keys.map((k) => {
    const [lam, lr] = k.split('|');
    return [
      lam!,
      lr!,
      ...policies.map((p) => {
        const rs = results.filter((r) => `${r.damping}|${r.learningRate}` === k && r.policy === p);
        const ok = rs.filter((r) => !r.diverged);
        return `${rs.length - ok.length}/${rs.length} div, acc ${ok.length ? fmt(100 * mean(ok.map((r) => r.epochs.at(-1)!.testAccuracy ?? NaN)), 1) : '—'}, f ${fmt(mean(rs.map((r) => r.stats.factorizations)), 0)}`;
      }),
    ];
  });
  return table(['λ', 'lr', ...policies], rows);
}

function autoencoderTable(results: RunResult[]): string {
  const policies = [...new Set(results.map((r) => r.policy))];
  const always = results.filter((r) => r.policy === POLICIES.always!.name);
  const E = Math.max(...results.map((r) => r.epochs.length));
  const rows = policies.map((p) => {
    const rs = results.filter((r) => r.policy === p);
    const perEpoch = Array.from({ length: E }, (_, e) => fmt(mean(rs.map((r) => r.epochs[e]?.testLoss ?? NaN)), 1));
    return [
      p,
      ...perEpoch,
      fmt(mean(rs.map((r) => r.stats.factorizations)), 1),
      fmt(mean(rs.map((r) => r.stats.factorizations)) / mean(always.map((r) => r.stats.factorizations)), 2),
      `${fmt(mean(rs.map((r) => r.stats.guard.capped)), 0)}/${fmt(mean(rs.map((r) => r.stats.guard.reusedSteps)), 0)}`,
      JSON.stringify(sumMarks(rs)),
      `${fmt(mean(rs.map((r) => r.stats.drift.probes)), 0)}/${fmt(mean(rs.map((r) => r.stats.drift.probeFailures)), 0)}`,
      fmt(mean(rs.map((r) => mean(r.epochs.map((x) => x.seconds)))), 1),
    ];
  });
  return table(['policy', ...Array.from({ length: E }, (_, e) => `test e${e + 1}`), 'factorizations', '÷ always', 'capped/reused', 'stale marks', 'probes/failed', 's/epoch'], rows);
}

function epochProfile(results: RunResult[]): string {
  const rows = results.map((r) => [r.policy, `λ=${r.damping} lr=${r.learningRate} s=${r.seed}`, r.epochs.map((e) => `${e.factorizations}`).join(' '), r.epochs.map((e) => `${e.freshBatches}`).join(' ')]);
  return table(['policy', 'config', 'factorizations per epoch', 'distinct fresh batches per epoch'], rows);
}

// ---------------------------------------------------------------- main
async function main(): Promise<void> {
  const jsonPath = arg('json');
  const which = arg('case') ?? 'all';
  const dev = await createDevice({ backend: 'cpu' });
  const tLoad = performance.now();
  const { train, test } = loadMnist();
  const batches = partition(train, Number(arg('batch') ?? 128));
  console.log(`MNIST: ${train.n} train (${batches.length} batches of ≤${batches[0]?.n ?? 0}), ${test.n} test; loaded in ${((performance.now() - tLoad) / 1000).toFixed(1)}s`);
  const policyNames = (dflt: string[]): PolicySpec[] => (arg('policies') ? arg('policies')!.split(',') : dflt).map((p) => POLICIES[p] ?? (() => { throw new Error(`unknown policy ${p}`); })());
  const out: Record<string, unknown> = { argv, startedAt: new Date().toISOString() };
  const clfNet: Net = { sizes: [784, 256, 10], hidden: (arg('activation') as Net['hidden'] | undefined) ?? 'relu', loss: 'softmax-ce' };
  const aeNet: Net = { sizes: [784, 256, 64, 16, 64, 256, 784], hidden: 'tanh', loss: 'sigmoid-bce' };

  if (flag('pilot')) {
    const netName = arg('case') === 'autoencoder' ? 'autoencoder' : 'classifier';
    const net = netName === 'autoencoder' ? aeNet : clfNet;
    const mode: FngdMode = netName === 'autoencoder' ? AE_MODE : 'global';
    const pilot: RunResult[] = [];
    for (const lambda of nums('lambdas', [0.01, 0.1, 1])) {
      for (const lr of nums('lrs', [0.1])) {
        const policy = policyNames(['always'])[0]!;
        pilot.push(await run(dev, { caseName: netName, net, policy, mode, damping: lambda, learningRate: lr, seed: 1, epochs: Number(arg('epochs') ?? 1) }, batches, test));
      }
    }
    if (jsonPath) writeFileSync(jsonPath, JSON.stringify({ ...out, pilot }, null, 1));
    dev.destroy();
    return;
  }

  if (which === 'all' || which === 'classifier') {
    const epochs = Number(arg('epochs') ?? 4);
    const seeds = nums('seeds', [1, 2]);
    const grid = (arg('grid') ?? '0.01:20,0.01:50,0.1:2,0.1:5,1:0.5,1:1').split(',').map((s) => s.split(':').map(Number) as [number, number]);
    const policies = policyNames(['always', 'first-epoch', 'first-epoch+guard', 'drift']);
    const results: RunResult[] = [];
    console.log(`\n## Case 1: classifier ${clfNet.sizes.join('-')} (${clfNet.hidden}, softmax CE), global mode, momentum ${MOMENTUM}, batch ${batches[0]?.n ?? 0}, ${epochs} epochs, seeds ${seeds.join(',')}, (λ, lr) ∈ ${JSON.stringify(grid)}`);
    for (const [damping, learningRate] of grid) {
      for (const seed of seeds) {
        for (const policy of policies) {
          results.push(await run(dev, { caseName: 'classifier', net: clfNet, policy, mode: 'global', damping, learningRate, seed, epochs }, batches, test));
        }
      }
    }
    console.log('\n' + classifierTable(results) + '\n\n' + perConfigTable(results) + '\n\n' + epochProfile(results.filter((r) => r.policy.startsWith('drift'))));
    out.classifier = { net: clfNet, momentum: MOMENTUM, epochs, seeds, grid, results };
  }

  if (which === 'all' || which === 'autoencoder') {
    const epochs = Number(arg('ae-epochs') ?? 5);
    const seeds = nums('ae-seeds', [1]);
    const damping = Number(arg('ae-lambda') ?? 10);
    const learningRate = Number(arg('ae-lr') ?? 0.01);
    const policies = policyNames(['always', 'first-epoch+guard', 'drift']);
    const results: RunResult[] = [];
    console.log(`\n## Case 2: autoencoder ${aeNet.sizes.join('-')} (tanh, sigmoid + summed BCE), ${AE_MODE}, momentum ${MOMENTUM}, λ=${damping}, lr=${learningRate}, batch ${batches[0]?.n ?? 0}, ${epochs} epochs, seeds ${seeds.join(',')}`);
    for (const seed of seeds) {
      for (const policy of policies) {
        results.push(await run(dev, { caseName: 'autoencoder', net: aeNet, policy, mode: AE_MODE, damping, learningRate, seed, epochs }, batches, test));
      }
    }
    console.log('\n' + autoencoderTable(results) + '\n\n' + epochProfile(results));
    out.autoencoder = { net: aeNet, mode: AE_MODE, momentum: MOMENTUM, epochs, seeds, damping, learningRate, results };
  }
  out.finishedAt = new Date().toISOString();
  if (jsonPath) writeFileSync(jsonPath, JSON.stringify(out, null, 1));
  dev.destroy();
}

await main();
