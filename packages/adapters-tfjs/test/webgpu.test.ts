/**
 * tfjs on its webgpu backend (Node: Dawn, lavapipe on CPU-only machines; browser mode: Chromium's own WebGPU,
 * SwiftShader in CI): the linalg device shares tfjs's
 * GPUDevice and the factors move tfjs → linalg on the GPU (`dataToGPU` + `fromGpuBuffer`), never through
 * `data()`/`dataSync()`. With `CI=true` a missing adapter fails this file (webgpuAvailable throws).
 * vitest runs each file in its own process (pool forks), so the global `navigator` set here (Node only) stays here.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { LinalgDevice } from '@ifngd/linalg-gpu';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { FngdTrainer, linalgDeviceForTf, type FngdTrainerOptions, type TrainerData, type TrainerFngdOptions } from '../src/index.js';
import { sharesTfDevice, tfGpuDevice } from '../src/device.js';
import { webgpuAvailable } from '../../linalg-gpu/test/devices.js';
import { inBrowser, requireWebgpu } from '../../linalg-gpu/test/env.js';
import { classData, cnn, mlp, relErr } from './helpers.js';
import { bnResnet, deconvNet, lstmText, mobileBlock, residualDag, sequenceNet, tinyTransformer, tokenData, twoTower, twoTowerData } from './support/zoo.js';

const gpuOk = await webgpuAvailable();
const requireGpu = requireWebgpu;
/** Node's WebGPU package, by a name bundlers do not follow (browsers have navigator.gpu). */
const WEBGPU_PACKAGE = 'webgpu';

let gpuRef: unknown = null;
async function useWebgpu(): Promise<void> {
  if (tf.findBackend('webgpu') === null) {
    if (!inBrowser) {
      const { create, globals } = (await import(/* @vite-ignore */ WEBGPU_PACKAGE)) as typeof import('webgpu');
      Object.assign(globalThis, globals);
      gpuRef = create([]);
      Object.defineProperty(globalThis, 'navigator', { value: { gpu: gpuRef, userAgent: 'node' }, configurable: true, writable: true });
    }
    await import('@tensorflow/tfjs-backend-webgpu');
  }
  if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs could not initialise its webgpu backend although a WebGPU adapter exists');
  await tf.ready();
  // tfjs runs ops on small host-resident inputs (< 1000 elements) on the CPU; these tiny models would then keep
  // their factors on the host. Off, every op runs on the GPU and the GPU factor path is what gets tested.
  tf.env().set('WEBGPU_CPU_FORWARD', false);
}

async function useCpu(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
}

type Spec = { model: () => LayersModel; n: number; inShape: number[]; fngd: TrainerFngdOptions; factors: number };
const SPECS: Record<'mlp' | 'cnn', Spec> = {
  mlp: { model: () => mlp(6, 5, 3, 2), n: 12, inShape: [6], fngd: { learningRate: 0.5, damping: 0.1, mode: 'global' }, factors: 4 },
  cnn: { model: () => cnn(4), n: 8, inShape: [6, 6, 2], fngd: { learningRate: 0.5, damping: 0.1, mode: 'layerwise' }, factors: 6 },
};

/** Host data for a batch, deterministic. */
function hostBatch(n: number, inShape: number[], classes = 3): { x: Float32Array; y: Float32Array } {
  const size = inShape.reduce((p, v) => p * v, 1);
  const x = Float32Array.from({ length: n * size }, (_, i) => Math.sin(0.37 * i + 0.11) + 0.3 * Math.cos(1.3 * i));
  const y = new Float32Array(n * classes);
  for (let i = 0; i < n; i++) y[i * classes + ((i * 7 + 3) % classes)] = 1;
  return { x, y };
}

/** Builds the model on the current backend with the given initial weights (or its seeded ones). */
function build(spec: Spec, weights: Float32Array[] | null): LayersModel {
  const m = spec.model();
  if (weights) m.setWeights(m.getWeights().map((w, i) => tf.tensor(weights[i] as Float32Array, w.shape)));
  return m;
}

/** Weights, read with awaited `data()` (tfjs webgpu has no `dataSync` in Node: no OffscreenCanvas). */
async function params(m: LayersModel): Promise<number[]> {
  const out: number[] = [];
  for (const w of m.getWeights()) out.push(...(await w.data()));
  return out;
}

/** One FNGD step (epoch 0, fresh factors) on the current backend; returns initial weights and the result. */
async function oneStep(spec: Spec, init: Float32Array[] | null): Promise<{ init: Float32Array[]; after: number[]; loss: number }> {
  const m = build(spec, init);
  const w0 = await Promise.all(m.getWeights().map(async (w) => Float32Array.from(await w.data())));
  const { x, y } = hostBatch(spec.n, spec.inShape);
  const xt = tf.tensor(x, [spec.n, ...spec.inShape]);
  const yt = tf.tensor(y, [spec.n, 3]);
  const tr = await FngdTrainer.create(m, { loss: 'softmax-cross-entropy', fngd: spec.fngd });
  const r = await tr.trainBatch(xt, yt, { batchKey: 0, epoch: 0 });
  expect(r.fresh).toBe(true);
  const after = await params(m);
  tr.dispose();
  tf.dispose([xt, yt]);
  m.dispose();
  return { init: w0, after, loss: r.loss };
}

describe.skipIf(!gpuOk && !requireGpu)('tfjs webgpu backend: factors stay on the GPU', () => {
  beforeAll(useWebgpu);
  afterEach(() => vi.restoreAllMocks());

  it('the linalg device is created on tfjs\'s own GPUDevice', async () => {
    await useWebgpu();
    const gpuDevice = tfGpuDevice();
    expect(gpuDevice).not.toBeNull();
    const dev = await linalgDeviceForTf();
    try {
      expect(dev.backend).toBe('webgpu');
      expect(dev.info.description).toMatch(/shared GPUDevice/);
      expect(sharesTfDevice(dev)).toBe(true);
      // a tfjs buffer copies into a matrix of this device (it would be a validation error across devices)
      const t = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
      const u = tf.mul(t, 2); // a kernel output: GPU-resident
      const { buffer, tensorRef } = u.dataToGPU() as unknown as { buffer: GPUBuffer; tensorRef: Tensor };
      expect(buffer.usage & GPUBufferUsage.COPY_SRC).toBe(GPUBufferUsage.COPY_SRC);
      const mat = dev.fromGpuBuffer(buffer, [2, 3]);
      tensorRef.dispose();
      tf.dispose([t, u]);
      expect(Array.from(await dev.read(mat))).toEqual([2, 4, 6, 8, 10, 12]);
      mat.dispose();
    } finally {
      dev.destroy();
    }
  });

  for (const name of ['mlp', 'cnn'] as const) {
    it(`one FNGD step (${name}) equals the tfjs-cpu result; factors move by dataToGPU + fromGpuBuffer, never data()`, async () => {
      const spec = SPECS[name];
      await useCpu();
      const ref = await oneStep(spec, null);

      await useWebgpu();
      const reads: { method: string; size: number }[] = [];
      const origData = tf.Tensor.prototype.data;
      const origSync = tf.Tensor.prototype.dataSync;
      vi.spyOn(tf.Tensor.prototype, 'data').mockImplementation(function (this: Tensor) {
        reads.push({ method: 'data', size: this.size });
        return origData.call(this);
      } as typeof origData);
      vi.spyOn(tf.Tensor.prototype, 'dataSync').mockImplementation(function (this: Tensor) {
        reads.push({ method: 'dataSync', size: this.size });
        return origSync.call(this);
      } as typeof origSync);
      const toGpu: { usage: number; ref: Tensor }[] = [];
      const origToGpu = tf.Tensor.prototype.dataToGPU;
      vi.spyOn(tf.Tensor.prototype, 'dataToGPU').mockImplementation(function (this: Tensor, o?: unknown) {
        const r = origToGpu.call(this, o as never) as unknown as { buffer: GPUBuffer; tensorRef: Tensor };
        toGpu.push({ usage: r.buffer.usage, ref: r.tensorRef });
        return r as never;
      } as typeof origToGpu);
      const imports: boolean[] = [];
      const origImport = LinalgDevice.prototype.fromGpuBuffer;
      vi.spyOn(LinalgDevice.prototype, 'fromGpuBuffer').mockImplementation(function (this: LinalgDevice, ...a: Parameters<typeof origImport>) {
        imports.push(sharesTfDevice(this));
        return origImport.apply(this, a);
      });

      // the step (weights set before the spies count; params read after)
      const m = build(spec, ref.init);
      const { x, y } = hostBatch(spec.n, spec.inShape);
      const xt = tf.tensor(x, [spec.n, ...spec.inShape]);
      const yt = tf.tensor(y, [spec.n, 3]);
      const tr = await FngdTrainer.create(m, { loss: 'softmax-cross-entropy', fngd: spec.fngd });
      reads.length = 0;
      const r = await tr.trainBatch(xt, yt, { batchKey: 0, epoch: 0 });
      const stepReads = reads.slice();
      vi.restoreAllMocks();
      expect(r.fresh).toBe(true);

      // factors: one dataToGPU per factor, COPY_SRC buffers, every tensorRef released; none read to the host
      expect(toGpu).toHaveLength(spec.factors);
      for (const g of toGpu) {
        expect(g.usage & GPUBufferUsage.COPY_SRC).toBe(GPUBufferUsage.COPY_SRC);
        expect(g.ref.isDisposed).toBe(true);
      }
      expect(imports).toEqual(new Array<boolean>(spec.factors).fill(true));
      // a fresh step reads Σℓ (capture), then trainBatch's target check (one flag) with the step's [finite(p),
      // finite(p'), ‖d‖] in one stack — nothing larger, nothing synchronous
      expect(stepReads.map((q) => q.size)).toEqual([1, 4]);
      expect(stepReads.every((q) => q.method === 'data')).toBe(true);

      expect(Math.abs(r.loss - ref.loss)).toBeLessThan(1e-5 * Math.max(1, Math.abs(ref.loss)));
      const err = relErr(await params(m), ref.after);
      expect(err).toBeLessThan(1e-4);
      tr.dispose();
      tf.dispose([xt, yt]);
      m.dispose();
    });
  }

  it('a cached step reads once (Σℓ with the step\'s scalars); the guard, clipNorm and momentum run on the GPU and match tfjs-cpu', async () => {
    const spec = SPECS.mlp;
    // clipNorm small enough to clip every step, a guard factor small enough to cap the reused direction
    const fngd: TrainerFngdOptions = { ...spec.fngd, momentum: 0.9, clipNorm: 0.01, guard: { factor: 0.5 } };
    const { x, y } = hostBatch(spec.n, spec.inShape);
    const run = async (counted: boolean, w0: Float32Array[] | null): Promise<{ init: Float32Array[]; after: number[]; losses: number[]; reads: number[][]; clipped: unknown; capped: number }> => {
      const m = build(spec, w0);
      const init = await Promise.all(m.getWeights().map(async (w) => Float32Array.from(await w.data())));
      const xt = tf.tensor(x, [spec.n, ...spec.inShape]);
      const yt = tf.tensor(y, [spec.n, 3]);
      const tr = await FngdTrainer.create(m, { loss: 'softmax-cross-entropy', fngd });
      const losses: number[] = [];
      const reads: number[][] = [];
      for (let e = 0; e < 3; e++) {
        const sizes: number[] = [];
        if (counted) {
          const orig = tf.Tensor.prototype.data;
          vi.spyOn(tf.Tensor.prototype, 'data').mockImplementation(function (this: Tensor) {
            sizes.push(this.size);
            return orig.call(this);
          } as typeof orig);
          vi.spyOn(tf.Tensor.prototype, 'dataSync').mockImplementation(() => {
            throw new Error('dataSync in a step');
          });
        }
        const r = await tr.trainBatch(xt, yt, { batchKey: 0, epoch: e });
        vi.restoreAllMocks();
        expect(r.fresh).toBe(e === 0);
        losses.push(r.loss);
        reads.push(sizes);
      }
      const after = await params(m);
      const s = tr.stats!;
      expect(s.guard.reusedSteps).toBe(2);
      const clipped = (tr.optimizer!.state!.inner[1] as { clipped: unknown }).clipped;
      tr.dispose();
      tf.dispose([xt, yt]);
      m.dispose();
      return { init, after, losses, reads, clipped, capped: s.guard.capped };
    };
    await useCpu();
    const ref = await run(false, null);
    await useWebgpu();
    const gpu = await run(true, ref.init);
    // every step clipped (a number in the committed state, read with the step), as on the CPU
    expect(ref.clipped).toBe(3);
    expect(gpu.clipped).toBe(3);
    // the guard capped the reused direction on both
    expect(ref.capped).toBeGreaterThan(0);
    expect(gpu.capped).toBe(ref.capped);
    // trainBatch's target check (one flag) rides on the step's read: fresh, Σℓ (capture) then [flag, the step's
    // scalars]; cached, one read of [flag, Σℓ, finite(p), finite(p'), ‖d‖, guard factor, capped count, clipped count]
    expect(gpu.reads).toEqual([[1, 5], [8], [8]]);
    for (let i = 0; i < 3; i++) expect(Math.abs((gpu.losses[i] as number) - (ref.losses[i] as number))).toBeLessThan(1e-5);
    expect(relErr(gpu.after, ref.after)).toBeLessThan(1e-4);
  });

  it('no tensor leaks over a few steps (fresh, cached and always-refreshed coefficients)', async () => {
    await useWebgpu();
    const spec = SPECS.mlp;
    const { x, y } = hostBatch(spec.n, spec.inShape);
    const xt = tf.tensor(x, [spec.n, ...spec.inShape]);
    const yt = tf.tensor(y, [spec.n, 3]);
    for (const fngd of [
      { ...spec.fngd, momentum: 0.9 },
      { ...spec.fngd, momentum: 0.9, clipNorm: 0.01, guard: { factor: 0.5 } },
      { ...spec.fngd, mode: 'layerwise' as const, refresh: 'always' as const },
    ]) {
      const m = build(spec, null);
      const tr = await FngdTrainer.create(m, { loss: 'softmax-cross-entropy', fngd });
      await tr.trainBatch(xt, yt, { batchKey: 0, epoch: 0 }); // warm-up: optimizer state exists
      const before = tf.memory().numTensors;
      for (let s = 0; s < 4; s++) {
        await tr.trainBatch(xt, yt, { batchKey: s % 2, epoch: s < 2 ? 0 : 1 });
        expect(tf.memory().numTensors).toBe(before);
      }
      tr.dispose();
      m.dispose();
    }
    tf.dispose([xt, yt]);
  });

  it('the target check on the GPU: bad class indices throw the TargetError naming the first bad one, nothing changes', async () => {
    await useWebgpu();
    const spec = SPECS.mlp;
    const { x, y } = hostBatch(spec.n, spec.inShape);
    const xt = tf.tensor(x, [spec.n, ...spec.inShape]);
    const yt = tf.tensor(y, [spec.n, 3]);
    const m = build(spec, null);
    const tr = await FngdTrainer.create(m, { loss: 'softmax-cross-entropy', fngd: spec.fngd });
    await tr.trainBatch(xt, yt, { batchKey: 0, epoch: 0 });
    const w = await params(m);
    const stats = JSON.stringify(tr.stats);
    const cached = JSON.stringify([tr.optimizer!.cached(0), tr.optimizer!.cached(1)]);
    const before = tf.memory().numTensors;
    for (const c of [3, -1, 100000, -2147483648]) {
      for (const key of [0, 1]) {
        const idx = tf.tensor1d(Array.from({ length: spec.n }, (_, i) => (i === 5 ? c : i === 9 ? 7 : i % 3)), 'int32');
        await expect(tr.trainBatch(xt, idx, { batchKey: key, epoch: 1 })).rejects.toThrow(
          `trainBatch: targets int32[${spec.n}] do not fit the model output float32[${spec.n},3]: class index ${c} of sample 5 is outside [0, 3)`,
        );
        idx.dispose();
      }
    }
    const nan = tf.tensor(Float32Array.from(y, (v, i) => (i === 7 ? NaN : v)), [spec.n, 3]);
    await expect(tr.trainBatch(xt, nan, { batchKey: 0, epoch: 1 })).rejects.toThrow(/targets hold NaN or ±Infinity/);
    nan.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(await params(m)).toEqual(w);
    expect(JSON.stringify(tr.stats)).toBe(stats);
    expect(JSON.stringify([tr.optimizer!.cached(0), tr.optimizer!.cached(1)])).toBe(cached);
    tr.dispose();
    m.dispose();
    tf.dispose([xt, yt]);
  });
});

describe.skipIf(!gpuOk && !requireGpu)('tfjs webgpu backend: graphs and the new layer kinds', () => {
  afterEach(() => vi.restoreAllMocks());
  const cases: [string, () => LayersModel, () => [Tensor, Tensor]][] = [
    ['residual DAG with a shared layer and a nested model', () => residualDag(3), () => classData(9, [5], 3, 4)],
    ['Embedding + Conv1D + LayerNorm', () => sequenceNet(11, 7, 2), () => tokenData(7, 7, 11, 3)],
    ['BatchNorm ResNet-style CNN', () => bnResnet(3), () => classData(6, [6, 6, 2], 3, 5)],
    ['LSTM text classifier', () => lstmText(13, 6, 2), () => tokenData(7, 6, 13, 3, 5)],
    ['tiny transformer encoder', () => tinyTransformer(17, 6, 8, 2), () => tokenData(7, 6, 17, 3, 9)],
    ['MobileNet-style block', () => mobileBlock(3), () => classData(6, [7, 7, 2], 3, 12)],
    ['Conv2DTranspose decoder', () => deconvNet(2), () => classData(6, [6, 6, 2], 3, 14)],
  ];
  for (const [name, make, data] of cases) {
    it(`${name}: one FNGD step and one cached step equal the tfjs-cpu result`, async () => {
      const run = async (): Promise<number[]> => {
        const m = make();
        const [x, y] = data();
        const tr = await FngdTrainer.create(m, { loss: 'softmax-cross-entropy', fngd: { learningRate: 0.5, damping: 0.1 } });
        await tr.trainBatch(x, y, { batchKey: 0, epoch: 0 });
        await tr.trainBatch(x, y, { batchKey: 0, epoch: 1 });
        const p = await params(m);
        tr.dispose();
        m.dispose();
        tf.dispose([x, y]);
        return p;
      };
      await useCpu();
      const want = await run();
      await useWebgpu();
      const got = await run();
      expect(relErr(got, want)).toBeLessThan(1e-3);
    });
  }
});

describe.skipIf(!gpuOk && !requireGpu)('tfjs webgpu backend: KFAC diagonal block, several inputs and outputs, skipped layers, registered optimizers', () => {
  const cases: [string, () => LayersModel, () => [TrainerData, TrainerData], FngdTrainerOptions][] = [
    ['KFAC diagonal block (Embedding, LayerNorm)', () => sequenceNet(11, 7, 2), () => tokenData(7, 7, 11, 3), { loss: 'softmax-cross-entropy', kfac: { nonKronecker: 'diagonal', learningRate: 0.05 } }],
    ['KFAC diagonal block (depthwise, PReLU)', () => mobileBlock(3), () => classData(6, [7, 7, 2], 3, 12), { loss: 'softmax-cross-entropy', kfac: { nonKronecker: 'diagonal', learningRate: 0.05 } }],
    ['two inputs, two outputs, a skipped layer (FNGD)', () => twoTower(13, 6, 2), () => twoTowerData(8), { loss: ['softmax-cross-entropy', 'mse'], lossWeights: [1, 0.3], skipLayers: ['feat'], fngd: { learningRate: 0.5, damping: 0.1 } }],
    // registered optimizers: host moments read from the GPU once per step; Muon's Newton–Schulz on the shared device
    ['AdamW (host moments)', () => mlp(6, 5, 3, 2), () => classData(12, [6], 3, 5), { loss: 'softmax-cross-entropy', optimizer: { kind: 'adamw', learningRate: 0.01 } }],
    ['Muon (Newton–Schulz on the linear-algebra device)', () => cnn(4), () => classData(8, [6, 6, 2], 3, 6), { loss: 'softmax-cross-entropy', optimizer: { kind: 'muon', learningRate: 0.05, outputLayer: 'muon' } }],
    ['Shampoo (statistics and preconditioning on the linear-algebra device, roots on the host)', () => cnn(4), () => classData(8, [6, 6, 2], 3, 6), { loss: 'softmax-cross-entropy', optimizer: { kind: 'shampoo', learningRate: 0.01, blockSize: 8, preconditionFrequency: 1, startPreconditioningStep: 1, epsilon: 1e-6 } }],
    ["KFAC's sampled Fisher (the same draw on both backends)", () => mlp(6, 5, 3, 2), () => classData(12, [6], 3, 7), { loss: 'softmax-cross-entropy', kfac: { learningRate: 0.05, fisher: 'sampled' } }],
  ];
  for (const [name, make, data, options] of cases) {
    it(`${name}: two steps equal the tfjs-cpu result`, async () => {
      const run = async (): Promise<number[]> => {
        const m = make();
        const [x, y] = data();
        const tr = await FngdTrainer.create(m, options);
        await tr.trainBatch(x, y, { batchKey: 0, epoch: 0 });
        await tr.trainBatch(x, y, { batchKey: 0, epoch: 1 });
        const p = await params(m);
        tr.dispose();
        m.dispose();
        tf.dispose([x, y] as unknown as Tensor[]);
        return p;
      };
      await useCpu();
      const want = await run();
      await useWebgpu();
      const got = await run();
      expect(relErr(got, want)).toBeLessThan(1e-3);
    });
  }
});
