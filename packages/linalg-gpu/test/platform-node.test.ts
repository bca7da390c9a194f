/**
 * Node's `#platform` with a broken `webgpu` package (mocked): BackendUnavailableError saying how to install it.
 * Each test loads a fresh platform module after mocking; errors are checked by `code` because the fresh module
 * graph has its own error classes.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';

type NodePlatform = typeof import('../src/webgpu/platform.node.js');

async function freshPlatform(): Promise<NodePlatform> {
  vi.resetModules();
  return import('../src/webgpu/platform.node.js');
}

afterEach(() => {
  vi.doUnmock('webgpu');
  vi.resetModules();
});

describe('node #platform with a broken webgpu package', () => {
  it('node: a failing `webgpu` import becomes BackendUnavailableError naming `npm install webgpu`', async () => {
    vi.doMock('webgpu', () => {
      throw new Error("Cannot find package 'webgpu'");
    });
    const fresh = await freshPlatform();
    const err = await fresh.loadGpu().catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('BACKEND_UNAVAILABLE');
    expect(String(err)).toMatch(/npm install webgpu/);
    expect(String(err)).toMatch(/could not be loaded \(Error: /); // the cause is kept
  });

  it('node: a `webgpu` whose create() throws is reported the same way', async () => {
    vi.doMock('webgpu', () => ({
      create: () => {
        throw new Error('dawn.node: no binary for this platform');
      },
    }));
    const fresh = await freshPlatform();
    await expect(fresh.loadGpu()).rejects.toThrow(/no binary for this platform.*npm install webgpu/s);
  });


  it('node: ensureNavigatorGpu with a broken `webgpu` throws BackendUnavailableError and defines nothing', async () => {
    vi.doMock('webgpu', () => {
      throw new Error("Cannot find package 'webgpu'");
    });
    const fresh = await freshPlatform();
    const host = globalThis as { navigator?: unknown };
    const before = host.navigator;
    const err = await fresh.ensureNavigatorGpu().catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('BACKEND_UNAVAILABLE');
    expect(String(err)).toMatch(/npm install webgpu/);
    expect(host.navigator).toBe(before);
  });
});
