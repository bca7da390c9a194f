/**
 * No ONNX Runtime installed (both optional peers mocked to fail): RuntimeUnavailableError that says what to install,
 * in Node and in browsers. Fresh module graphs, so errors are checked by `code`.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';

afterEach(() => {
  vi.doUnmock('onnxruntime-node');
  vi.doUnmock('onnxruntime-web');
  vi.resetModules();
});

function missing(name: string): () => never {
  return () => {
    throw new Error(`Cannot find package '${name}'`);
  };
}

describe('no ONNX Runtime installed', () => {
  it('node: RuntimeUnavailableError names both peers and the `ort` option', async () => {
    vi.doMock('onnxruntime-node', missing('onnxruntime-node'));
    vi.doMock('onnxruntime-web', missing('onnxruntime-web'));
    vi.resetModules();
    const { defaultRuntime } = await import('../src/runtime.node.js');
    const err = (await defaultRuntime().catch((e: unknown) => e)) as { code?: string; message: string };
    expect(err.code).toBe('runtime-unavailable');
    expect(err.message).toMatch(/install the optional peer `onnxruntime-node`.*ONNXRUNTIME_NODE_INSTALL=skip.*`onnxruntime-web`.*pass `ort`/);
    expect(err.message).toMatch(/onnxruntime-node: .*; onnxruntime-web: /);
  });

  it('node: without onnxruntime-node, onnxruntime-web is the default', async () => {
    vi.doMock('onnxruntime-node', missing('onnxruntime-node'));
    vi.resetModules();
    const { defaultRuntime } = await import('../src/runtime.node.js');
    const ortWeb = await import('onnxruntime-web');
    expect((await defaultRuntime()).InferenceSession).toBe(ortWeb.InferenceSession);
  });

  it('browser: RuntimeUnavailableError says to install onnxruntime-web or load it with a script tag', async () => {
    vi.doMock('onnxruntime-web', missing('onnxruntime-web'));
    vi.resetModules();
    const { defaultRuntime } = await import('../src/runtime.browser.js');
    const err = (await defaultRuntime().catch((e: unknown) => e)) as { code?: string; message: string };
    expect(err.code).toBe('runtime-unavailable');
    expect(err.message).toMatch(/npm install onnxruntime-web.*script tag.*pass `ort`/);
    expect(err.message).not.toMatch(/onnxruntime-node/);
  });
});
