/**
 * The WebGPU execution context: device acquisition with the adapter's real limits, a per-device pipeline
 * cache, a buffer pool, one command encoder per chain of operations, and readback.
 *
 * Ordering rules that keep pooled buffers correct:
 * - all kernels of a chain are recorded into one encoder and submitted together (on `read` or `flush`);
 * - a storage buffer freed while the pending encoder still uses it may be reused by a later kernel of the
 *   same encoder (commands execute in order), but `queue.writeBuffer` runs *before* pending commands, so
 *   uploads flush the encoder first;
 * - uniform buffers are never rewritten while a pending encoder references them.
 *
 * Device loss: `GPUDevice.lost` settling, or a readback whose mapping fails, marks the context lost; from then
 * on every call throws {@link DeviceLostError}. Work recorded between the loss and its discovery is discarded
 * by the implementation and never read back.
 * @internal
 * @module
 */
import { BackendUnavailableError, DeviceLimitError, DeviceLostError, GpuError, InvalidArgumentError } from '../errors.js';
import { loadGpu, NO_ADAPTER_HINT } from '#platform';
import { BufferUsage, MapMode, UNIFORM_BYTES } from './constants.js';
import type { Uniforms } from './uniforms.js';

/** Options to acquire a device. */
export interface AcquireOptions {
  readonly gpuDevice?: GPUDevice;
  readonly gpu?: GPU;
  readonly powerPreference?: GPUPowerPreference;
  /**
   * Caps the storage-binding size the kernels plan with, below the device's `maxStorageBufferBindingSize`
   * (tests of the paths that split work over several bindings). A multiple of 16, at least 256.
   */
  readonly maxBindingBytes?: number;
}

/** A sub-range of a buffer to bind (bytes; offset a multiple of `minStorageBufferOffsetAlignment`). */
export interface BufferRange {
  readonly buffer: GPUBuffer;
  readonly offset: number;
  readonly size: number;
}

const pipelineCache = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

/** Limits we ask the adapter for at their real (adapter) value instead of the WebGPU defaults. */
const RAISED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

const STORAGE_USAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;

/** Size class of a pooled buffer: powers of two up to 1 MiB, then steps of 1/8 of the next power of two. */
function sizeClass(bytes: number): number {
  const b = Math.max(256, bytes);
  const p = 2 ** Math.ceil(Math.log2(b));
  if (p <= 1 << 20) return p;
  const step = p / 16;
  return Math.ceil(b / step) * step;
}

/** Error-scope promises kept between reads before they are folded into one (see `#pushError`). */
const MAX_PENDING_ERRORS = 256;

/** The errors of settled error scopes; a scope that rejects (a lost device) counts as an error. */
async function collect(errors: readonly Promise<GPUError | null>[]): Promise<GPUError[]> {
  const settled = await Promise.all(errors.map((p) => p.catch((err: unknown) => ({ message: String(err) }) as GPUError)));
  return settled.filter((e): e is GPUError => e !== null);
}

export class GpuContext {
  readonly device: GPUDevice;
  readonly limits: GPUSupportedLimits;
  readonly description: string;
  /** Largest float32 element count of one buffer (one matrix). */
  readonly maxElements: number;
  /**
   * Largest storage binding the kernels use, in bytes: the device's `maxStorageBufferBindingSize` (or the
   * `maxBindingBytes` cap), rounded down to a multiple of 16.
   */
  readonly bindingLimit: number;
  /** `minStorageBufferOffsetAlignment` of the device: binding offsets are multiples of it. */
  readonly bindingAlignment: number;
  readonly #ownsDevice: boolean;
  /** Keeps Node's GPU instance alive while the device is in use; dropped on destroy. */
  #gpuRef: unknown;
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  readonly #free = new Map<number, GPUBuffer[]>();
  #freeBytes = 0;
  readonly #uniformFree: GPUBuffer[] = [];
  #uniformPending: GPUBuffer[] = [];
  readonly #staging = new Map<number, GPUBuffer[]>();
  #errors: Promise<GPUError | null>[] = [];
  /** GPU buffers created by this context and not destroyed (pool, matrices, uniforms, staging, probe). */
  #liveBuffers = 0;
  /** A 4-byte mappable buffer whose mapping tells {@link GpuContext.sync} whether the device still exists. */
  #probe: GPUBuffer | null = null;
  #lost: string | null = null;
  #destroyed = false;
  /** Most bytes kept in the free pool before buffers are destroyed instead. */
  static poolCapBytes = 512 * 2 ** 20;

  private constructor(device: GPUDevice, ownsDevice: boolean, description: string, gpuRef: unknown, maxBindingBytes?: number) {
    this.device = device;
    this.limits = device.limits;
    this.description = description;
    this.#ownsDevice = ownsDevice;
    this.#gpuRef = gpuRef;
    const binding = Math.min(device.limits.maxStorageBufferBindingSize, maxBindingBytes ?? Infinity);
    this.bindingLimit = Math.floor(binding / 16) * 16;
    this.bindingAlignment = device.limits.minStorageBufferOffsetAlignment;
    this.maxElements = Math.floor(device.limits.maxBufferSize / 4);
    void device.lost.then((info) => {
      this.#lost ??= `${String(info.reason)}: ${info.message}`;
    });
  }

  /** Acquires a device: the given one, or a new one from `gpu` / `navigator.gpu` / (Node) the `webgpu` package. */
  static async acquire(options: AcquireOptions = {}): Promise<GpuContext> {
    const cap = options.maxBindingBytes;
    if (cap !== undefined && (!Number.isSafeInteger(cap) || cap < 256 || cap % 16 !== 0)) {
      throw new InvalidArgumentError(`maxBindingBytes must be a multiple of 16 of at least 256, got ${String(cap)}`);
    }
    if (options.gpuDevice) return new GpuContext(options.gpuDevice, false, 'shared GPUDevice', null, cap);
    let gpu = options.gpu ?? (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
    let gpuRef: unknown = null;
    if (!gpu) {
      gpu = await loadGpu();
      gpuRef = gpu;
    }
    let adapter: GPUAdapter | null = null;
    try {
      adapter = await gpu.requestAdapter(options.powerPreference ? { powerPreference: options.powerPreference } : {});
    } catch (err) {
      throw new BackendUnavailableError(`WebGPU adapter request failed: ${String(err)}`);
    }
    if (!adapter) throw new BackendUnavailableError(NO_ADAPTER_HINT);
    const requiredLimits: Record<string, number> = {};
    for (const name of RAISED_LIMITS) {
      const v = adapter.limits[name];
      if (typeof v === 'number') requiredLimits[name] = v;
    }
    let device: GPUDevice;
    try {
      device = await adapter.requestDevice({ requiredLimits });
    } catch (err) {
      throw new BackendUnavailableError(`WebGPU device request failed: ${String(err)}`);
    }
    const info = adapter.info;
    const description =
      [info?.vendor, info?.architecture, info?.device, info?.description].filter((s) => s).join(' ') || 'WebGPU adapter';
    return new GpuContext(device, true, description, gpuRef, cap);
  }

  /** A compute pipeline for `code`, cached per device by `key` (the kernel's name; sizes are uniforms). */
  pipeline(key: string, code: string): GPUComputePipeline {
    let cache = pipelineCache.get(this.device);
    if (!cache) pipelineCache.set(this.device, (cache = new Map()));
    let p = cache.get(key);
    if (!p) {
      this.device.pushErrorScope('validation');
      const module = this.device.createShaderModule({ code, label: key });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key });
      const scope = this.device.popErrorScope();
      this.#errors.push(
        scope.then(async (e) => {
          if (!e) return null;
          const infoText = await module
            .getCompilationInfo()
            .then((ci) => ci.messages.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join('\n'))
            .catch(() => '');
          cache.delete(key);
          return { message: `pipeline '${key}': ${e.message}\n${infoText}` } as GPUError;
        }),
      );
      cache.set(key, p);
    }
    return p;
  }

  /** A storage buffer of at least `bytes` bytes from the pool (contents unspecified). */
  alloc(bytes: number): GPUBuffer {
    this.#live();
    const size = sizeClass(bytes);
    if (size > this.limits.maxBufferSize) {
      throw new DeviceLimitError(`buffer of ${bytes} bytes exceeds maxBufferSize ${this.limits.maxBufferSize}`);
    }
    const list = this.#free.get(size);
    const reused = list?.pop();
    if (reused) {
      this.#freeBytes -= size;
      return reused;
    }
    return this.#createBuffer(size, STORAGE_USAGE);
  }

  /** Why the device is gone, or null while it works. */
  get lostReason(): string | null {
    return this.#lost;
  }

  /** Buffer counts for diagnostics and leak tests. */
  stats(): { gpuBuffers: number; pooledBuffers: number } {
    let pooled = 0;
    for (const list of this.#free.values()) pooled += list.length;
    return { gpuBuffers: this.#liveBuffers, pooledBuffers: pooled };
  }

  /** Returns a buffer to the pool. */
  free(buffer: GPUBuffer): void {
    if (this.#destroyed) return;
    const size = buffer.size;
    if (this.#lost !== null) {
      // nothing will run on this device again: no pooling, no flush
      this.#destroyBuffer(buffer);
      return;
    }
    if (this.#freeBytes + size > GpuContext.poolCapBytes) {
      // Destroy only after pending work that may use it has been submitted.
      this.flush();
      this.#destroyBuffer(buffer);
      return;
    }
    let list = this.#free.get(size);
    if (!list) this.#free.set(size, (list = []));
    list.push(buffer);
    this.#freeBytes += size;
  }

  /** Uploads data into a pooled buffer (flushes pending commands first, see module notes). */
  upload(data: ArrayBufferView, bytes = data.byteLength): GPUBuffer {
    const buf = this.alloc(bytes);
    this.flush();
    if (bytes > 0) this.device.queue.writeBuffer(buf, 0, data.buffer, data.byteOffset, Math.ceil(bytes / 4) * 4);
    return buf;
  }

  /**
   * Copies `bytes` bytes of a foreign buffer (same device) into a pooled buffer and submits at once, so the
   * owner may release or reuse its buffer as soon as this returns.
   */
  copyIn(src: GPUBuffer, srcOffset: number, bytes: number): GPUBuffer {
    const buf = this.alloc(bytes);
    this.copy(src, srcOffset, buf, 0, bytes);
    this.flush();
    return buf;
  }

  /** Zero-filled buffer (recorded in the pending encoder, so it is ordered with the kernels). */
  zeros(bytes: number): GPUBuffer {
    const buf = this.alloc(bytes);
    this.#endPass();
    this.#enc().clearBuffer(buf, 0, Math.ceil(bytes / 4) * 4);
    return buf;
  }

  /**
   * Records one compute dispatch: binding 0 is the uniform block, bindings 1… the storage buffers. A whole
   * buffer is bound from offset 0 up to {@link GpuContext.bindingLimit} bytes (kernels never reach past their
   * operands, which callers keep within that limit); a {@link BufferRange} binds exactly that range.
   */
  dispatch(
    pipeline: GPUComputePipeline,
    uniforms: Uniforms,
    buffers: readonly (GPUBuffer | BufferRange)[],
    workgroups: readonly [number, number?, number?],
  ): void {
    this.#live();
    const [x, y = 1, z = 1] = workgroups;
    const max = this.limits.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max || z > max) {
      throw new DeviceLimitError(`dispatch of [${x},${y},${z}] workgroups exceeds ${max} per dimension`);
    }
    if (x === 0 || y === 0 || z === 0) return;
    const storage: GPUBindGroupEntry[] = buffers.map((b, i) => {
      const range = 'buffer' in b ? b : { buffer: b, offset: 0, size: Math.min(b.size, this.bindingLimit) };
      if (range.size > this.bindingLimit || range.offset % this.bindingAlignment !== 0) {
        throw new DeviceLimitError(
          `binding of ${range.size} bytes at offset ${range.offset} exceeds the binding limit ${this.bindingLimit} or alignment ${this.bindingAlignment}`,
        );
      }
      return { binding: i + 1, resource: range };
    });
    const ubuf = this.#uniformFree.pop() ?? this.#createBuffer(UNIFORM_BYTES, BufferUsage.UNIFORM | BufferUsage.COPY_DST);
    this.device.queue.writeBuffer(ubuf, 0, uniforms.buffer, 0, uniforms.byteLength);
    this.#uniformPending.push(ubuf);
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: ubuf } }, ...storage];
    this.device.pushErrorScope('validation');
    const group = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    const pass = this.#computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(x, y, z);
    this.#pushError(this.device.popErrorScope());
  }

  /** Records a buffer-to-buffer copy. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.#endPass();
    this.#enc().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Submits the pending commands (no wait). */
  flush(): void {
    if (!this.#encoder) return;
    this.#endPass();
    const enc = this.#encoder;
    this.#encoder = null;
    this.device.pushErrorScope('validation');
    this.device.queue.submit([enc.finish()]);
    this.#pushError(this.device.popErrorScope());
    this.#uniformFree.push(...this.#uniformPending);
    this.#uniformPending = [];
  }

  /** Submits pending work and reads `bytes` bytes of `buffer` back. */
  async read(buffer: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    this.#live('read');
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const cls = sizeClass(size);
    const staging =
      this.#staging.get(cls)?.pop() ?? this.#createBuffer(cls, BufferUsage.MAP_READ | BufferUsage.COPY_DST);
    this.copy(buffer, 0, staging, 0, size);
    this.flush();
    const errors = this.#errors;
    this.#errors = [];
    try {
      await staging.mapAsync(MapMode.READ, 0, size);
    } catch (err) {
      // The staging buffer is ours and idle, so its mapping fails only when the submission was invalid (the
      // validation errors say why) or the device is gone.
      this.#destroyBuffer(staging);
      const found = await collect(errors);
      if (this.#lost === null && found.length > 0) throw new GpuError(found.map((e) => e.message).join('\n'));
      this.#lost ??= `a readback failed: ${String(err)}`;
      throw new DeviceLostError('read', this.#lost);
    }
    const out = staging.getMappedRange(0, size).slice(0, bytes);
    staging.unmap();
    let list = this.#staging.get(cls);
    if (!list) this.#staging.set(cls, (list = []));
    list.push(staging);
    await this.#throwErrors(errors);
    return out;
  }

  /** Submits pending work and waits for the queue to drain; throws errors the work raised. */
  async sync(): Promise<void> {
    this.#live('sync');
    this.flush();
    const errors = this.#errors;
    this.#errors = [];
    await this.device.queue.onSubmittedWorkDone();
    // onSubmittedWorkDone resolves on a destroyed device too; mapping a buffer does not.
    const probe = (this.#probe ??= this.#createBuffer(4, BufferUsage.MAP_READ));
    try {
      await probe.mapAsync(MapMode.READ, 0, 4);
      probe.unmap();
    } catch (err) {
      this.#lost ??= `a mapping failed: ${String(err)}`;
    }
    this.#live('sync');
    await this.#throwErrors(errors);
  }

  /** Releases pooled buffers, and the device if this context created it. */
  destroy(): void {
    if (this.#destroyed) return;
    this.flush();
    this.#destroyed = true;
    for (const list of [...this.#free.values(), ...this.#staging.values()]) for (const b of list) this.#destroyBuffer(b);
    for (const b of this.#uniformFree) this.#destroyBuffer(b);
    if (this.#probe) this.#destroyBuffer(this.#probe);
    this.#probe = null;
    this.#free.clear();
    this.#freeBytes = 0;
    this.#staging.clear();
    this.#uniformFree.length = 0;
    if (this.#ownsDevice) this.device.destroy();
    this.#gpuRef = null;
  }

  async #throwErrors(errors: Promise<GPUError | null>[]): Promise<void> {
    const found = await collect(errors);
    if (found.length > 0) throw new GpuError(found.map((e) => e.message).join('\n'));
  }

  /**
   * Keeps an error-scope promise until the next read or sync. Without reads the list would grow with every
   * dispatch, so past {@link MAX_PENDING_ERRORS} entries it is folded into one promise of the first error.
   */
  #pushError(p: Promise<GPUError | null>): void {
    this.#errors.push(p);
    if (this.#errors.length > MAX_PENDING_ERRORS) {
      const all = this.#errors;
      this.#errors = [
        collect(all).then((found) =>
          found.length === 0 ? null : ({ message: found.map((e) => e.message).join('\n') } as GPUError),
        ),
      ];
    }
  }

  #createBuffer(size: number, usage: number): GPUBuffer {
    const b = this.device.createBuffer({ size, usage });
    this.#liveBuffers++;
    return b;
  }

  #destroyBuffer(b: GPUBuffer): void {
    b.destroy();
    this.#liveBuffers--;
  }

  #live(what = 'webgpu'): void {
    if (this.#lost !== null) throw new DeviceLostError(what, this.#lost);
  }

  #enc(): GPUCommandEncoder {
    return (this.#encoder ??= this.device.createCommandEncoder());
  }

  #computePass(): GPUComputePassEncoder {
    return (this.#pass ??= this.#enc().beginComputePass());
  }

  #endPass(): void {
    if (this.#pass) {
      this.#pass.end();
      this.#pass = null;
    }
  }
}
