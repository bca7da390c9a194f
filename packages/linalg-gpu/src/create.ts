/**
 * Device creation and backend selection.
 * @module
 */
import { CpuBackend } from './cpu/backend.js';
import { LinalgDevice, type DeviceInfo } from './device.js';
import { BackendUnavailableError, InvalidArgumentError } from './errors.js';

/** Options of {@link createDevice}. */
export interface CreateDeviceOptions {
  /** `'auto'` (default) uses WebGPU when an adapter exists and falls back to the CPU. */
  readonly backend?: 'auto' | 'webgpu' | 'cpu';
  /**
   * Share an existing GPUDevice (for example TensorFlow.js's `tf.backend().device`) instead of requesting one.
   * The device is not destroyed by {@link LinalgDevice.destroy}.
   */
  readonly gpuDevice?: GPUDevice;
  /** The `GPU` object to request an adapter from; default `navigator.gpu`, else the `webgpu` npm package in Node. */
  readonly gpu?: GPU;
  /** Passed to `requestAdapter`. */
  readonly powerPreference?: GPUPowerPreference;
  /**
   * WebGPU only: caps the storage-binding size (bytes) the kernels plan with below the adapter's
   * `maxStorageBufferBindingSize` — a multiple of 16, at least 256 — so that the paths splitting work over
   * several bindings (GEMM and Gram, Cholesky and triangular solves, element-wise maps and sumBatch) can be
   * exercised on small matrices (tests, diagnostics). What cannot split — such as one batch entry of a
   * Cholesky or solve operand beyond it — is refused with DeviceLimitError (see
   * {@link DeviceInfo.maxBindingElements}).
   */
  readonly maxBindingBytes?: number;
}

/**
 * Creates a linear-algebra device. With `backend: 'auto'` it prefers WebGPU and falls back to the CPU
 * backend when no adapter can be had; `'webgpu'` throws {@link BackendUnavailableError} instead.
 */
export async function createDevice(options: CreateDeviceOptions = {}): Promise<LinalgDevice> {
  const backend = options.backend ?? 'auto';
  if (backend !== 'auto' && backend !== 'webgpu' && backend !== 'cpu') {
    throw new InvalidArgumentError(`createDevice: backend must be 'auto', 'webgpu' or 'cpu', got '${String(backend)}'`);
  }
  if (backend === 'cpu') return new LinalgDevice(new CpuBackend());
  try {
    const { WebGpuBackend } = await import('./webgpu/backend.js');
    return new LinalgDevice(await WebGpuBackend.create(options));
  } catch (err) {
    if (backend === 'auto' && err instanceof BackendUnavailableError) return new LinalgDevice(new CpuBackend());
    throw err;
  }
}
