/**
 * Starting a tfjs backend, with a fallback: a browser without WebGPU (no `navigator.gpu`, no adapter, or tfjs
 * cannot start its webgpu backend) trains on the wasm backend instead, and says why.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Backend } from './lanes.js';

/** The backend tried when one cannot start. */
const FALLBACK: Partial<Record<Backend, Backend>> = { webgpu: 'wasm' };

/** Why WebGPU cannot run here, or null when an adapter is available. */
async function webgpuProblem(): Promise<string | null> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return 'this browser has no WebGPU (navigator.gpu is missing)';
  try {
    if (!(await gpu.requestAdapter())) return 'navigator.gpu.requestAdapter() found no GPU adapter';
  } catch (err) {
    return `navigator.gpu.requestAdapter() failed: ${String(err)}`;
  }
  return null;
}

/** Registers and activates `backend`; resolves to why it cannot run here, or null once it is active. */
async function tryBackend(backend: Backend): Promise<string | null> {
  if (backend === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths('/tfjs-wasm/');
  } else if (backend === 'webgpu') {
    const problem = await webgpuProblem();
    if (problem) return problem;
    await import('@tensorflow/tfjs-backend-webgpu');
  } else {
    await import('@tensorflow/tfjs-backend-cpu');
  }
  const ok = await tf.setBackend(backend).catch(() => false);
  if (!ok) return `tfjs could not start its ${backend} backend`;
  await tf.ready();
  return null;
}

/** The backend that runs, and the note to show when it is not the one asked for. */
export interface StartedBackend {
  readonly used: Backend;
  /** Null when `used` is the backend asked for. */
  readonly note: string | null;
}

/**
 * Activates `backend`, or else its fallback (webgpu → wasm); throws naming the reasons when neither can run.
 */
export async function startBackend(backend: Backend): Promise<StartedBackend> {
  const problem = await tryBackend(backend);
  if (!problem) return { used: backend, note: null };
  const fallback = FALLBACK[backend];
  if (!fallback) throw new Error(`the ${backend} backend cannot run in this browser: ${problem}`);
  const second = await tryBackend(fallback);
  if (second) throw new Error(`the ${backend} backend cannot run in this browser (${problem}), nor can ${fallback} (${second})`);
  return { used: fallback, note: `Fell back to the ${fallback} backend: ${backend} is not available — ${problem}.` };
}
