/**
 * The linear-algebra device that matches the active TensorFlow.js backend.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';

/**
 * A `@ifngd/linalg-gpu` device for the current tfjs backend: on `webgpu` it shares tfjs's own GPUDevice
 * (`tf.backend().device`), so the Gram/Cholesky work runs on the same device; on every other backend the
 * float64-accumulating CPU backend.
 */
export async function linalgDeviceForTf(): Promise<LinalgDevice> {
  if (tf.getBackend() === 'webgpu') {
    const gpuDevice = (tf.backend() as unknown as { device?: GPUDevice }).device;
    if (gpuDevice) return createDevice({ backend: 'webgpu', gpuDevice });
  }
  return createDevice({ backend: 'cpu' });
}
