/**
 * Line charts as SVG (written by hand) and PNG (the same SVG rasterised by @resvg/resvg-js when it is
 * installed; otherwise PNGs are skipped with a note).
 * @module
 */
import { writeFileSync } from 'node:fs';

/** One line. */
export interface Series {
  readonly name: string;
  readonly color: string;
  readonly points: readonly (readonly [number, number])[];
  /** Optional spread drawn as a shaded band: `[x, low, high]` (e.g. min–max over seeds). */
  readonly band?: readonly (readonly [number, number, number])[];
}

/** One chart. */
export interface Chart {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  readonly logY?: boolean;
}

const W = 720;
const H = 440;
const M = { l: 70, r: 150, t: 40, b: 50 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function ticks(lo: number, hi: number, count = 5): number[] {
  const span = hi - lo || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => span / s <= count) ?? mag * 10;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-12; v += step) out.push(Number(v.toPrecision(10)));
  return out;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1000 || a < 0.01 ? v.toExponential(1) : Number(v.toPrecision(4)).toString();
}

/** The chart as an SVG document. */
export function toSvg(c: Chart): string {
  const pts = c.series
    .flatMap((s) => [
      ...s.points,
      ...(s.band ?? []).flatMap(([x, lo, hi]): [number, number][] => [
        [x, lo],
        [x, hi],
      ]),
    ])
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  let [x0, x1] = [Math.min(...xs, 0), Math.max(...xs, 1)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (!Number.isFinite(y0)) [y0, y1] = [0, 1];
  if (y0 === y1) [y0, y1] = [y0 - 1, y1 + 1];
  const pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;
  if (x0 === x1) x1 = x0 + 1;
  const pw = W - M.l - M.r;
  const ph = H - M.t - M.b;
  const sx = (x: number): number => M.l + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y: number): number => M.t + ph - ((y - y0) / (y1 - y0)) * ph;
  const o: string[] = [];
  o.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">`,
  );
  o.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  o.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(c.title)}</text>`);
  for (const t of ticks(x0, x1)) {
    o.push(`<line x1="${sx(t)}" y1="${M.t}" x2="${sx(t)}" y2="${M.t + ph}" stroke="#e4e4e4"/>`);
    o.push(`<text x="${sx(t)}" y="${M.t + ph + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  for (const t of ticks(y0, y1)) {
    o.push(`<line x1="${M.l}" y1="${sy(t)}" x2="${M.l + pw}" y2="${sy(t)}" stroke="#e4e4e4"/>`);
    o.push(`<text x="${M.l - 6}" y="${sy(t) + 4}" text-anchor="end">${fmt(t)}</text>`);
  }
  o.push(`<rect x="${M.l}" y="${M.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  o.push(`<text x="${M.l + pw / 2}" y="${H - 12}" text-anchor="middle">${esc(c.xLabel)}</text>`);
  o.push(`<text transform="translate(16 ${M.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(c.yLabel)}</text>`);
  const clampY = (y: number): number => Math.min(Math.max(y, y0), y1);
  for (const s of c.series) {
    const b = (s.band ?? []).filter(([x, lo, hi]) => Number.isFinite(x) && Number.isFinite(lo) && Number.isFinite(hi));
    if (b.length > 1) {
      const ring = [...b.map(([x, , hi]) => [x, hi] as const), ...[...b].reverse().map(([x, lo]) => [x, lo] as const)];
      o.push(
        `<polygon fill="${s.color}" fill-opacity="0.15" stroke="none" points="${ring.map(([x, y]) => `${sx(x).toFixed(1)},${sy(clampY(y)).toFixed(1)}`).join(' ')}"/>`,
      );
    }
  }
  c.series.forEach((s, i) => {
    const p = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (p.length > 0) {
      o.push(
        `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${p.map(([x, y]) => `${sx(x).toFixed(1)},${sy(Math.min(Math.max(y, y0), y1)).toFixed(1)}`).join(' ')}"/>`,
      );
      for (const [x, y] of p)
        o.push(
          `<circle cx="${sx(x).toFixed(1)}" cy="${sy(Math.min(Math.max(y, y0), y1)).toFixed(1)}" r="2.5" fill="${s.color}"/>`,
        );
    }
    const ly = M.t + 14 + i * 20;
    o.push(
      `<line x1="${M.l + pw + 12}" y1="${ly}" x2="${M.l + pw + 36}" y2="${ly}" stroke="${s.color}" stroke-width="3"/>`,
    );
    o.push(`<text x="${M.l + pw + 42}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  o.push('</svg>');
  return o.join('\n');
}

let resvg: { Resvg: new (svg: string, opts?: unknown) => { render(): { asPng(): Uint8Array } } } | null | undefined;

/** Writes `<base>.svg` and, when a rasteriser is available, `<base>.png`. Returns the files written. */
export async function writeChart(c: Chart, base: string): Promise<string[]> {
  const svg = toSvg(c);
  writeFileSync(`${base}.svg`, svg);
  if (resvg === undefined) {
    try {
      resvg = (await import('@resvg/resvg-js')) as unknown as typeof resvg;
    } catch {
      resvg = null;
    }
  }
  if (!resvg) return [`${base}.svg`];
  const png = new resvg.Resvg(svg, {
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  })
    .render()
    .asPng();
  writeFileSync(`${base}.png`, png);
  return [`${base}.svg`, `${base}.png`];
}
