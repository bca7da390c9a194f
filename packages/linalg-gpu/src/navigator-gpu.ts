/**
 * `navigator.gpu` for libraries that look for it there (TensorFlow.js's webgpu backend, onnxruntime-web's webgpu
 * execution provider, jax-js), in Node as in browsers.
 * @module
 */
import { ensureNavigatorGpu as platformEnsure } from '#platform';

/**
 * Returns `navigator.gpu`, first defining it in Node: there it loads the optional peer `webgpu` (Dawn), installs its
 * `GPU*` constants (`GPUBufferUsage`, `GPUMapMode`, …) as globals where missing, and sets `navigator.gpu` (on Node's
 * own `navigator`, or on a new `{ gpu, userAgent: 'node' }`). In browsers it returns the browser's `navigator.gpu`.
 * An existing `navigator.gpu` is returned unchanged; the call is idempotent.
 *
 * Call it before importing `@tensorflow/tfjs-backend-webgpu` in Node. A `GPU` does not guarantee an adapter:
 * `requestAdapter()` may still resolve to null (no driver).
 *
 * @throws {@link BackendUnavailableError} when there is no `navigator.gpu` and (Node) `webgpu` cannot be loaded, or
 *   (browsers) the browser has no WebGPU; the message says what to install or enable.
 */
export function ensureNavigatorGpu(): Promise<GPU> {
  return platformEnsure();
}
