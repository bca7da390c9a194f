/**
 * A WebGPU linear-algebra device destroyed between two steps: the next step that needs the device (a fresh FNGD
 * coefficient computation, any KFAC step) throws `DeviceLostError` with parameters, optimizer checkpoint (state
 * and coefficient cache), stats and epoch bit for bit as before, and `trainer.useDevice(fresh)` resumes from that
 * step — on a fresh WebGPU device or on the CPU device — with the result of a twin that trained the same steps
 * on the CPU device without a loss (to float32 tolerance: the first steps ran in float32 on the GPU).
 * The scenario is shared with the tfjs adapter (`test/shared/device-loss.ts` at the repository root).
 */
import { createDevice, LinalgDevice } from '@ifngd/linalg-gpu';
import type { HostTree } from 'ifngd';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DisposedError, InvalidOptionError, OnnxTrainer, type OnnxTrainerOptions } from '../src/index.js';
import { buildModel } from '../src/internal.js';
import { webgpuAvailable } from '../../linalg-gpu/test/devices.js';
import { AFTER, BEFORE, destroyedDevice, loseAndResume, RESUME_CASES, train as trainSteps, type LossAdapter, type LossKind } from '../../../test/shared/device-loss.js';
import { expectSame, snapshot, type Snapshot } from './harness.js';
import { testModels } from './models.js';
import { rng } from './reference.js';

const gpuOk = await webgpuAvailable();
const model = testModels(6)[0]!; // Gemm + Tanh + Gemm → softmax cross-entropy; input [4], 3 classes
const bytes = buildModel(model.spec);

function optionsOf(kind: LossKind, device: LinalgDevice): OnnxTrainerOptions {
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

/** The parameters flat, leaves in name order. */
const flat = (p: HostTree): number[] => Object.keys(p).sort().flatMap((k) => Array.from(p[k] as Float32Array));

/** The ONNX trainer in the shared device-loss scenario (snapshots compared bit for bit: `harness.ts`). */
const adapter: LossAdapter<OnnxTrainer, Snapshot> = {
  create: (kind, device) => OnnxTrainer.create(bytes, optionsOf(kind, device)),
  step(t, k, epoch) {
    const b = batch(k);
    return t.step({ x: b.x }, b.t, { batchKey: k, epoch });
  },
  snapshot,
  expectSame,
  params: (t) => flat(t.params()),
  counters,
  optimizer: (t) => t.optimizer ?? t.kfacOptimizer,
  useDevice: (t, device) => t.useDevice(device),
  dispose: (t) => t.dispose(),
};

const train = (t: OnnxTrainer, steps: readonly [number, number][]): Promise<void> => trainSteps(adapter, t, steps);

function counters(t: OnnxTrainer): Record<string, number> {
  const s = t.optimizer?.stats;
  if (s) return { steps: s.steps, cacheHits: s.cacheHits, cacheMisses: s.cacheMisses, factorizations: s.factorizations, cachedBatches: s.cachedBatches };
  const k = t.kfacOptimizer!.stats;
  return { steps: k.steps, factorUpdates: k.factorUpdates, inverseRefreshes: k.inverseRefreshes };
}

let cpu: LinalgDevice;
beforeAll(async () => {
  cpu = await createDevice({ backend: 'cpu' });
});
afterAll(() => cpu.destroy());

describe.runIf(gpuOk)('WebGPU device lost between two steps', () => {
  it.each(RESUME_CASES)('%s: DeviceLostError with nothing changed, then useDevice(%s) resumes like a CPU twin', (kind, target) => loseAndResume(adapter, kind, target, cpu));
});

describe('useDevice', () => {
  it.each<[string, () => unknown, RegExp]>([
    ['null', () => null, /expected a @ifngd\/linalg-gpu device/],
    ['an object that is not a device', () => ({}), /expected a @ifngd\/linalg-gpu device/],
    ['a destroyed device', destroyedDevice, /destroyed/],
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
