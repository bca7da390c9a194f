/**
 * A WebGPU linear-algebra device destroyed between two steps: the next step that needs the device (a fresh FNGD
 * coefficient computation, any KFAC step) throws `DeviceLostError` with parameters, optimizer checkpoint (state
 * and coefficient cache), stats and epoch bit for bit as before, and `trainer.useDevice(fresh)` resumes from that
 * step — on a fresh WebGPU device or on the CPU device — with the result of a twin that trained the same steps
 * on the CPU device without a loss (to float32 tolerance: the first steps ran in float32 on the GPU).
 */
import { createDevice, DeviceLostError, LinalgDevice } from '@ifngd/linalg-gpu';
import type { HostTree } from 'ifngd';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DisposedError, InvalidOptionError, OnnxTrainer, type OnnxTrainerOptions } from '../src/index.js';
import { buildModel } from '../src/internal.js';
import { webgpuAvailable } from '../../linalg-gpu/test/devices.js';
import { expectSame, snapshot } from './harness.js';
import { losableDevice } from './lost-device.js';
import { testModels } from './models.js';
import { rng } from './reference.js';

const gpuOk = await webgpuAvailable();
const model = testModels(6)[0]!; // Gemm + Tanh + Gemm → softmax cross-entropy; input [4], 3 classes
const bytes = buildModel(model.spec);

type Kind = 'fngd' | 'kfac';
function optionsOf(kind: Kind, device: LinalgDevice): OnnxTrainerOptions {
  return kind === 'kfac'
    ? { loss: model.loss, device, kfac: { learningRate: 0.1, damping: 0.1, inverseEvery: 2 } }
    : { loss: model.loss, device, learningRate: 0.2, damping: 1, momentum: 0.9, refresh: 'first-epoch' };
}

/** Batch `k`: 6 samples, int64 class indices. */
function batch(k: number): { x: ort.Tensor; t: ort.Tensor } {
  const r = rng(50 + k);
  return {
    x: new ort.Tensor('float32', Float32Array.from({ length: 6 * 4 }, () => r(1)), [6, 4]),
    t: new ort.Tensor('int64', BigInt64Array.from({ length: 6 }, (_, i) => BigInt((i * 7 + k) % 3)), [6]),
  };
}

const BEFORE: readonly [number, number][] = [[0, 0], [1, 0], [2, 0]];
const LOST: [number, number] = [3, 0]; // a new batch: FNGD computes coefficients on the device; KFAC always uses it
const AFTER: readonly [number, number][] = [LOST, [0, 1], [1, 1], [4, 0], [2, 1], [3, 1]];

async function train(t: OnnxTrainer, steps: readonly [number, number][]): Promise<void> {
  for (const [k, epoch] of steps) {
    const b = batch(k);
    await t.step({ x: b.x }, b.t, { batchKey: k, epoch });
  }
}

function counters(t: OnnxTrainer): Record<string, number> {
  const s = t.optimizer?.stats;
  if (s) return { steps: s.steps, cacheHits: s.cacheHits, cacheMisses: s.cacheMisses, factorizations: s.factorizations, cachedBatches: s.cachedBatches };
  const k = t.kfacOptimizer!.stats;
  return { steps: k.steps, factorUpdates: k.factorUpdates, inverseRefreshes: k.inverseRefreshes };
}

function relErr(a: HostTree, b: HostTree): number {
  let num = 0;
  let den = 0;
  for (const [name, v] of Object.entries(a)) {
    const w = b[name] as Float32Array;
    (v as Float32Array).forEach((x, i) => {
      num += (x - (w[i] as number)) ** 2;
      den += (w[i] as number) ** 2;
    });
  }
  return Math.sqrt(num / den);
}

let cpu: LinalgDevice;
beforeAll(async () => {
  cpu = await createDevice({ backend: 'cpu' });
});
afterAll(() => cpu.destroy());

describe.runIf(gpuOk)('WebGPU device lost between two steps', () => {
  it.each([
    ['fngd', 'webgpu'],
    ['fngd', 'cpu'],
    ['kfac', 'webgpu'],
    ['kfac', 'cpu'],
  ] as const)('%s: DeviceLostError with nothing changed, then useDevice(%s) resumes like a CPU twin', async (kind, target) => {
    const lost = await losableDevice();
    const a = await OnnxTrainer.create(bytes, optionsOf(kind, lost.device));
    const twin = await OnnxTrainer.create(bytes, optionsOf(kind, cpu));
    await train(a, BEFORE);
    await train(twin, BEFORE);
    lost.lose();

    const before = snapshot(a);
    const optimizer = a.optimizer ?? a.kfacOptimizer;
    const err = await train(a, [LOST]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeviceLostError);
    expect((err as DeviceLostError).code).toBe('DEVICE_LOST');
    expect(lost.device.isLost).toBe(true);
    expectSame(snapshot(a), before);
    expect(a.optimizer ?? a.kfacOptimizer).toBe(optimizer);
    await expect(a.useDevice(lost.device)).rejects.toThrow(/the device is lost/);
    expectSame(snapshot(a), before);

    const fresh = target === 'cpu' ? cpu : (await losableDevice()).device;
    await a.useDevice(fresh);
    expectSame(snapshot(a), before); // moving changes no state
    expect(a.optimizer ?? a.kfacOptimizer).not.toBe(optimizer);
    await train(a, AFTER);
    await train(twin, AFTER);
    expect(counters(a)).toEqual(counters(twin));
    expect(relErr(a.params(), twin.params())).toBeLessThan(1e-5);
    expect(relErr(a.params(), before.params)).toBeGreaterThan(1e-3); // it did train on

    await Promise.all([a.dispose(), twin.dispose()]);
    expect(fresh.destroyed).toBe(false); // the caller's device
    if (fresh !== cpu) fresh.destroy();
    lost.device.destroy();
  });
});

describe('useDevice', () => {
  const destroyed = async (): Promise<unknown> => {
    const d = await createDevice({ backend: 'cpu' });
    d.destroy();
    return d;
  };
  it.each<[string, () => unknown, RegExp]>([
    ['null', () => null, /expected a @ifngd\/linalg-gpu device/],
    ['an object that is not a device', () => ({}), /expected a @ifngd\/linalg-gpu device/],
    ['a destroyed device', destroyed, /destroyed/],
  ])('refuses %s with nothing changed (InvalidOptionError, key device)', async (_name, make, message) => {
    for (const kind of ['fngd', 'kfac'] as const) {
      const t = await OnnxTrainer.create(bytes, optionsOf(kind, cpu));
      await train(t, BEFORE);
      const before = snapshot(t);
      const device = await make();
      const err = await t.useDevice(device as LinalgDevice).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidOptionError);
      expect((err as InvalidOptionError).key).toBe('device');
      expect((err as Error).message).toMatch(message);
      expectSame(snapshot(t), before);
      await t.dispose();
    }
  });

  it('is queued behind the calls made before it; DisposedError after dispose', async () => {
    const t = await OnnxTrainer.create(bytes, optionsOf('fngd', cpu));
    const twin = await OnnxTrainer.create(bytes, optionsOf('fngd', cpu));
    const other = await createDevice({ backend: 'cpu' });
    const b = batch(0);
    const first = t.step({ x: b.x }, b.t, { batchKey: 0 }); // not awaited
    const moved = t.useDevice(other);
    await Promise.all([first, moved]);
    await train(twin, [[0, 0]]);
    expect(counters(t)).toEqual(counters(twin));
    expectSame(snapshot(t), snapshot(twin)); // the step ran on the first device, then the state moved unchanged
    await Promise.all([t.dispose(), twin.dispose()]);
    await expect(t.useDevice(cpu)).rejects.toBeInstanceOf(DisposedError);
    expect(other.destroyed).toBe(false);
    other.destroy();
  });

  it('a trainer destroys the device it created: when moving to another, and at dispose', async () => {
    const destroy = vi.spyOn(LinalgDevice.prototype, 'destroy');
    try {
      const t = await OnnxTrainer.create(bytes, { loss: model.loss });
      await train(t, BEFORE);
      const other = await createDevice({ backend: 'cpu' });
      await t.useDevice(other);
      expect(destroy).toHaveBeenCalledTimes(1); // the trainer's own device, not `other`
      expect(destroy.mock.contexts[0]).not.toBe(other);
      await train(t, AFTER);
      await t.dispose();
      expect(other.destroyed).toBe(false);
      other.destroy();

      destroy.mockClear();
      const u = await OnnxTrainer.create(bytes, { loss: model.loss });
      await u.dispose();
      expect(destroy).toHaveBeenCalledTimes(1);
    } finally {
      destroy.mockRestore();
    }
  });
});
