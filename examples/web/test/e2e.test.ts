/**
 * The web demo end to end: the server on 127.0.0.1, headless Debian Chromium (never a downloaded browser), the page
 * trains FNGD and Adam (tfjs) and FNGD on ONNX Runtime Web (wasm EP) on real MNIST digits until all pass an accuracy
 * threshold, the ONNX lane's loss falls, the charts are drawn (non-blank canvases, legend outside the plot, axis
 * titles and ticks, a distinct style per lane, accuracy in %), the loading line reports each step, the tfjs-vis panel
 * renders the FNGD trainer's logs, a page without WebGPU falls back to wasm and says so, and a screenshot is taken.
 * Without /usr/bin/chromium the file is skipped locally; with CI=true it fails.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../src/serve.js';
import { drawn, loadingSeen, overlap, RECORD_LOADING, tooltipAtRightEnd, tooltipValue, type Drawn } from './page-probes.js';

const executablePath = process.env.IFNGD_CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(executablePath);
if (!haveChromium && process.env.CI === 'true') throw new Error(`CI needs Chromium at ${executablePath} (apt-get install chromium)`);

describe.runIf(haveChromium)('web demo', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  let browser: Browser;
  beforeAll(async () => {
    server = await startServer(0, { watch: false });
    browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-dev-shm-usage', '--enable-unsafe-webgpu'] });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function trained(backend: string, epochs: number, initScript?: string) {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.addInitScript(RECORD_LOADING);
    if (initScript) await page.addInitScript(initScript);
    await page.goto(`${server.url}?backend=${backend}&epochs=${epochs}&autostart=1`);
    await page.waitForSelector('#status[data-state="done"], #status[data-state="error"]', { timeout: 240_000 });
    const state = await page.getAttribute('#status', 'data-state');
    const error = await page.textContent('#error');
    expect({ state, error, errors }).toEqual({ state: 'done', error: '', errors: [] });
    return page;
  }

  /** The ONNX lane (FNGD on onnxruntime-web): final test accuracy and its batch losses in training order. */
  async function onnxLane(page: Awaited<ReturnType<typeof trained>>, batches: number) {
    const accuracy = Number(await page.getAttribute('#status', 'data-onnx'));
    const losses = (await page.getAttribute('#status', 'data-onnx-losses'))!.split(',').map(Number);
    expect(losses).toHaveLength(batches);
    expect(losses.every(Number.isFinite)).toBe(true);
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    // the first batch's loss is ~ln 10 at the seeded init; the last 5 batches' mean is well below half of it
    expect(losses[0]!).toBeGreaterThan(1.5);
    expect(mean(losses.slice(-5))).toBeLessThan(0.5 * losses[0]!);
    return accuracy;
  }

  /** A chart: legend above and clear of the plot, both on the canvas, axis titles, ticks, one distinct style per lane. */
  function checkChart(d: Drawn, titles: { x: RegExp; y: string }, points: number) {
    const onCanvas = (r: Drawn['plot']) => r.x >= 0 && r.y >= 0 && r.x + r.w <= d.width && r.y + r.h <= d.height;
    expect(onCanvas(d.plot) && onCanvas(d.legend)).toBe(true);
    expect(overlap(d.legend, d.plot)).toBe(false);
    expect(d.legend.y + d.legend.h).toBeLessThanOrEqual(d.plot.y);
    expect(d.xTitle).toMatch(titles.x);
    expect(d.yTitle).toBe(titles.y);
    expect(d.xTicks.length).toBeGreaterThanOrEqual(3);
    expect(d.yTicks.length).toBeGreaterThanOrEqual(3);
    expect(d.series.map((s) => s.label)).toEqual(['FNGD (tfjs)', 'Adam (tfjs)', 'FNGD (ONNX Runtime Web)']);
    expect(d.series.map((s) => s.points)).toEqual([points, points, points]);
    for (const key of ['color', 'dash', 'marker'] as const) expect(new Set(d.series.map((s) => JSON.stringify(s[key]))).size).toBe(3);
    // FNGD (tfjs), drawn first, is wider than the ONNX lane's dashed line on top of it, so both show where they coincide
    expect(d.series[0]!.width).toBeGreaterThan(d.series[2]!.width);
    expect(d.series[2]!.dash.length).toBeGreaterThan(0);
  }

  /** The loading line named each step, counted files and the digits' bytes, and ended at 4/4. */
  async function checkLoading(page: Page, backend: string) {
    const seen = await loadingSeen(page);
    const files = seen.flatMap((t) => /^Loading 1\/4: the training modules .* — (\d+) files, \d+\.\d MB fetched so far, \d+ s$/.exec(t)?.[1] ?? []).map(Number);
    expect(files.length).toBeGreaterThan(0);
    expect(Math.max(...files)).toBeGreaterThan(10);
    expect(seen.some((t) => t.startsWith(`Loading 2/4: the ${backend} backend — `))).toBe(true);
    expect(seen.some((t) => /^Loading 3\/4: the MNIST digits \(\/mnist\.bin\) — \d+\.\d of \d+\.\d MB \(\d+ %\), \d+ s$/.test(t))).toBe(true);
    expect(seen.some((t) => t.startsWith('Loading 4/4: the trainers and ONNX Runtime Web (wasm) — '))).toBe(true);
    expect(seen.at(-1)).toMatch(/^Loaded 4\/4 steps in \d+\.\d s: \d+ files, \d+\.\d MB\.$/);
    expect(await page.getAttribute('#loading', 'data-fraction')).toBe('1.000');
    expect(await page.getAttribute('#loading', 'data-stage')).toBe('done');
  }

  /** The tfjs-vis panel: a chart per callback, and at their right ends the FNGD trainer's last batch and last epoch. */
  async function checkTfvis(page: Page, epochs: number, batches: number) {
    const titles = await page.$$eval('#tfvis .subsurface-title', (els) => els.map((e) => e.textContent));
    expect(titles.sort()).toEqual(['onBatchEnd', 'onEpochEnd']);
    const charts = {
      batchLoss: '#tfvis div[data-name="onBatchEnd"] div[data-name="loss"] canvas',
      epochLoss: '#tfvis div[data-name="onEpochEnd"] div[data-name="loss"] canvas',
      epochAcc: '#tfvis div[data-name="onEpochEnd"] div[data-name="acc"] canvas',
    };
    for (const sel of Object.values(charts)) await page.waitForSelector(sel, { timeout: 30_000 });
    const fngdLosses = (await page.getAttribute('#status', 'data-fngd-losses'))!.split(',').map(Number);
    expect(fngdLosses).toHaveLength(batches);
    // x counts from 0 over the run's fit calls: the last batch is batches − 1, the last epoch epochs − 1
    await expect.poll(() => tooltipAtRightEnd(page, charts.batchLoss), { timeout: 30_000 }).toMatch(new RegExp(`(^|\\n)x:\\s*${batches - 1}\\b`));
    const lastBatch = await tooltipAtRightEnd(page, charts.batchLoss);
    expect(tooltipValue(lastBatch, 'loss')).toBeCloseTo(fngdLosses.at(-1)!, 5);
    await expect.poll(() => tooltipAtRightEnd(page, charts.epochAcc), { timeout: 30_000 }).toMatch(new RegExp(`(^|\\n)x:\\s*${epochs - 1}\\b`));
    const lastEpoch = await tooltipAtRightEnd(page, charts.epochAcc);
    expect(tooltipValue(lastEpoch, 'val_acc')).toBeCloseTo(Number(await page.getAttribute('#status', 'data-fngd')), 5);
    const epochLoss = await tooltipAtRightEnd(page, charts.epochLoss);
    expect(tooltipValue(epochLoss, 'x')).toBe(epochs - 1);
    expect(tooltipValue(epochLoss, 'loss')).toBeGreaterThan(0);
    expect(tooltipValue(epochLoss, 'val_loss')).toBeGreaterThan(0);
  }

  it('trains FNGD, Adam and FNGD on ONNX Runtime Web on the cpu backend, draws the charts, and says who won', async () => {
    const page = await trained('cpu', 2);
    const fngd = Number(await page.getAttribute('#status', 'data-fngd'));
    const adam = Number(await page.getAttribute('#status', 'data-adam'));
    expect(fngd).toBeGreaterThan(0.8);
    expect(adam).toBeGreaterThan(0.6);
    expect(await onnxLane(page, 2 * 20)).toBeGreaterThan(0.75);
    expect(await page.textContent('#status')).toMatch(/^cpu: Test accuracy after 2 epochs: FNGD \d+\.\d %, Adam \d+\.\d %\./);
    expect(await page.textContent('#status')).toMatch(/ FNGD on ONNX Runtime Web: \d+\.\d %\.$/);
    expect(await page.getAttribute('#progress', 'value')).toBe('1');
    expect(await page.getAttribute('#status', 'data-backend')).toBe('cpu');
    expect(await page.isVisible('#note')).toBe(false);
    await checkLoading(page, 'cpu');
    checkChart(await drawn(page, 'loss'), { x: /^epoch/, y: 'training loss' }, 2 * 20);
    const acc = await drawn(page, 'accuracy');
    checkChart(acc, { x: /^epoch$/, y: 'test accuracy (%)' }, 2);
    expect(acc.xTicks).toEqual(['0', '1', '2']);
    // accuracy in %: the y ticks lie in 0–100 and span the final accuracies × 100
    const yTicks = acc.yTicks.map(Number);
    const finals = [fngd, adam, Number(await page.getAttribute('#status', 'data-onnx'))].map((a) => 100 * a);
    expect(yTicks.every((v) => v >= 0 && v <= 100)).toBe(true);
    expect(Math.min(...yTicks)).toBeLessThanOrEqual(Math.min(...finals));
    expect(Math.max(...yTicks)).toBeGreaterThanOrEqual(Math.max(...finals));
    await checkTfvis(page, 2, 2 * 20);
    // a canvas with all three lines has many non-white pixels in each colour
    const inked = await page.evaluate(() =>
      ['loss', 'accuracy'].map((id) => {
        const c = document.getElementById(id) as HTMLCanvasElement;
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        let red = 0;
        let blue = 0;
        let green = 0;
        for (let i = 0; i < d.length; i += 4) {
          if (d[i]! > 180 && d[i + 1]! < 80 && d[i + 2]! < 80) red++;
          if (d[i]! < 80 && d[i + 2]! > 150) blue++;
          if (d[i]! < 80 && d[i + 1]! > 130 && d[i + 2]! < 80) green++;
        }
        return { red, blue, green };
      }),
    );
    for (const c of inked) {
      expect(c.red).toBeGreaterThan(50);
      expect(c.blue).toBeGreaterThan(50);
      expect(c.green).toBeGreaterThan(50);
    }
    const shot = await page.screenshot({ fullPage: true, ...(process.env.IFNGD_SCREENSHOT ? { path: process.env.IFNGD_SCREENSHOT } : {}) });
    expect(shot.byteLength).toBeGreaterThan(20_000); // a blank page compresses to a few kB
    await page.close();
  }, 300_000);

  for (const backend of ['wasm', 'webgpu'] as const) {
    it(`trains on the ${backend} backend too (1 epoch)`, async () => {
      const page = await trained(backend, 1);
      expect(Number(await page.getAttribute('#status', 'data-fngd'))).toBeGreaterThan(0.7);
      expect(await onnxLane(page, 20)).toBeGreaterThan(0.6);
      expect(await page.textContent('#status')).toMatch(new RegExp(`^${backend}: Test accuracy after 1 epoch\\b`));
      expect(await page.getAttribute('#status', 'data-backend')).toBe(backend);
      expect(await page.isVisible('#note')).toBe(false);
      await page.close();
    }, 300_000);
  }

  it('falls back to the wasm backend where WebGPU is missing, says why, and names wasm in the status', async () => {
    const page = await trained('webgpu', 1, 'delete Navigator.prototype.gpu;');
    expect(await page.evaluate(() => 'gpu' in navigator)).toBe(false);
    expect(await page.isVisible('#note')).toBe(true);
    expect(await page.textContent('#note')).toBe('Fell back to the wasm backend: webgpu is not available — this browser has no WebGPU (navigator.gpu is missing).');
    expect(await page.getAttribute('#status', 'data-backend')).toBe('wasm');
    expect(await page.textContent('#status')).toMatch(/^wasm: Test accuracy after 1 epoch: FNGD \d+\.\d %/);
    expect(Number(await page.getAttribute('#status', 'data-fngd'))).toBeGreaterThan(0.7);
    expect(await loadingSeen(page)).toContainEqual(expect.stringMatching(/^Loading 2\/4: the webgpu backend — /));
    await page.close();
  }, 300_000);

  it('an invalid epoch count is refused on the page, naming it', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}?epochs=0&autostart=1`);
    await page.waitForFunction(() => document.getElementById('error')!.textContent !== '');
    expect(await page.textContent('#error')).toBe("epochs must be an integer from 1 to 20, got '0'");
    expect(await page.getAttribute('#status', 'data-state')).toBe('idle');
    await page.close();
  });
});
