/**
 * WebGPU device loss: a GPUDevice destroyed between two operations (by its owner, or behind a shared device)
 * makes every later operation of the linear-algebra device, and every use of its matrices, throw
 * DeviceLostError — reads in flight reject instead of hanging or returning stale data — and a new device
 * works afterwards.
 */
import { describe, expect, it } from 'vitest';
import { createDevice, DeviceLostError, DisposedError, LinalgDevice, type Matrix } from '../src/index.js';
import { WebGpuBackend } from '../src/webgpu/backend.js';
import { webgpuAvailable } from './devices.js';
import { randn, randomSpd, refGemm, relError } from './reference.js';

const available = await webgpuAvailable();

/** Rejects when `p` does not settle within `ms` (a hang is a failure, not a timeout of the whole suite). */
function within<T>(p: Promise<T>, ms = 5000): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`did not settle in ${ms} ms`)), ms))]);
}

/** Every operation of `dev` on `m` (and `dev` alone) throws DeviceLostError at once. */
function expectAllThrowLost(dev: LinalgDevice, m: Matrix): void {
  const ops: [string, () => unknown][] = [
    ['matrix', () => dev.matrix([1, 2], [1, 2])],
    ['full', () => dev.full([2, 2], 1)],
    ['gemm', () => dev.gemm(m, m, { transB: true })],
    ['gram', () => dev.gram(m)],
    ['cholesky', () => dev.cholesky(m)],
    ['triangularSolve', () => dev.triangularSolve(m, m)],
    ['choleskySolve', () => dev.choleskySolve(m, m)],
    ['add', () => dev.add(m, m)],
    ['scale', () => dev.scale(m, 2)],
    ['mul', () => dev.mul(m, m)],
    ['sumBatch', () => dev.sumBatch(m)],
    ['stack', () => dev.stack([m])],
    ['take', () => dev.take(m, [0])],
    ['reshape', () => dev.reshape(m, [m.size, 1])],
  ];
  for (const [name, op] of ops) {
    let thrown: unknown;
    try {
      op();
    } catch (err) {
      thrown = err;
    }
    expect(thrown, name).toBeInstanceOf(DeviceLostError);
    expect((thrown as DeviceLostError).code, name).toBe('DEVICE_LOST');
  }
}

describe.runIf(available)('webgpu device loss', () => {
  it('GPUDevice.destroy() between two operations: the next read rejects, then everything throws DeviceLostError', async () => {
    const backend = await WebGpuBackend.create({});
    const dev = new LinalgDevice(backend);
    const n = 6;
    const a = dev.matrix(randomSpd(1, n, 1), [n, n]);
    const g = dev.gram(a);
    const first = await dev.read(g); // works before the loss
    expect(first.length).toBe(n * n);
    const storagesBefore = dev.stats().liveStorages;
    backend.ctx.device.destroy(); // the owner of the GPUDevice pulls it away
    // recorded before the loss is noticed: enqueued on a dead device, never read back as data
    const x = dev.cholesky(g);
    const err = await within(dev.read(x).catch((e: unknown) => e));
    expect(err).toBeInstanceOf(DeviceLostError);
    expect((err as DeviceLostError).reason.length).toBeGreaterThan(0);
    expect(dev.isLost).toBe(true);
    for (const m of [a, g, x]) expect(m.isLost).toBe(true);
    expect(a.isDisposed).toBe(false);
    expectAllThrowLost(dev, g);
    await expect(within(dev.read(a))).rejects.toBeInstanceOf(DeviceLostError);
    await expect(within(dev.readInfo(x))).rejects.toBeInstanceOf(DeviceLostError);
    await expect(within(dev.sync())).rejects.toBeInstanceOf(DeviceLostError);
    // nothing was created by the refused operations; disposing stays allowed and releases the storages
    expect(dev.stats().liveStorages).toBe(storagesBefore + 2); // x, recorded after the loss: data + status
    for (const m of [a, g, x]) m.dispose();
    expect(dev.stats().liveStorages).toBe(0);
    expect(a.isDisposed).toBe(true);
    dev.destroy();
    // after destroy the device reports destruction first, like any destroyed device
    expect(() => dev.gram(g)).toThrow(DisposedError);
  });

  it('noticed through GPUDevice.lost without any read: the next synchronous operation throws', async () => {
    const gpuDevice = (await WebGpuBackend.create({})).ctx.device; // a device the test owns and shares
    const dev = await createDevice({ backend: 'webgpu', gpuDevice });
    const m = dev.matrix(randn(12, 2), [3, 4]);
    expect((await dev.read(dev.scale(m, 2))).length).toBe(12);
    gpuDevice.destroy();
    const info = await within(gpuDevice.lost);
    expect(info.reason).toBe('destroyed');
    await new Promise((r) => setTimeout(r, 0)); // the device's own handler was registered first
    expect(dev.isLost).toBe(true);
    expectAllThrowLost(dev, m);
    await expect(within(dev.read(m))).rejects.toBeInstanceOf(DeviceLostError);
    m.dispose();
    dev.destroy();
  });

  it('sync() notices a loss that no read has seen yet', async () => {
    const backend = await WebGpuBackend.create({});
    const dev = new LinalgDevice(backend);
    const m = dev.matrix([1, 2, 3, 4], [2, 2]);
    await dev.sync();
    backend.ctx.device.destroy();
    const y = dev.add(m, m);
    await expect(within(dev.sync())).rejects.toBeInstanceOf(DeviceLostError);
    expect(dev.isLost).toBe(true);
    expect(() => dev.add(m, y)).toThrow(DeviceLostError);
    dev.destroy();
  });

  it('a new device created after the loss works', async () => {
    const backend = await WebGpuBackend.create({});
    const lost = new LinalgDevice(backend);
    backend.ctx.device.destroy();
    await expect(within(lost.sync())).rejects.toBeInstanceOf(DeviceLostError);
    const dev = await createDevice({ backend: 'webgpu' });
    expect(dev.isLost).toBe(false);
    const a = randn(5 * 7, 3);
    const b = randn(7 * 3, 4);
    const c = dev.gemm(dev.matrix(a, [5, 7]), dev.matrix(b, [7, 3]));
    expect(relError(await dev.read(c), refGemm(a, b, 5, 3, 7, {}))).toBeLessThan(1e-6);
    dev.destroy();
    lost.destroy();
  });
});
