/**
 * KFAC's curvature costs against FNGD's, per layer size, as benchmark cases on any linalg device (shared by
 * `bench/kfac.ts` and `npm run bench`):
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
 * Every case is compared with the FNGD curvature step of the same layer and batch (`baseline`). KFAC's cost per
 * step is derived from the parts ({@link kfacStepMs}): factor update ÷ `factorEvery` + inverse refresh ÷
 * `inverseEvery` + precondition.
 * @module
 */
import { layerGram, solveCoefficients, type LayerFactors } from '@ifngd/fisher';
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import { KFAC_DEFAULTS } from 'ifngd';
import { aOrder, type LayerDims } from '../packages/ifngd/src/kfac/dims.js';
import { spdInverses } from '../packages/ifngd/src/kfac/inverse.js';
import { dampedFactors } from '../packages/ifngd/src/kfac/pi-damping.js';
import { precondition } from '../packages/ifngd/src/kfac/precondition.js';
import { runningAverage } from '../packages/ifngd/src/kfac/running-average.js';
import { batchFactors } from '../packages/ifngd/src/kfac/statistics.js';
import type { BenchCase } from './linalg.js';

/** One benchmarked layer. */
export interface KfacBenchLayer {
  readonly name: string;
  readonly kind: 'dense' | 'conv2d';
  /** Inputs per position (dense din, conv k = c_in·kh·kw). */
  readonly p: number;
  /** Outputs. */
  readonly q: number;
  /** Positions per sample (1 for dense). */
  readonly T: number;
}

/** The measured parts of a KFAC step and FNGD's. */
export type KfacPart = 'factor update' | 'inverse refresh' | 'precondition' | 'fngd curvature step' | 'weight gradient';
export const KFAC_PARTS: readonly KfacPart[] = ['factor update', 'inverse refresh', 'precondition', 'fngd curvature step', 'weight gradient'];

/** The layer sizes of the comparison. */
export const KFAC_LAYERS: readonly KfacBenchLayer[] = [
  { name: 'dense 256→10', kind: 'dense', p: 256, q: 10, T: 1 },
  { name: 'dense 784→256', kind: 'dense', p: 784, q: 256, T: 1 },
  { name: 'dense 1024→1024', kind: 'dense', p: 1024, q: 1024, T: 1 },
  { name: 'conv 3×3×32→32, 8×8', kind: 'conv2d', p: 288, q: 32, T: 64 },
];

/** Damping of both methods in the comparison. */
export const KFAC_BENCH_DAMPING = 0.1;

function random(count: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: count }, () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return scale * (s / 2 ** 31 - 1);
  });
}

function factors(dev: LinalgDevice, l: KfacBenchLayer, n: number): LayerFactors {
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

/** The two factor matrices of a layer's factors, as 2-D `[rows, ·]` views (conv: n·T rows). Dispose the views. */
function rowsOf(dev: LinalgDevice, f: LayerFactors): { x: Matrix; d: Matrix; views: Matrix[] } {
  if (f.kind === 'dense') return { x: f.inputs, d: f.outputGrads, views: [] };
  if (f.kind !== 'conv2d') throw new TypeError('dense or conv2d factors only');
  const rows = f.patches.batch * f.patches.rows;
  const x = dev.reshape(f.patches, [rows, f.patches.cols]);
  const d = dev.reshape(f.outputGrads, [rows, f.outputGrads.cols]);
  return { x, d, views: [x, d] };
}

/** The name of a part's case, e.g. `dense 784→256 n=128: inverse refresh`. */
export const kfacCaseName = (l: KfacBenchLayer, n: number, part: KfacPart | string): string => `${l.name} n=${n}: ${part}`;

/** The running averages of one batch (what an inverse refresh starts from). */
async function averages(dev: LinalgDevice, l: KfacBenchLayer, n: number, dims: LayerDims): Promise<{ a: Float64Array; g: Float64Array }> {
  const f = factors(dev, l, n);
  try {
    const [b] = await batchFactors(dev, [f], [dims]);
    return { a: b!.a, g: b!.g };
  } finally {
    release(f);
  }
}

/** One part's runner for layer `l` at batch `n`. */
async function setupPart(dev: LinalgDevice, l: KfacBenchLayer, n: number, part: KfacPart): Promise<{ run: () => Promise<void>; dispose: () => void }> {
  const dims: LayerDims = { p: l.p, q: l.q, bias: true };
  const order = aOrder(dims);
  if (part === 'factor update') {
    const f = factors(dev, l, n);
    let avg: { a: Float64Array; g: Float64Array } | null = null;
    return {
      run: async () => {
        const [b] = await batchFactors(dev, [f], [dims]);
        avg = { a: runningAverage(avg?.a ?? null, b!.a, 0.95), g: runningAverage(avg?.g ?? null, b!.g, 0.95) };
      },
      dispose: () => release(f),
    };
  }
  if (part === 'inverse refresh') {
    const { a, g } = await averages(dev, l, n, dims);
    return {
      run: async () => {
        const d = dampedFactors(a, order, g, l.q, KFAC_BENCH_DAMPING);
        await spdInverses(dev, [
          { data: d.a, order },
          { data: d.g, order: l.q },
        ]);
      },
      dispose: () => {},
    };
  }
  if (part === 'precondition') {
    const { a, g } = await averages(dev, l, n, dims);
    const d = dampedFactors(a, order, g, l.q, KFAC_BENCH_DAMPING);
    const inv = await spdInverses(dev, [
      { data: d.a, order },
      { data: d.g, order: l.q },
    ]);
    const inverses = [{ a: dev.matrix(inv[0]!, [order, order]), g: dev.matrix(inv[1]!, [l.q, l.q]) }];
    const grads = { W: random(l.p * l.q, 13), b: random(l.q, 14) };
    const layers = [{ weight: 'W', bias: 'b', layout: 'out-in' as const }];
    return {
      run: async () => void (await precondition(dev, grads, layers, [dims], inverses)),
      dispose: () => inverses.forEach((i) => [i.a, i.g].forEach((m) => m.dispose())),
    };
  }
  const f = factors(dev, l, n);
  if (part === 'fngd curvature step') {
    return {
      run: async () => {
        const gram = layerGram(dev, f);
        try {
          await solveCoefficients(dev, gram, KFAC_BENCH_DAMPING);
        } finally {
          gram.dispose();
        }
      },
      dispose: () => release(f),
    };
  }
  return {
    run: async () => {
      const { x, d, views } = rowsOf(dev, f);
      const w = dev.gemm(d, x, { transA: true });
      await dev.read(w);
      [w, ...views].forEach((m) => m.dispose());
    },
    dispose: () => release(f),
  };
}

/**
 * The five parts of layer `l` at batch `n` as benchmark cases (suite `kfac`), each compared with FNGD's
 * curvature step of the same layer and batch. `budgetMs` caps the timed runs of an expensive case.
 */
export function kfacCases(l: KfacBenchLayer, n: number, options: { reps?: number; budgetMs?: number } = {}): BenchCase[] {
  return KFAC_PARTS.map((part) => ({
    suite: 'kfac',
    name: kfacCaseName(l, n, part),
    ...(options.reps === undefined ? {} : { reps: options.reps }),
    ...(options.budgetMs === undefined ? {} : { budgetMs: options.budgetMs }),
    ...(part === 'fngd curvature step' ? {} : { baseline: kfacCaseName(l, n, 'fngd curvature step') }),
    setup: (dev: LinalgDevice) => setupPart(dev, l, n, part),
  }));
}

/** The batch sizes of the comparison. */
export const kfacBatches = (quick: boolean): number[] => (quick ? [128] : [128, 1024]);

/** Every layer's cases at every batch size. */
export function kfacBenchCases(quick: boolean, options: { reps?: number; budgetMs?: number } = {}): BenchCase[] {
  return kfacBatches(quick).flatMap((n) => KFAC_LAYERS.flatMap((l) => kfacCases(l, n, options)));
}

/** How often KFAC refreshes: its defaults (factors every step, inverses every 10). */
export interface KfacSchedule {
  readonly factorEvery: number;
  readonly inverseEvery: number;
}
export const DEFAULT_SCHEDULE: KfacSchedule = { factorEvery: KFAC_DEFAULTS.factorEvery, inverseEvery: KFAC_DEFAULTS.inverseEvery };

/** The name of the derived per-step row. */
export const kfacStepName = (l: KfacBenchLayer, n: number, s: KfacSchedule = DEFAULT_SCHEDULE): string =>
  kfacCaseName(l, n, `kfac step (factors every ${s.factorEvery}, inverses every ${s.inverseEvery}, amortised)`);

/**
 * KFAC's amortised cost per step from measured parts (`ms` of a part, undefined if not measured): factor update
 * ÷ `factorEvery` + inverse refresh ÷ `inverseEvery` + precondition. Null when a part is missing.
 */
export function kfacStepMs(ms: (part: KfacPart) => number | undefined, s: KfacSchedule = DEFAULT_SCHEDULE): number | null {
  const f = ms('factor update');
  const r = ms('inverse refresh');
  const p = ms('precondition');
  return f === undefined || r === undefined || p === undefined ? null : f / s.factorEvery + r / s.inverseEvery + p;
}

/**
 * The derived per-step rows of every measured (layer, batch): name, ms and the FNGD case it compares with,
 * from `msOf(caseName)`.
 */
export function kfacStepRows(
  msOf: (name: string) => number | undefined,
  quick: boolean,
  s: KfacSchedule = DEFAULT_SCHEDULE,
): { name: string; ms: number; baseline: string; note: string }[] {
  const out: { name: string; ms: number; baseline: string; note: string }[] = [];
  for (const n of kfacBatches(quick)) {
    for (const l of KFAC_LAYERS) {
      const ms = kfacStepMs((part) => msOf(kfacCaseName(l, n, part)), s);
      if (ms === null) continue;
      out.push({
        name: kfacStepName(l, n, s),
        ms,
        baseline: kfacCaseName(l, n, 'fngd curvature step'),
        note: `derived: factor update ÷ ${s.factorEvery} + inverse refresh ÷ ${s.inverseEvery} + precondition`,
      });
    }
  }
  return out;
}
