/**
 * A WebGPU linear-algebra device whose GPUDevice the test can destroy (as a driver reset or another owner would),
 * on lavapipe in Node — the same way linalg-gpu's own device-loss tests make one.
 */
import { LinalgDevice } from '@ifngd/linalg-gpu';
import { WebGpuBackend } from '../../linalg-gpu/src/webgpu/backend.js';

/** A WebGPU device and a `lose()` that destroys its GPUDevice under it. */
export async function losableDevice(): Promise<{ readonly device: LinalgDevice; lose(): void }> {
  const backend = await WebGpuBackend.create({});
  return { device: new LinalgDevice(backend), lose: () => backend.ctx.device.destroy() };
}
