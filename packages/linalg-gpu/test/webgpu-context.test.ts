/**
 * The WebGPU execution context: pooled buffers stay correct across chained, disposed and re-uploaded
 * operands; shader/validation errors surface as GpuError; a shared GPUDevice is used and not destroyed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuError, InvalidArgumentError, LinalgDevice, createDevice } from '../src/index.js';
import { WebGpuBackend } from '../src/webgpu/backend.js';
import { Uniforms } from '../src/webgpu/uniforms.js';
import { webgpuAvailable } from './devices.js';

const available = await webgpuAvailable();

describe.runIf(available)('webgpu context', () => {
  let backend: WebGpuBackend;
  let dev: LinalgDevice;
  beforeAll(async () => {
    backend = await WebGpuBackend.create({});
    dev = new LinalgDevice(backend);
  });
  afterAll(() => dev.destroy());

  it('reuses pooled buffers without corrupting pending work', async () => {
    // x is consumed by a pending kernel, disposed, and its buffer immediately reused by an upload:
    // the upload must not overwrite x before the pending kernel has read it.
    const x = dev.matrix([1, 2, 3, 4], [2, 2]);
    const y = dev.scale(x, 10);
    x.dispose();
    const z = dev.matrix([-1, -1, -1, -1], [2, 2]);
    const w = dev.add(y, z);
    expect(Array.from(await dev.read(w))).toEqual([9, 19, 29, 39]);
    expect(Array.from(await dev.read(y))).toEqual([10, 20, 30, 40]);
  });

  it('chains many operations into one submission and reads once', async () => {
    let m = dev.matrix([1, 1, 1, 1], [2, 2]);
    for (let i = 0; i < 50; i++) {
      const next = dev.scale(m, 1, 1);
      m.dispose();
      m = next;
    }
    expect(Array.from(await dev.read(m))).toEqual([51, 51, 51, 51]);
  });

  it('surfaces shader compilation errors as GpuError', async () => {
    const ctx = backend.ctx;
    const p = ctx.pipeline('broken-test-kernel', '@compute @workgroup_size(1) fn main() { let x: f32 = undefined_symbol; }');
    const out = ctx.alloc(16);
    try {
      ctx.dispatch(p, new Uniforms().u32(1), [], [1]);
    } catch {
      // some implementations reject the invalid pipeline at bind time already
    }
    await expect(ctx.read(out, 16)).rejects.toBeInstanceOf(GpuError);
    ctx.free(out);
    // the device keeps working afterwards
    expect(Array.from(await dev.read(dev.scale(dev.matrix([2], [1, 1]), 3)))).toEqual([6]);
  });

  it('keeps a GPU error raised before hundreds of unread dispatches (pending error scopes are folded)', async () => {
    const ctx = backend.ctx;
    const p = ctx.pipeline('broken-test-kernel-2', '@compute @workgroup_size(1) fn main() { let y: f32 = nope; }');
    const out = ctx.alloc(16);
    try {
      ctx.dispatch(p, new Uniforms().u32(1), [], [1]);
    } catch {
      // some implementations reject the invalid pipeline at bind time already
    }
    let m = dev.matrix([1], [1, 1]);
    for (let i = 0; i < 600; i++) {
      const next = dev.scale(m, 1, 1); // one error scope each, never read in between
      m.dispose();
      m = next;
    }
    await expect(ctx.read(out, 16)).rejects.toBeInstanceOf(GpuError);
    ctx.free(out);
    expect(Array.from(await dev.read(m))).toEqual([601]);
    m.dispose();
  });

  it('imports a foreign GPUBuffer of the same device without a CPU round trip', async () => {
    const device = backend.ctx.device;
    const src = device.createBuffer({ size: 64, usage: 0x80 | 0x04 | 0x08 }); // STORAGE | COPY_SRC | COPY_DST
    device.queue.writeBuffer(src, 0, new Float32Array([9, 9, 1, 2, 3, 4, 5, 6, 9, 9, 9, 9, 9, 9, 9, 9]));
    const m = dev.fromGpuBuffer(src, [2, 3], { byteOffset: 8 });
    src.destroy(); // the copy was submitted already: the source may go at once
    expect(m.shape).toEqual([2, 3]);
    expect(Array.from(await dev.read(m))).toEqual([1, 2, 3, 4, 5, 6]);
    const small = device.createBuffer({ size: 16, usage: 0x80 | 0x04 });
    expect(() => dev.fromGpuBuffer(small, [2, 3])).toThrow(/needs 24 bytes from offset 0, the buffer holds 16/);
    expect(() => dev.fromGpuBuffer(small, [1, 1], { byteOffset: 2 })).toThrow(InvalidArgumentError);
    const noCopy = device.createBuffer({ size: 16, usage: 0x80 });
    expect(() => dev.fromGpuBuffer(noCopy, [1, 1])).toThrow(/COPY_SRC/);
    small.destroy();
    noCopy.destroy();
  });

  it('runs on a shared GPUDevice and leaves it alive on destroy', async () => {
    const shared = backend.ctx.device;
    const other = await createDevice({ backend: 'webgpu', gpuDevice: shared });
    expect(other.backend).toBe('webgpu');
    expect(Array.from(await other.read(other.add(other.matrix([1, 2], [1, 2]), other.matrix([3, 4], [1, 2]))))).toEqual([4, 6]);
    other.destroy();
    // the shared device still works for its owner
    expect(Array.from(await dev.read(dev.scale(dev.matrix([1], [1, 1]), 5)))).toEqual([5]);
  });
});
