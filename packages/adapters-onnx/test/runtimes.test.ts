/**
 * ONNX Runtime selection: `onnxruntime-node` by default in Node, `onnxruntime-web` (wasm) passed as `ort` trains
 * identically, the browser default takes a global `ort`, and an `ort` that is not a runtime is an InvalidOptionError.
 */
import { createDevice } from '@ifngd/linalg-gpu';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidOptionError, OnnxTrainer, type OrtRuntime } from '../src/index.js';
import { buildModel } from '../src/internal.js';
import * as browserRuntime from '../src/runtime.browser.js';
import * as nodeRuntime from '../src/runtime.node.js';
import { asRuntime } from '../src/runtime-check.js';
import { testModels } from './models.js';
import { rng } from './reference.js';

const model = testModels(7)[0]!; // Gemm + Tanh + Gemm → softmax CE, input [N,4], 3 classes
const N = 8;
const r = rng(3);
const xs = Float32Array.from({ length: N * 4 }, () => r(1));
const labels = BigInt64Array.from({ length: N }, (_, i) => BigInt(i % 3));

/** Mean losses of 4 FNGD steps on one batch, on the CPU linalg device. */
async function losses(ort: OrtRuntime | undefined): Promise<number[]> {
  const device = await createDevice({ backend: 'cpu' });
  const rt = (ort ?? ortNode) as typeof ortNode;
  const trainer = await OnnxTrainer.create(buildModel(model.spec), {
    loss: 'softmax-cross-entropy',
    device,
    learningRate: 0.5,
    damping: 0.1,
    ...(ort ? { ort } : {}),
  });
  const out: number[] = [];
  for (let s = 0; s < 4; s++) {
    out.push(
      await trainer.step({ x: new rt.Tensor('float32', xs, [N, 4]) }, new rt.Tensor('int64', labels, [N]), { batchKey: 0, epoch: s }),
    );
  }
  trainer.dispose();
  device.destroy();
  return out;
}

afterEach(() => {
  delete (globalThis as { ort?: unknown }).ort;
});

describe('ONNX Runtime selection', () => {
  it('#runtime resolves to the Node module under Node conditions, which loads onnxruntime-node', async () => {
    const mod = (await import('#runtime')) as { PLATFORM: string };
    expect(mod.PLATFORM).toBe('node');
    const rt = await nodeRuntime.defaultRuntime();
    expect(rt.InferenceSession).toBe(ortNode.InferenceSession);
  });

  it('onnxruntime-web (wasm backend, in Node) trains like onnxruntime-node, and like the default', async () => {
    const web = await losses(ortWeb);
    const node = await losses(ortNode);
    const dflt = await losses(undefined);
    expect(web[3]!).toBeLessThan(web[0]!);
    for (let i = 0; i < 4; i++) {
      expect(web[i]!).toBeCloseTo(node[i]!, 4);
      expect(dflt[i]!).toBe(node[i]!);
    }
  });

  it('accepts a module whose runtime is its default export (CommonJS interop)', () => {
    expect(asRuntime({ default: ortWeb }, 'm')).toBe(ortWeb);
  });

  it('an `ort` that is not an ONNX Runtime module is an InvalidOptionError, before any device is made', async () => {
    const bytes = buildModel(model.spec);
    for (const bad of [{}, null, 42, { InferenceSession: {}, Tensor: ortWeb.Tensor }, { default: { Tensor: ortWeb.Tensor } }]) {
      const err = await OnnxTrainer.create(bytes, { loss: 'mse', ort: bad as unknown as OrtRuntime }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidOptionError);
      expect((err as Error).message).toMatch(/options\.ort is not an ONNX Runtime module/);
    }
  });

  it('browser default: a global `ort` (script tag) is used; a global that is not a runtime is named', async () => {
    (globalThis as { ort?: unknown }).ort = ortWeb;
    expect(await browserRuntime.defaultRuntime()).toBe(ortWeb);
    (globalThis as { ort?: unknown }).ort = { version: 'not ort' };
    await expect(browserRuntime.defaultRuntime()).rejects.toThrow(/globalThis\.ort is not an ONNX Runtime module/);
  });

  it('browser default without a global `ort` imports onnxruntime-web', async () => {
    const rt = await browserRuntime.defaultRuntime();
    expect(rt.InferenceSession).toBe(ortWeb.InferenceSession);
  });

  it('a session the runtime cannot create rejects create(); a device passed in stays usable', async () => {
    const device = await createDevice({ backend: 'cpu' });
    const bad = { executionProviders: ['no-such-ep'] };
    await expect(
      OnnxTrainer.create(buildModel(model.spec), { loss: 'softmax-cross-entropy', device, ort: ortWeb, sessionOptions: bad }),
    ).rejects.toThrow(/no-such-ep/);
    expect(device.destroyed).toBe(false);
    expect(Array.from(await device.read(device.full([1, 1], 3)))).toEqual([3]);
    device.destroy();
  });
});
