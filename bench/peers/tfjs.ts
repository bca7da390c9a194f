/** TensorFlow.js peers: matMul on tfjs-backend-webgpu (same adapter) and on tfjs-backend-wasm (CPU). */
import type * as TfCore from '@tensorflow/tfjs-core';
import { nodeGpu } from './webgpu-node.js';

export interface TfPeer {
  readonly name: string;
  matmul(m: number, n: number, k: number, batch?: number): Promise<() => Promise<void>>;
  cholesky?: undefined;
  dispose(): void;
}

async function tfWith(backend: 'webgpu' | 'wasm'): Promise<typeof TfCore> {
  if (backend === 'webgpu') nodeGpu();
  const tf = await import('@tensorflow/tfjs-core');
  if (backend === 'webgpu') await import('@tensorflow/tfjs-backend-webgpu');
  else await import('@tensorflow/tfjs-backend-wasm');
  const ok = await tf.setBackend(backend);
  if (!ok) throw new Error(`tfjs backend ${backend} failed to initialise`);
  await tf.ready();
  return tf;
}

/** A matMul peer on the given tfjs backend; the returned closure runs one product and waits for it. */
export async function tfjsPeer(backend: 'webgpu' | 'wasm'): Promise<TfPeer> {
  const tf = await tfWith(backend);
  const live: TfCore.Tensor[] = [];
  return {
    name: `tfjs-${backend}`,
    async matmul(m, n, k, batch = 1) {
      const a = tf.randomUniform(batch > 1 ? [batch, m, k] : [m, k], -1, 1);
      const b = tf.randomUniform(batch > 1 ? [batch, k, n] : [k, n], -1, 1);
      live.push(a, b);
      return async () => {
        const c = tf.matMul(a, b);
        await c.data();
        c.dispose();
      };
    },
    dispose() {
      for (const t of live.splice(0)) t.dispose();
    },
  };
}

/** A Gram (`A·Aᵀ`) peer: tfjs has no SYRK, so it is matMul with transposeB. */
export async function tfjsGram(backend: 'webgpu' | 'wasm', n: number, d: number): Promise<[() => Promise<void>, () => void]> {
  const tf = await tfWith(backend);
  const a = tf.randomUniform([n, d], -1, 1);
  return [
    async () => {
      const c = tf.matMul(a, a, false, true);
      await c.data();
      c.dispose();
    },
    () => a.dispose(),
  ];
}
