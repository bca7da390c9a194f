/**
 * The report's charts: median curves over seeds with a min–max band, against epochs and training seconds.
 * @module
 */
import { writeChart, type Series } from './plot.js';
import type { Report, Run } from './report.js';
import type { OptName } from './search.js';
import { metricOf, spread, type EpochRow } from './summary.js';

const COLORS: Record<OptName, string> = {
  fngd: '#d62728',
  'fngd-drift': '#ff7f0e',
  'fngd-auto': '#8c564b',
  'fngd-always': '#9467bd',
  kfac: '#17becf',
  'kfac-sampled': '#bcbd22',
  'kfac-adaptive': '#393b79',
  'kfac-gn': '#6b6ecf',
  'kfac-lm': '#5254a3',
  adam: '#1f77b4',
  sgd: '#2ca02c',
  adamw: '#7f7f7f',
  muon: '#e377c2',
  shampoo: '#aec7e8',
};

/** Median (and min–max) over runs of `y` at each epoch, placed at the median of `x`. */
function seriesOf(
  name: OptName,
  runs: readonly Run[],
  epochs: number,
  x: (rows: readonly EpochRow[], e: number) => number,
  y: (row: EpochRow) => number,
): Series {
  const points: [number, number][] = [];
  const band: [number, number, number][] = [];
  for (let e = 0; e < epochs; e++) {
    const have = runs.filter((r) => r.epochs[e]);
    const xs = spread(have.map((r) => x(r.epochs, e)));
    const ys = spread(have.map((r) => y(r.epochs[e] as EpochRow)));
    if (!xs || !ys) continue;
    points.push([xs.median, ys.median]);
    band.push([xs.median, ys.min, ys.max]);
  }
  return { name, color: COLORS[name], points, band };
}

const cumSeconds = (rows: readonly EpochRow[], e: number): number =>
  rows.slice(0, e + 1).reduce((s, r) => s + r.seconds, 0);

/** Writes four charts (SVG, and PNG when a rasteriser is installed) under `base-*`; returns the files. */
export async function renderCharts(r: Report, base: string): Promise<string[]> {
  const names = r.summary.map((s) => s.optimizer);
  const runsOf = (o: OptName): Run[] => r.runs.filter((x) => x.optimizer === o);
  const pct = r.metric === 'testAccuracy' ? 100 : 1;
  const m = (row: EpochRow): number => metricOf(row, r.metric) * pct;
  const mlabel = r.metric === 'testAccuracy' ? 'test accuracy (%)' : 'test loss (summed BCE per image)';
  const short = r.metric === 'testAccuracy' ? 'test accuracy' : 'test loss';
  const title = `${r.task} b${r.batchSize} (${r.backend}, ${r.seeds.length} seeds, band = min–max)`;
  const files: string[] = [];
  const chart = async (
    suffix: string,
    what: string,
    xLabel: string,
    x: (rows: readonly EpochRow[], e: number) => number,
    y: (row: EpochRow) => number,
    yLabel: string,
  ): Promise<void> => {
    const series = names.map((o) => seriesOf(o, runsOf(o), r.epochs, x, y));
    files.push(...(await writeChart({ title: `${title}: ${what}`, xLabel, yLabel, series }, `${base}-${suffix}`)));
  };
  await chart('metric-epoch', `${short} vs epoch`, 'epoch', (_rows, e) => e + 1, m, mlabel);
  await chart('metric-time', `${short} vs time`, 'training seconds', cumSeconds, m, mlabel);
  await chart(
    'loss-epoch',
    'train loss vs epoch',
    'epoch',
    (_rows, e) => e + 1,
    (row) => row.trainLoss,
    'training loss',
  );
  await chart(
    'loss-time',
    'train loss vs time',
    'training seconds',
    cumSeconds,
    (row) => row.trainLoss,
    'training loss',
  );
  return files;
}
