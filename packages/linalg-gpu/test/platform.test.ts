/**
 * Where a `GPU` comes from (`#platform`): the `webgpu` package in Node, only `navigator.gpu` in browsers, and
 * messages that say what to do in each. A missing adapter is a BackendUnavailableError that 'auto' falls back from.
 * (A broken `webgpu` package is mocked in platform-node.test.ts: module resets must not leak into these tests.)
 */
import { describe, expect, it } from 'vitest';
import { BackendUnavailableError, createDevice, ensureNavigatorGpu } from '../src/index.js';
import * as browser from '../src/webgpu/platform.browser.js';
import * as node from '../src/webgpu/platform.node.js';
import { inBrowser } from './env.js';

/** This run's environment: Node, or vitest browser mode (where `#platform` must be the browser module). */
const here = inBrowser ? 'browser' : 'node';
const resolved = (await import('#platform')) as typeof node;

const noAdapterGpu = { requestAdapter: async () => null } as unknown as GPU;

describe('#platform', () => {
  it(`resolves to the ${here} module in ${here}`, () => {
    expect(resolved.PLATFORM).toBe(here);
  });

  it('browser: without navigator.gpu, loadGpu throws saying what a browser needs', async () => {
    const err = await browser.loadGpu().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect(String(err)).toMatch(/navigator\.gpu is missing.*secure context/);
    expect(String(err)).not.toMatch(/npm install|setup-webgpu/);
  });

  it('the no-adapter hints name what to do, per platform, and no repository script', () => {
    expect(node.NO_ADAPTER_HINT).toMatch(/mesa-vulkan-drivers/);
    expect(browser.NO_ADAPTER_HINT).toMatch(/--enable-unsafe-webgpu/);
    for (const hint of [node.NO_ADAPTER_HINT, browser.NO_ADAPTER_HINT]) {
      expect(hint).toMatch(/backend: "cpu"/);
      expect(hint).not.toMatch(/scripts\//);
    }
  });
});

describe('a GPU without adapter', () => {
  it("backend 'webgpu' throws BackendUnavailableError with the platform's hint", async () => {
    const err = await createDevice({ backend: 'webgpu', gpu: noAdapterGpu }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect((err as Error).message).toBe(resolved.NO_ADAPTER_HINT);
  });

  it("backend 'auto' falls back to the CPU", async () => {
    const dev = await createDevice({ backend: 'auto', gpu: noAdapterGpu });
    expect(dev.backend).toBe('cpu');
    dev.destroy();
  });

  it('a throwing requestAdapter is a BackendUnavailableError too', async () => {
    const gpu = { requestAdapter: async () => Promise.reject(new Error('boom')) } as unknown as GPU;
    await expect(createDevice({ backend: 'webgpu', gpu })).rejects.toThrow(/adapter request failed: Error: boom/);
  });
});

describe('ensureNavigatorGpu', () => {
  const host = globalThis as { navigator?: { gpu?: GPU; userAgent?: string } };
  /** Runs `fn` with `globalThis.navigator` replaced (Node only), restoring the original afterwards. */
  async function withNavigator(value: unknown, fn: () => Promise<void>): Promise<void> {
    const before = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
    Object.defineProperty(globalThis, 'navigator', { value, configurable: true, writable: true });
    try {
      await fn();
    } finally {
      if (before) Object.defineProperty(globalThis, 'navigator', before);
      else delete host.navigator;
    }
  }

  it('returns an existing navigator.gpu unchanged', async () => {
    if (inBrowser) {
      expect(await ensureNavigatorGpu()).toBe(host.navigator!.gpu);
      return;
    }
    const fake = { requestAdapter: async () => null } as unknown as GPU;
    await withNavigator({ gpu: fake }, async () => {
      expect(await ensureNavigatorGpu()).toBe(fake);
    });
  });

  it.skipIf(inBrowser)('node: defines navigator.gpu and the GPU* globals from `webgpu`, once', async () => {
    await withNavigator(undefined, async () => {
      const gpu = await ensureNavigatorGpu();
      expect(typeof gpu.requestAdapter).toBe('function');
      expect(host.navigator).toEqual({ gpu, userAgent: 'node' });
      expect((globalThis as { GPUBufferUsage?: { COPY_SRC: number } }).GPUBufferUsage?.COPY_SRC).toBe(4);
      expect(await ensureNavigatorGpu()).toBe(gpu);
    });
  });

  it.skipIf(inBrowser)("node: on Node's own navigator (Node ≥ 21) adds gpu and keeps userAgent", async () => {
    await withNavigator({ userAgent: 'Node.js/22' }, async () => {
      const gpu = await ensureNavigatorGpu();
      expect(host.navigator!.gpu).toBe(gpu);
      expect(host.navigator!.userAgent).toBe('Node.js/22');
    });
  });

  it.skipIf(inBrowser)('browser module without navigator.gpu throws what a browser needs', async () => {
    await withNavigator({ userAgent: 'test' }, async () => {
      const err = await browser.ensureNavigatorGpu().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BackendUnavailableError);
      expect(String(err)).toMatch(/navigator\.gpu is missing/);
    });
  });
});
