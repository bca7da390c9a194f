/**
 * A WebGPU linear-algebra device destroyed between two steps: the next step that needs the device throws
 * `DeviceLostError` with parameters, optimizer state, cache, counters and tfjs tensors as before it, and
 * `trainer.useDevice(fresh)` resumes from that step — on a fresh WebGPU device or on the CPU device — with the
 * result of a twin that trained the same steps on the CPU device without any loss (to float32 tolerance: the
 * first steps ran in float32 on the GPU). tfjs itself runs on its cpu backend; only the linalg device is lost.
 * The scenario is shared with the ONNX adapter (`test/shared/device-loss.ts` at the repository root).
 */
import * as tf from '@tensorflow/tfjs-core';
import { createDevice, DeviceLostError, LinalgDevice } from '@ifngd/linalg-gpu';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AdapterArgumentError, DisposedError, FngdTrainer, type FngdTrainerOptions } from '../src/index.js';
import { webgpuAvailable } from '../../linalg-gpu/test/devices.js';
import { AFTER, BEFORE, destroyedDevice, LOST, losableDevice, loseAndResume, RESUME_CASES, train as trainSteps, type LossAdapter, type LossKind } from '../../../test/shared/device-loss.js';
import { classData, flatParams, mlp, relErr, useCpu } from './helpers.js';
import { snapshot, type Snapshot } from './twin.js';

const gpuOk = await webgpuAvailable();

function optionsOf(kind: LossKind, device: LinalgDevice): FngdTrainerOptions {
  return kind === 'kfac'
    ? { loss: 'softmax-cross-entropy', device, kfac: { learningRate: 0.1, damping: 0.1, inverseEvery: 2 } }
    : { loss: 'softmax-cross-entropy', device, fngd: { learningRate: 0.2, damping: 1, momentum: 0.9, mode: 'global', refresh: 'first-epoch' } };
}

/** Batch `k`: 8 samples of a 6-5-3 MLP's inputs, one-hot targets. */
const batch = (k: number): [tf.Tensor, tf.Tensor] => classData(8, [6], 3, 10 + k);

/** The tfjs trainer in the shared device-loss scenario (snapshots: `twin.ts`'s, compared with `toEqual`). */
const adapter: LossAdapter<FngdTrainer, Snapshot> = {
  create: (kind, device) => FngdTrainer.create(mlp(6, 5, 3, 4), optionsOf(kind, device)),
  async step(t, k, epoch) {
    const [x, y] = tf.tidy(() => batch(k)); // (classData leaves its label tensors behind otherwise)
    try {
      await t.trainBatch(x, y, { batchKey: k, epoch });
    } finally {
      x.dispose();
      y.dispose();
    }
  },
  snapshot, // parameters, optimizer state + cache (checkpoint bytes), stats, epoch, plan
  expectSame: (got, want) => expect(got).toEqual(want),
  params: (t) => flatParams(t.model.variables as tf.Variable[]),
  counters,
  optimizer: (t) => t.optimizer ?? t.kfacOptimizer,
  useDevice: (t, device) => t.useDevice(device),
  dispose: (t) => t.dispose(),
  live: () => tf.memory().numTensors,
};

const train = (t: FngdTrainer, steps: readonly [number, number][]): Promise<void> => trainSteps(adapter, t, steps);

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
  it.each(RESUME_CASES)('%s: DeviceLostError with nothing changed, then useDevice(%s) resumes like a CPU twin', (kind, target) => loseAndResume(adapter, kind, target, cpu));

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
  it.each<[string, () => unknown, RegExp]>([
    ['null', () => null, /expected a LinalgDevice/],
    ['an object that is not a device', () => ({}), /expected a LinalgDevice/],
    ['a destroyed device', destroyedDevice, /destroyed/],
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
