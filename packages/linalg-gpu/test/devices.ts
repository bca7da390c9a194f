/**
 * The devices every suite runs on: the CPU backend always, WebGPU when an adapter exists.
 * With `CI=true` (or `IFNGD_REQUIRE_WEBGPU=1`) a missing adapter is an error, never a silent skip.
 */
import { BackendUnavailableError, createDevice, type LinalgDevice } from '../src/index.js';
import { requireWebgpu } from './env.js';

export type DeviceFactory = () => Promise<LinalgDevice>;

const requireGpu = requireWebgpu;

let probe: Promise<boolean> | undefined;
/** Whether a WebGPU device can be created here (cached per test file). */
export function webgpuAvailable(): Promise<boolean> {
  return (probe ??= createDevice({ backend: 'webgpu' }).then(
    (d) => {
      d.destroy();
      return true;
    },
    (err: unknown) => {
      if (requireGpu) throw new Error(`CI requires a WebGPU adapter, none found: ${String(err)}`);
      if (!(err instanceof BackendUnavailableError)) throw err;
      return false;
    },
  ));
}

/** Backends to run a suite on: `describe.each(await backends())`. */
export async function backends(): Promise<('cpu' | 'webgpu')[]> {
  return (await webgpuAvailable()) ? ['cpu', 'webgpu'] : ['cpu'];
}
