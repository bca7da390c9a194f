/**
 * Picks the tfjs backend for the MNIST runs. `auto` = wasm (the fastest tfjs backend on a CPU-only machine),
 * cpu as the fallback. Convolutions train on wasm too: tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter, and
 * `FngdTrainer.create` registers the adapter's (`registerWasmConvFilterGradient`), so every optimizer — the
 * trainer runs them all — takes the same gradient path.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

export type BackendName = 'cpu' | 'wasm' | 'webgpu' | 'auto';
export const BACKENDS: readonly BackendName[] = ['cpu', 'wasm', 'webgpu', 'auto'];

/** Sets the tfjs backend and returns the name tfjs reports. */
export async function setBackend(kind: BackendName): Promise<string> {
  const tryWasm = async (): Promise<boolean> => {
    await import('@tensorflow/tfjs-backend-wasm');
    return tf.setBackend('wasm');
  };
  if (kind === 'webgpu') {
    const { create, globals } = await import('webgpu');
    Object.assign(globalThis, globals);
    (globalThis as { navigator?: unknown }).navigator = { gpu: create([]), userAgent: 'node' };
    await import('@tensorflow/tfjs-backend-webgpu');
    if (!(await tf.setBackend('webgpu')))
      throw new Error('the webgpu backend is not available (no adapter? see scripts/setup-webgpu.sh)');
  } else if (kind === 'wasm') {
    if (!(await tryWasm())) throw new Error('the wasm backend is not available');
  } else if (kind === 'cpu') {
    await import('@tensorflow/tfjs-backend-cpu');
    await tf.setBackend('cpu');
  } else {
    let ok = false;
    try {
      ok = await tryWasm();
    } catch {
      ok = false;
    }
    if (!ok) {
      await import('@tensorflow/tfjs-backend-cpu');
      await tf.setBackend('cpu');
    }
  }
  await tf.ready();
  return tf.getBackend();
}
