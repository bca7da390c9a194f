/**
 * The web demo end to end: the server on 127.0.0.1, headless Debian Chromium (never a downloaded browser), the page
 * trains FNGD and Adam (tfjs) and FNGD on ONNX Runtime Web (wasm EP) on real MNIST digits until all pass an accuracy
 * threshold, the ONNX lane's loss falls, the charts are drawn (non-blank canvases) and a screenshot is taken. Without /usr/bin/chromium the file is skipped locally; with CI=true it fails.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../src/serve.js';

const executablePath = process.env.IFNGD_CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(executablePath);
if (!haveChromium && process.env.CI === 'true') throw new Error(`CI needs Chromium at ${executablePath} (apt-get install chromium)`);

describe.runIf(haveChromium)('web demo', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  let browser: Browser;
  beforeAll(async () => {
    server = await startServer(0);
    browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-dev-shm-usage', '--enable-unsafe-webgpu'] });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function trained(backend: string, epochs: number) {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
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
      await page.close();
    }, 300_000);
  }

  it('an invalid epoch count is refused on the page, naming it', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}?epochs=0&autostart=1`);
    await page.waitForFunction(() => document.getElementById('error')!.textContent !== '');
    expect(await page.textContent('#error')).toBe("epochs must be an integer from 1 to 20, got '0'");
    expect(await page.getAttribute('#status', 'data-state')).toBe('idle');
    await page.close();
  });
});
