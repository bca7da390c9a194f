/** The geometry of a chart, without drawing: nice axis ticks, the legend's rows and the plot box beneath it. */

/** An axis-aligned rectangle in canvas pixels. */
export interface Box {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

/** Ticks of an axis: the domain they cover (a superset of the data's) and their values. */
export interface Ticks {
  readonly lo: number;
  readonly hi: number;
  readonly values: readonly number[];
  /** Decimals that print every tick distinctly. */
  readonly decimals: number;
}

/**
 * About `count` evenly spaced ticks on a 1-2-5 step covering [`lo`, `hi`] (the domain widened to whole steps);
 * `integer` keeps the step a whole number (epochs). A degenerate range is widened around its value.
 */
export function niceTicks(lo: number, hi: number, count = 5, integer = false): Ticks {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [0, 1];
  if (hi - lo < 1e-9) [lo, hi] = [lo - 0.5, hi + 0.5];
  const raw = (hi - lo) / Math.max(count, 1);
  const mag = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  if (integer) step = Math.max(1, Math.round(step));
  const first = Math.floor(lo / step + 1e-9) * step;
  const last = Math.ceil(hi / step - 1e-9) * step;
  const values: number[] = [];
  for (let v = first; v <= last + step * 1e-6; v += step) values.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return { lo: first, hi: last, values, decimals };
}

/** One legend entry placed: its box (swatch and label) within the legend box. */
export interface LegendItem {
  readonly label: string;
  readonly box: Box;
}

/** Where the title, the legend, the plot and the axis titles go on a canvas. */
export interface ChartLayout {
  readonly legend: Box;
  readonly items: readonly LegendItem[];
  readonly plot: Box;
}

/** Widths, heights and gaps of the chart's furniture (pixels). */
export const METRICS = { title: 22, legendRow: 18, swatch: 34, gap: 14, yAxis: 58, xAxis: 42, right: 16 } as const;

/**
 * Lays out a `width`×`height` canvas: the title on top, then the legend in rows (entries wrapped at the canvas
 * width, each `swatch` + its label's `measure`d width), then the plot box below the legend with room for the
 * y tick labels and title on the left and the x tick labels and title underneath. The legend never overlaps the
 * plot.
 */
export function layoutChart(width: number, height: number, labels: readonly string[], measure: (text: string) => number): ChartLayout {
  const m = METRICS;
  const left = m.yAxis;
  const maxRight = width - m.right;
  const items: LegendItem[] = [];
  let x = left;
  let row = 0;
  for (const label of labels) {
    const w = m.swatch + 6 + measure(label);
    if (x > left && x + w > maxRight) {
      row++;
      x = left;
    }
    items.push({ label, box: { x, y: m.title + row * m.legendRow, w, h: m.legendRow } });
    x += w + m.gap;
  }
  const rows = labels.length ? row + 1 : 0;
  const legendW = Math.max(0, ...items.map((i) => i.box.x + i.box.w)) - left;
  const legend: Box = { x: left, y: m.title, w: Math.max(0, legendW), h: rows * m.legendRow };
  const top = legend.y + legend.h + 10;
  const plot: Box = { x: left, y: top, w: maxRight - left, h: Math.max(10, height - m.xAxis - top) };
  return { legend, items, plot };
}
