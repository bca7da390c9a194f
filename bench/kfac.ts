/**
 * KFAC's curvature costs against FNGD's, per layer size, on the CPU backend (the same device API and kernels):
 *
 * - **factor update**: A = āᵀā/n (+ the bias column) and G = ΔᵀΔ/n on the device, read back, folded into the
 *   running averages (float64, host);
 * - **inverse refresh**: π-rule damping, then the batched Cholesky + triangular solve + GEMM inverses of
 *   A (p+1) and G (q), read back;
 * - **precondition**: the per-step G⁻¹·∇W̄·A⁻¹ (two GEMMs, upload and read back);
 * - **FNGD curvature step** at the same batch: the layer's per-sample Gram from the same factors + Cholesky
 *   solve of (G + nλI)α = 1, α read back (one layer, so global = layer-wise);
 * - the plain weight gradient ΔᵀA, for scale.
 *
 *   npx tsx --conditions=@ifngd/source bench/kfac.ts [--json bench/results/kfac.json] [--quick]
 *
 * Ratios are against the FNGD curvature step of the same layer and batch (same process, right after).
 * @module
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { layerGram, solveCoefficients, type LayerFactors } from '@ifngd/fisher';
import { createDevice, type LinalgDevice, type Matrix } from '@ifngd/linalg-gpu';
import { aOrder, type LayerDims } from '../packages/ifngd/src/kfac/dims.js';
import { spdInverses } from '../packages/ifngd/src/kfac/inverse.js';
import { dampedFactors } from '../packages/ifngd/src/kfac/pi-damping.js';
import { precondition } from '../packages/ifngd/src/kfac/precondition.js';
import { runningAverage } from '../packages/ifngd/src/kfac/running-average.js';
import { batchFactors } from '../packages/ifngd/src/kfac/statistics.js';
import { time } from './timing.js';

interface Layer {
  readonly name: string;
  readonly kind: 'dense' | 'conv2d';
  /** Inputs per position (dense din, conv k = c_in·kh·kw). */
  readonly p: number;
  /** Outputs. */
  readonly q: number;
  /** Positions per sample (1 for dense). */
  readonly T: number;
}

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const jsonAt = args.indexOf('--json');
const jsonFile = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
const REPS = quick ? 3 : 5;
/** Per-case time budget (ms): expensive cases stop after it (at least one timed run after the warm-up). */
const BUDGET = 2_000;
const DAMPING = 0.1;

const LAYERS: Layer[] = [
  { name: 'dense 256→10', kind: 'dense', p: 256, q: 10, T: 1 },
  { name: 'dense 784→256', kind: 'dense', p: 784, q: 256, T: 1 },
  { name: 'dense 1024→1024', kind: 'dense', p: 1024, q: 1024, T: 1 },
  { name: 'conv 3×3×32→32, 8×8', kind: 'conv2d', p: 288, q: 32, T: 64 },
];
const BATCHES = quick ? [128] : [128, 1024];

function random(count: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: count }, () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return scale * (s / 2 ** 31 - 1);
  });
}

function factors(dev: LinalgDevice, l: Layer, n: number): LayerFactors {
  const a = random(n * l.T * l.p, 11);
  const d = random(n * l.T * l.q, 12, 1e-2);
  return l.kind === 'dense'
    ? { kind: 'dense', inputs: dev.matrix(a, [n, l.p]), outputGrads: dev.matrix(d, [n, l.q]) }
    : { kind: 'conv2d', patches: dev.matrix(a, [n, l.T, l.p]), outputGrads: dev.matrix(d, [n, l.T, l.q]) };
}

const release = (f: LayerFactors): void => {
  if (f.kind === 'dense') [f.inputs, f.outputGrads].forEach((m) => m.dispose());
  if (f.kind === 'conv2d') [f.patches, f.outputGrads].forEach((m) => m.dispose());
};

interface Row {
  layer: string;
  n: number;
  case: 'factor update' | 'inverse refresh' | 'precondition' | 'fngd curvature step' | 'weight gradient';
  ms: number;
  /** ms ÷ the FNGD curvature step's ms (same layer, same n). */
  vsFngd: number | null;
}

/** The two factor matrices of a layer's factors, as 2-D `[rows, ·]` views (conv: n·T rows). Dispose the views. */
function rowsOf(dev: LinalgDevice, f: LayerFactors): { x: Matrix; d: Matrix; views: Matrix[] } {
  if (f.kind === 'dense') return { x: f.inputs, d: f.outputGrads, views: [] };
  if (f.kind !== 'conv2d') throw new TypeError('dense or conv2d factors only');
  const rows = f.patches.batch * f.patches.rows;
  const x = dev.reshape(f.patches, [rows, f.patches.cols]);
  const d = dev.reshape(f.outputGrads, [rows, f.outputGrads.cols]);
  return { x, d, views: [x, d] };
}

async function measure(dev: LinalgDevice, l: Layer, n: number): Promise<Row[]> {
  const f = factors(dev, l, n);
  const dims: LayerDims = { p: l.p, q: l.q, bias: true };
  const order = aOrder(dims);
  const rows: Row[] = [];
  const timed = async (c: Row['case'], fn: () => Promise<void>): Promise<void> => {
    const { ms } = await time(fn, REPS, BUDGET);
    rows.push({ layer: l.name, n, case: c, ms, vsFngd: null });
    console.log(`  ${l.name} n=${n} ${c}: ${ms.toFixed(2)} ms`);
  };
  // KFAC: running averages (the first batch initialises them; later ones are folded in)
  let avg: { a: Float64Array; g: Float64Array } | null = null;
  await timed('factor update', async () => {
    const [b] = await batchFactors(dev, [f], [dims]);
    avg = { a: runningAverage(avg?.a ?? null, b!.a, 0.95), g: runningAverage(avg?.g ?? null, b!.g, 0.95) };
  });
  const { a, g } = avg as unknown as { a: Float64Array; g: Float64Array };
  let inv: Float32Array[] = [];
  await timed('inverse refresh', async () => {
    const d = dampedFactors(a, order, g, l.q, DAMPING);
    inv = await spdInverses(dev, [
      { data: d.a, order },
      { data: d.g, order: l.q },
    ]);
  });
  const inverses = [{ a: dev.matrix(inv[0]!, [order, order]), g: dev.matrix(inv[1]!, [l.q, l.q]) }];
  const grads = { W: random(l.p * l.q, 13), b: random(l.q, 14) };
  const layers = [{ weight: 'W', bias: 'b', layout: 'out-in' as const }];
  await timed('precondition', async () => void (await precondition(dev, grads, layers, [dims], inverses)));
  inverses.forEach((i) => [i.a, i.g].forEach((m) => m.dispose()));
  // FNGD: the per-sample Gram of the same factors and the SMW coefficients α
  await timed('fngd curvature step', async () => {
    const gram = layerGram(dev, f);
    try {
      await solveCoefficients(dev, gram, DAMPING);
    } finally {
      gram.dispose();
    }
  });
  await timed('weight gradient', async () => {
    const { x, d, views } = rowsOf(dev, f);
    const w = dev.gemm(d, x, { transA: true });
    await dev.read(w);
    [w, ...views].forEach((m) => m.dispose());
  });
  release(f);
  const fngdMs = rows.find((r) => r.case === 'fngd curvature step')!.ms;
  for (const r of rows) r.vsFngd = r.ms / fngdMs;
  return rows;
}

async function main(): Promise<void> {
  const dev = await createDevice({ backend: 'cpu' });
  console.log(`# cpu: ${dev.info.description}`);
  const started = performance.now();
  const rows: Row[] = [];
  for (const n of BATCHES) for (const l of LAYERS) rows.push(...(await measure(dev, l, n)));
  dev.destroy();
  console.table(rows.map((r) => ({ ...r, ms: r.ms.toFixed(2), vsFngd: r.vsFngd?.toFixed(2) })));
  const seconds = (performance.now() - started) / 1000;
  console.log(`total ${seconds.toFixed(1)} s`);
  if (jsonFile) {
    const machine = {
      cpus: os.cpus().length,
      cpu: os.cpus()[0]?.model ?? '',
      node: process.version,
      platform: process.platform,
    };
    const out = {
      date: new Date().toISOString(),
      backend: 'cpu',
      machine,
      quick,
      damping: DAMPING,
      reps: REPS,
      seconds,
      rows,
    };
    writeFileSync(jsonFile, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`wrote ${jsonFile}`);
  }
}

await main();
