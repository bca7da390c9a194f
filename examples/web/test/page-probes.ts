/**
 * What the end-to-end test reads off the page: the texts the loading line showed, what a chart canvas says it
 * drew (its data attributes), and the tooltip tfjs-vis (vega) shows at the right end of one of its charts.
 */
import type { Page } from 'playwright';

/** An init script recording every text the loading line shows into `window.loadingSeen`, from before the page's scripts run. */
export const RECORD_LOADING = `window.loadingSeen = [];
  new MutationObserver(() => {
    const t = document.querySelector('#loading span')?.textContent ?? '';
    if (t && t !== window.loadingSeen.at(-1)) window.loadingSeen.push(t);
  }).observe(document, { subtree: true, childList: true, characterData: true });`;

/** The texts the loading line showed, in order (needs {@link RECORD_LOADING}). */
export function loadingSeen(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { loadingSeen: string[] }).loadingSeen);
}

/** A rectangle in canvas pixels. */
export interface Rect {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

/** What a chart canvas reports it drew. */
export interface Drawn {
  readonly width: number;
  readonly height: number;
  readonly plot: Rect;
  readonly legend: Rect;
  readonly xTitle: string;
  readonly yTitle: string;
  readonly xTicks: string[];
  readonly yTicks: string[];
  readonly series: { label: string; color: string; dash: number[]; width: number; marker: string; points: number }[];
}

/** The data attributes of the chart canvas `#id`, parsed. */
export function drawn(page: Page, id: string): Promise<Drawn> {
  return page.$eval(`#${id}`, (el) => {
    const c = el as HTMLCanvasElement;
    const d = c.dataset;
    return {
      width: c.width,
      height: c.height,
      plot: JSON.parse(d.plotBox!),
      legend: JSON.parse(d.legendBox!),
      xTitle: d.xTitle!,
      yTitle: d.yTitle!,
      xTicks: JSON.parse(d.xTicks!),
      yTicks: JSON.parse(d.yTicks!),
      series: JSON.parse(d.series!),
    };
  });
}

/** Whether two rectangles share interior points. */
export const overlap = (a: Rect, b: Rect): boolean => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/**
 * The text of the vega tooltip for the right-most point of the chart canvas `selector` (tfjs-vis's charts show
 * the nearest point's x and values on hover): the mouse sweeps in from the right edge until a tooltip shows.
 * '' when none shows.
 */
export async function tooltipAtRightEnd(page: Page, selector: string): Promise<string> {
  await page.mouse.move(0, 0);
  const canvas = page.locator(selector);
  await canvas.scrollIntoViewIfNeeded();
  const box = await canvas.boundingBox();
  if (!box) return '';
  for (let f = 0.99; f > 0.5; f -= 0.01) {
    await page.mouse.move(box.x + f * box.width, box.y + box.height / 2);
    await page.waitForTimeout(20);
    const text = await page.evaluate(() => {
      const tip = document.getElementById('vg-tooltip-element');
      return tip?.classList.contains('visible') ? tip.innerText : '';
    });
    if (text) return text;
  }
  return '';
}

/** A tooltip's value for `key` (a line `key:` followed by the value). */
export function tooltipValue(text: string, key: string): number {
  const m = new RegExp(`(?:^|\\n)${key}:\\s*(-?[\\d.e+-]+)`).exec(text);
  return m ? Number(m[1]) : NaN;
}
