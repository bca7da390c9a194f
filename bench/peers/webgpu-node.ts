/** One `GPU` object for the whole benchmark process (Dawn in Node); every library requests its adapter from it. */
import { create, globals } from 'webgpu';

process.env.XDG_RUNTIME_DIR ??= '/tmp';

let gpu: GPU | null = null;
/** The process-wide GPU, installed as `navigator.gpu` for libraries that look there. */
export function nodeGpu(): GPU {
  if (!gpu) {
    // tfjs-backend-webgpu and jax-js read GPUBufferUsage/GPUMapMode/… from globals, as in a browser
    Object.assign(globalThis, globals);
    gpu = create([]) as GPU;
    Object.defineProperty(globalThis, 'navigator', {
      value: { gpu, userAgent: 'node' },
      configurable: true,
      writable: true,
    });
  }
  return gpu;
}

/** Drops the GPU so Node can exit. */
export function releaseGpu(): void {
  gpu = null;
  Object.defineProperty(globalThis, 'navigator', { value: undefined, configurable: true, writable: true });
}

export async function hasAdapter(): Promise<boolean> {
  try {
    return (await nodeGpu().requestAdapter()) !== null;
  } catch {
    return false;
  }
}
