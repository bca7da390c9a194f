/**
 * The linear-algebra device that matches the active TensorFlow.js backend.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';

/** Linalg devices created on tfjs's own GPUDevice, and that GPUDevice. */
const shared = new WeakMap<LinalgDevice, GPUDevice>();

/** tfjs's GPUDevice when the active backend is webgpu, else null. */
export function tfGpuDevice(): GPUDevice | null {
  if (tf.getBackend() !== 'webgpu') return null;
  return (tf.backend() as unknown as { device?: GPUDevice }).device ?? null;
}

/**
 * A `@ifngd/linalg-gpu` device for the current tfjs backend: on `webgpu` it shares tfjs's own GPUDevice
 * (`tf.backend().device`), so the Gram/Cholesky work runs on the same device and the factors move from tfjs
 * tensors into linalg matrices entirely on the GPU (`dataToGPU` + `fromGpuBuffer`); on every other backend the
 * float64-accumulating CPU backend.
 */
export async function linalgDeviceForTf(): Promise<LinalgDevice> {
  const gpuDevice = tfGpuDevice();
  if (gpuDevice) {
    const dev = await createDevice({ backend: 'webgpu', gpuDevice });
    shared.set(dev, gpuDevice);
    return dev;
  }
  return createDevice({ backend: 'cpu' });
}

/**
 * Whether `dev` runs on the GPUDevice of the active tfjs webgpu backend, so tfjs buffers can be copied into it
 * on the GPU. True only for devices from {@link linalgDeviceForTf} (a linalg device does not expose its
 * GPUDevice; one created elsewhere takes the host path).
 */
export function sharesTfDevice(dev: LinalgDevice): boolean {
  if (dev.destroyed || dev.backend !== 'webgpu') return false;
  const g = shared.get(dev);
  return g !== undefined && g === tfGpuDevice();
}
