/** A small line chart on a canvas: one line per series, axes with min/max labels. */

/** One line. */
export interface Series {
  readonly label: string;
  readonly color: string;
  readonly points: readonly (readonly [number, number])[];
}

/** Draws `series` into `canvas` (cleared first), x from 0 to `xMax`. */
export function drawChart(canvas: HTMLCanvasElement, title: string, series: readonly Series[], xMax: number): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const { width: w, height: h } = canvas;
  const pad = { l: 48, r: 12, t: 24, b: 24 };
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, w, h);
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite);
  let lo = Math.min(...ys);
  let hi = Math.max(...ys);
  if (!ys.length) [lo, hi] = [0, 1];
  if (hi - lo < 1e-9) [lo, hi] = [lo - 0.5, hi + 0.5];
  const x = (v: number) => pad.l + (v / Math.max(xMax, 1)) * (w - pad.l - pad.r);
  const y = (v: number) => h - pad.b - ((v - lo) / (hi - lo)) * (h - pad.t - pad.b);
  ctx.strokeStyle = '#888';
  ctx.strokeRect(pad.l, pad.t, w - pad.l - pad.r, h - pad.t - pad.b);
  ctx.fillStyle = '#222';
  ctx.font = '12px sans-serif';
  ctx.fillText(title, pad.l, 16);
  ctx.fillText(hi.toPrecision(3), 4, pad.t + 10);
  ctx.fillText(lo.toPrecision(3), 4, h - pad.b);
  series.forEach((s, i) => {
    ctx.strokeStyle = s.color;
    ctx.fillStyle = s.color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    s.points.forEach(([px, py], j) => (j === 0 ? ctx.moveTo(x(px), y(py)) : ctx.lineTo(x(px), y(py))));
    ctx.stroke();
    for (const [px, py] of s.points) ctx.fillRect(x(px) - 2, y(py) - 2, 4, 4);
    ctx.fillText(s.label, w - pad.r - 6 - ctx.measureText(s.label).width, pad.t + 14 + 14 * i);
  });
}
