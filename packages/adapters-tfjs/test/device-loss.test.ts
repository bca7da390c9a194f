/**
 * A WebGPU linear-algebra device destroyed between two steps: the next step that needs the device throws
 * `DeviceLostError` with parameters, optimizer state, cache, counters and tfjs tensors as before it, and
 * `trainer.useDevice(fresh)` resumes from that step — on a fresh WebGPU device or on the CPU device — with the
 * result of a twin that trained the same steps on the CPU device without any loss (to float32 tolerance: the
 * first steps ran in float32 on the GPU). tfjs itself runs on its cpu backend; only the linalg device is lost.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createDevice, DeviceLostError, LinalgDevice } from '@ifngd/linalg-gpu';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AdapterArgumentError, DisposedError, FngdTrainer, type FngdTrainerOptions } from '../src/index.js';
import { webgpuAvailable } from '../../linalg-gpu/test/devices.js';
import { classData, flatParams, mlp, relErr, useCpu } from './helpers.js';
import { losableDevice } from './lost-device.js';
import { snapshot } from './twin.js';

const gpuOk = await webgpuAvailable();

type Kind = 'fngd' | 'kfac';

function optionsOf(kind: Kind, device: LinalgDevice): FngdTrainerOptions {
  return kind === 'kfac'
    ? { loss: 'softmax-cross-entropy', device, kfac: { learningRate: 0.1, damping: 0.1, inverseEvery: 2 } }
    : { loss: 'softmax-cross-entropy', device, fngd: { learningRate: 0.2, damping: 1, momentum: 0.9, mode: 'global', refresh: 'first-epoch' } };
}

/** Batch `k`: 8 samples of a 6-5-3 MLP's inputs, one-hot targets. */
const batch = (k: number): [tf.Tensor, tf.Tensor] => classData(8, [6], 3, 10 + k);
/** [batchKey, epoch] of the steps before the loss, of the step that meets it, and of the steps after it. */
const BEFORE: readonly [number, number][] = [[0, 0], [1, 0], [2, 0]];
const LOST: [number, number] = [3, 0]; // a new batch: FNGD computes coefficients on the device; KFAC always uses it
const AFTER: readonly [number, number][] = [LOST, [0, 1], [1, 1], [4, 0], [2, 1], [3, 1]];

async function train(t: FngdTrainer, steps: readonly [number, number][]): Promise<void> {
  for (const [k, epoch] of steps) {
    const [x, y] = batch(k);
    await t.trainBatch(x, y, { batchKey: k, epoch });
    x.dispose();
    y.dispose();
  }
}

/** The counters a resumed run and its twin must share exactly. */
function counters(t: FngdTrainer): Record<string, number> {
  const s = t.stats;
  if (s) return { steps: s.steps, cacheHits: s.cacheHits, cacheMisses: s.cacheMisses, factorizations: s.factorizations, cachedBatches: s.cachedBatches };
  const k = t.kfacStats!;
  return { steps: k.steps, factorUpdates: k.factorUpdates, inverseRefreshes: k.inverseRefreshes };
}

let cpu: LinalgDevice;
beforeAll(async () => {
  await useCpu();
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
    const a = await FngdTrainer.create(mlp(6, 5, 3, 4), optionsOf(kind, lost.device));
    const twin = await FngdTrainer.create(mlp(6, 5, 3, 4), optionsOf(kind, cpu));
    await train(a, BEFORE);
    await train(twin, BEFORE);
    lost.lose();

    const [x, y] = batch(LOST[0]);
    const before = await snapshot(a);
    const optimizer = a.optimizer;
    const tensors = tf.memory().numTensors;
    const err = await a.trainBatch(x, y, { batchKey: LOST[0], epoch: LOST[1] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeviceLostError);
    expect((err as DeviceLostError).code).toBe('DEVICE_LOST');
    expect(lost.device.isLost).toBe(true);
    expect(await snapshot(a)).toEqual(before); // parameters, optimizer state + cache (checkpoint bytes), stats, epoch, plan
    expect(a.optimizer).toBe(optimizer);
    expect(tf.memory().numTensors).toBe(tensors);
    x.dispose();
    y.dispose();
    // the lost device cannot take the optimizer back
    await expect(a.useDevice(lost.device)).rejects.toThrow(/the device is lost/);
    expect(await snapshot(a)).toEqual(before);
    const tensorsIdle = tf.memory().numTensors;

    const fresh = target === 'cpu' ? cpu : (await losableDevice()).device;
    await a.useDevice(fresh);
    expect(tf.memory().numTensors).toBe(tensorsIdle); // the old state tensors released, the new ones in their place
    expect(await snapshot(a)).toEqual(before); // moving changes no state
    if (kind === 'fngd') expect(a.optimizer).not.toBe(optimizer);
    await train(a, AFTER);
    await train(twin, AFTER);
    expect(counters(a)).toEqual(counters(twin));
    const pa = flatParams(a.model.variables as tf.Variable[]);
    const pt = flatParams(twin.model.variables as tf.Variable[]);
    expect(relErr(pa, pt)).toBeLessThan(1e-5); // measured ≈ 1e-7
    expect(relErr(pa, before.params)).toBeGreaterThan(1e-3); // it did train on

    a.dispose();
    twin.dispose();
    expect(fresh.destroyed).toBe(false); // the caller's device
    if (fresh !== cpu) fresh.destroy();
    lost.device.destroy();
  });

  it('a new trainer restoring the lost one\'s checkpoint on the CPU device continues the same way', async () => {
    const lost = await losableDevice();
    const model = mlp(6, 5, 3, 4);
    const a = await FngdTrainer.create(model, optionsOf('fngd', lost.device));
    const twin = await FngdTrainer.create(mlp(6, 5, 3, 4), optionsOf('fngd', cpu));
    await train(a, BEFORE);
    await train(twin, BEFORE);
    lost.lose();
    await expect(train(a, [LOST])).rejects.toBeInstanceOf(DeviceLostError);
    const bytes = a.serializeState(); // host state: readable after the loss
    a.dispose();
    const b = await FngdTrainer.create(model, optionsOf('fngd', cpu));
    b.restoreState(bytes, a.epoch, a.batchPlan);
    await train(b, AFTER);
    await train(twin, AFTER);
    expect(counters(b)).toEqual(counters(twin));
    expect(relErr(flatParams(b.model.variables as tf.Variable[]), flatParams(twin.model.variables as tf.Variable[]))).toBeLessThan(1e-5);
    b.dispose();
    twin.dispose();
    lost.device.destroy();
  });
});

describe('useDevice refusals change nothing', () => {
  const destroyed = async (): Promise<unknown> => {
    const d = await createDevice({ backend: 'cpu' });
    d.destroy();
    return d;
  };
  it.each<[string, () => unknown, RegExp]>([
    ['null', () => null, /expected a LinalgDevice/],
    ['an object that is not a device', () => ({}), /expected a LinalgDevice/],
    ['a destroyed device', destroyed, /destroyed/],
  ])('%s', async (_name, make, message) => {
    const type = AdapterArgumentError;
    for (const kind of ['fngd', 'kfac'] as const) {
      const t = await FngdTrainer.create(mlp(6, 5, 3, 4), optionsOf(kind, cpu));
      await train(t, BEFORE);
      const before = await snapshot(t);
      const tensors = tf.memory().numTensors;
      const device = (await make()) as LinalgDevice;
      const p = t.useDevice(device);
      await expect(p).rejects.toThrow(type);
      await expect(p).rejects.toThrow(message);
      expect(await snapshot(t)).toEqual(before);
      expect(tf.memory().numTensors).toBe(tensors);
      t.dispose();
    }
  });

  it('while a training call is queued; on a baseline; after dispose', async () => {
    const t = await FngdTrainer.create(mlp(6, 5, 3, 4), optionsOf('fngd', cpu));
    const other = await createDevice({ backend: 'cpu' });
    const [x, y] = batch(0);
    const running = t.trainBatch(x, y, { batchKey: 0 });
    await expect(t.useDevice(other)).rejects.toThrow(/a training call is running or queued/);
    await running;
    const before = await snapshot(t);
    const optimizer = t.optimizer;
    expect(await snapshot(t)).toEqual(before);
    expect(t.optimizer).toBe(optimizer);
    t.dispose();
    await expect(t.useDevice(other)).rejects.toBeInstanceOf(DisposedError);

    const baseline = await FngdTrainer.create(mlp(6, 5, 3, 4), { loss: 'softmax-cross-entropy', optimizer: tf.train.sgd(0.1) });
    await expect(baseline.useDevice(other)).rejects.toThrow(/uses no linear-algebra device/);
    baseline.dispose();
    x.dispose();
    y.dispose();
    other.destroy();
  });

  it('a trainer that created its device destroys it when moving to another', async () => {
    const t = await FngdTrainer.create(mlp(6, 5, 3, 4), { loss: 'softmax-cross-entropy' });
    await train(t, BEFORE);
    const other = await createDevice({ backend: 'cpu' });
    const destroy = vi.spyOn(LinalgDevice.prototype, 'destroy');
    await t.useDevice(other);
    expect(destroy).toHaveBeenCalledTimes(1); // the trainer's own device, not `other`
    expect(destroy.mock.contexts[0]).not.toBe(other);
    expect((destroy.mock.contexts[0] as LinalgDevice).destroyed).toBe(true);
    destroy.mockRestore();
    await train(t, AFTER);
    t.dispose();
    expect(other.destroyed).toBe(false);
    other.destroy();
  });
});
