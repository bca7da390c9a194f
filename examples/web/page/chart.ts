/**
 * A line chart on a canvas: title, legend above the plot, axes with ticks, tick labels and titles, one styled line
 * per series (colour, dash pattern, width, markers). What it drew is mirrored in data attributes of the canvas —
 * `data-plot-box` and `data-legend-box` (JSON `{x, y, w, h}`), `data-x-title`, `data-y-title`, `data-x-ticks` and
 * `data-y-ticks` (JSON arrays of the tick labels) and `data-series` (JSON: each series' label, style and point count).
 */
import { layoutChart, niceTicks, type Box } from './chart-layout.js';

/** Marker shapes; `triangle` is drawn hollow so that a marker beneath it stays visible. */
export type Marker = 'circle' | 'square' | 'triangle';

/** How one series is drawn. */
export interface SeriesStyle {
  readonly color: string;
  /** Canvas `setLineDash` pattern; empty for a solid line. */
  readonly dash: readonly number[];
  readonly width: number;
  readonly marker: Marker;
}

/** One line. */
export interface Series extends SeriesStyle {
  readonly label: string;
  readonly points: readonly (readonly [number, number])[];
}

/** Axis titles and ranges. */
export interface Axes {
  readonly xTitle: string;
  readonly yTitle: string;
  /** The x axis runs from 0 to `xMax`. */
  readonly xMax: number;
  /** Whole-number x ticks only (epochs). */
  readonly xInteger?: boolean;
  /** The y range without data, and the bounds the y range never leaves (e.g. 0–100 for a percentage). */
  readonly yEmpty: readonly [number, number];
  readonly yBounds?: readonly [number, number];
}

/** At most this many markers per series; a longer series marks every k-th point, each series at its own phase. */
const MAX_MARKERS = 12;

function drawMarker(ctx: CanvasRenderingContext2D, marker: Marker, x: number, y: number): void {
  ctx.beginPath();
  if (marker === 'circle') {
    ctx.arc(x, y, 4.5, 0, 2 * Math.PI);
    ctx.fill();
  } else if (marker === 'square') {
    ctx.fillRect(x - 3.5, y - 3.5, 7, 7);
  } else {
    ctx.moveTo(x, y - 6);
    ctx.lineTo(x + 5.5, y + 4);
    ctx.lineTo(x - 5.5, y + 4);
    ctx.closePath();
    ctx.stroke();
  }
}

/**
 * Draws a series' line, clipped to `plot`, and its markers (unclipped, so that a point on the plot's edge shows
 * whole); `phase` in [0, 1) staggers its markers against the other series'.
 */
function drawSeries(ctx: CanvasRenderingContext2D, s: Series, plot: Box, x: (v: number) => number, y: (v: number) => number, phase: number): void {
  ctx.save();
  ctx.beginPath();
  ctx.rect(plot.x, plot.y, plot.w, plot.h);
  ctx.clip();
  ctx.strokeStyle = s.color;
  ctx.fillStyle = s.color;
  ctx.lineWidth = s.width;
  ctx.lineJoin = 'round';
  ctx.setLineDash(s.dash as number[]);
  ctx.beginPath();
  s.points.forEach(([px, py], j) => (j === 0 ? ctx.moveTo(x(px), y(py)) : ctx.lineTo(x(px), y(py))));
  ctx.stroke();
  ctx.restore();
  ctx.strokeStyle = s.color;
  ctx.fillStyle = s.color;
  ctx.setLineDash([]);
  ctx.lineWidth = 2;
  const every = Math.max(1, Math.ceil(s.points.length / MAX_MARKERS));
  const offset = Math.floor(phase * every);
  s.points.forEach(([px, py], j) => {
    const [cx, cy] = [x(px), y(py)];
    const inside = cx >= plot.x - 0.5 && cx <= plot.x + plot.w + 0.5 && cy >= plot.y - 0.5 && cy <= plot.y + plot.h + 0.5;
    if (inside && (j + offset) % every === every - 1) drawMarker(ctx, s.marker, cx, cy);
  });
}

/** A legend swatch: a short stretch of the series' line with its marker in the middle. */
function drawSwatch(ctx: CanvasRenderingContext2D, s: SeriesStyle, x: number, y: number, w: number): void {
  ctx.strokeStyle = s.color;
  ctx.fillStyle = s.color;
  ctx.lineWidth = s.width;
  ctx.setLineDash(s.dash as number[]);
  ctx.beginPath();
  ctx.moveTo(x, y);
  ctx.lineTo(x + w, y);
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.lineWidth = 2;
  drawMarker(ctx, s.marker, x + w / 2, y);
}

/** The y range: the finite data's with 3 % room on either side (or `yEmpty` without data), kept within `yBounds`. */
function yRange(series: readonly Series[], axes: Axes): [number, number] {
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite);
  const room = ys.length ? 0.03 * (Math.max(...ys) - Math.min(...ys) || Math.abs(ys[0]!) || 1) : 0;
  let [lo, hi] = ys.length ? [Math.min(...ys) - room, Math.max(...ys) + room] : [...axes.yEmpty];
  if (axes.yBounds) [lo, hi] = [Math.max(lo, axes.yBounds[0]), Math.min(hi, axes.yBounds[1])];
  return [lo, hi];
}

/** Draws `series` into `canvas` (cleared first) under `title`, and records what it drew in the canvas's data attributes. */
export function drawChart(canvas: HTMLCanvasElement, title: string, series: readonly Series[], axes: Axes): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const { width: w, height: h } = canvas;
  ctx.font = '12px sans-serif';
  const { legend, items, plot } = layoutChart(w, h, series.map((s) => s.label), (t) => ctx.measureText(t).width);
  const [lo, hi] = yRange(series, axes);
  const yt = niceTicks(lo, hi, 5);
  const yb = axes.yBounds;
  const yLo = yb ? Math.max(yt.lo, yb[0]) : yt.lo;
  const yHi = yb ? Math.min(yt.hi, yb[1]) : yt.hi;
  const yTicks = yt.values.filter((v) => v >= yLo - 1e-9 && v <= yHi + 1e-9);
  const xt = niceTicks(0, Math.max(axes.xMax, 1), 5, axes.xInteger);
  const x = (v: number) => plot.x + ((v - xt.lo) / (xt.hi - xt.lo)) * plot.w;
  const y = (v: number) => plot.y + plot.h - ((v - yLo) / (yHi - yLo)) * plot.h;

  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, w, h);
  ctx.fillStyle = '#222';
  ctx.font = 'bold 13px sans-serif';
  ctx.textAlign = 'left';
  ctx.textBaseline = 'alphabetic';
  ctx.fillText(title, 8, 15);
  ctx.font = '12px sans-serif';

  // grid, ticks and tick labels
  ctx.lineWidth = 1;
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'right';
  for (const v of yTicks) {
    ctx.strokeStyle = '#eee';
    ctx.beginPath();
    ctx.moveTo(plot.x, Math.round(y(v)) + 0.5);
    ctx.lineTo(plot.x + plot.w, Math.round(y(v)) + 0.5);
    ctx.stroke();
    ctx.strokeStyle = '#888';
    ctx.beginPath();
    ctx.moveTo(plot.x - 4, Math.round(y(v)) + 0.5);
    ctx.lineTo(plot.x, Math.round(y(v)) + 0.5);
    ctx.stroke();
    ctx.fillStyle = '#444';
    ctx.fillText(v.toFixed(yt.decimals), plot.x - 7, y(v));
  }
  ctx.textBaseline = 'top';
  ctx.textAlign = 'center';
  for (const v of xt.values) {
    ctx.strokeStyle = '#eee';
    ctx.beginPath();
    ctx.moveTo(Math.round(x(v)) + 0.5, plot.y);
    ctx.lineTo(Math.round(x(v)) + 0.5, plot.y + plot.h);
    ctx.stroke();
    ctx.strokeStyle = '#888';
    ctx.beginPath();
    ctx.moveTo(Math.round(x(v)) + 0.5, plot.y + plot.h);
    ctx.lineTo(Math.round(x(v)) + 0.5, plot.y + plot.h + 4);
    ctx.stroke();
    ctx.fillStyle = '#444';
    ctx.fillText(v.toFixed(xt.decimals), x(v), plot.y + plot.h + 6);
  }
  ctx.strokeStyle = '#888';
  ctx.strokeRect(plot.x + 0.5, plot.y + 0.5, plot.w, plot.h);

  // axis titles
  ctx.fillStyle = '#222';
  ctx.textBaseline = 'bottom';
  ctx.fillText(axes.xTitle, plot.x + plot.w / 2, h - 4);
  ctx.save();
  ctx.translate(14, plot.y + plot.h / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textBaseline = 'middle';
  ctx.fillText(axes.yTitle, 0, 0);
  ctx.restore();

  // legend (above the plot) and the lines, in order: later series on top
  ctx.textAlign = 'left';
  ctx.textBaseline = 'middle';
  series.forEach((s, i) => {
    const { box } = items[i]!;
    drawSwatch(ctx, s, box.x, box.y + box.h / 2, 28);
    ctx.fillStyle = '#222';
    ctx.fillText(s.label, box.x + 34, box.y + box.h / 2);
  });
  series.forEach((s, i) => drawSeries(ctx, s, plot, x, y, i / series.length));

  const d = canvas.dataset;
  d.plotBox = JSON.stringify(plot);
  d.legendBox = JSON.stringify(legend);
  d.xTitle = axes.xTitle;
  d.yTitle = axes.yTitle;
  d.xTicks = JSON.stringify(xt.values.map((v) => v.toFixed(xt.decimals)));
  d.yTicks = JSON.stringify(yTicks.map((v) => v.toFixed(yt.decimals)));
  d.series = JSON.stringify(series.map(({ label, color, dash, width, marker, points }) => ({ label, color, dash, width, marker, points: points.length })));
}
