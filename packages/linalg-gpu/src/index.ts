/// <reference types="@webgpu/types" preserve="true" />
/**
 * `@ifngd/linalg-gpu`: batched dense linear algebra for FNGD — GEMM, Gram (SYRK), Cholesky, triangular
 * solves — on WebGPU (WGSL kernels) or on a float64-accumulating CPU backend, behind one device API.
 *
 * ```ts
 * import { createDevice } from '@ifngd/linalg-gpu';
 * const dev = await createDevice({ backend: 'auto' });
 * const a = dev.matrix(data, [n, d]);
 * const g = dev.gram(a);                          // A·Aᵀ
 * const x = dev.choleskySolve(g, ones, { shift }); // (G + shift·I)⁻¹·1
 * const out = await dev.read(x);                  // the only await
 * ```
 * @packageDocumentation
 */
export { createDevice, type CreateDeviceOptions } from './create.js';
export { ensureNavigatorGpu } from './navigator-gpu.js';
export {
  LinalgDevice,
  type BackendKind,
  type DeviceInfo,
  type DeviceStats,
  type GemmOptions,
  type ReadOptions,
  type ShiftOptions,
  type TriangularSolveOptions,
} from './device.js';
export { Matrix, type Shape } from './matrix.js';
export {
  BackendUnavailableError,
  DeviceLimitError,
  DeviceLostError,
  DeviceMismatchError,
  DisposedError,
  GpuError,
  IfngdError,
  InvalidArgumentError,
  LinalgError,
  NotPositiveDefiniteError,
  ShapeError,
  SingularMatrixError,
  type LinalgErrorCode,
} from './errors.js';
