/**
 * Where a `GPU` comes from when there is no `navigator.gpu`, in Node: the optional peer `webgpu` (Dawn's
 * bindings). Reached only through the package import `#platform`, whose `browser` condition selects
 * `platform.browser.ts` instead, so browser bundles never see the `webgpu` package or its Node built-ins.
 * @internal
 * @module
 */
import { BackendUnavailableError } from '../errors.js';

/** The environment this module serves, for messages and tests. */
export const PLATFORM = 'node';

/** What to do when an adapter request returns null, said for Node. */
export const NO_ADAPTER_HINT =
  'no WebGPU adapter found. In Node the `webgpu` package needs a Vulkan (Linux), Metal (macOS) or D3D12 (Windows) ' +
  'driver; on Linux without a GPU install a software one (Debian/Ubuntu: `apt-get install mesa-vulkan-drivers`, ' +
  'Mesa ≥ 24 for lavapipe). Or use createDevice({ backend: "cpu" }) / backend: "auto", which falls back to the CPU';

interface WebGpuPackage {
  create(flags: string[]): GPU;
  globals: object;
}

/** The `webgpu` package, or {@link BackendUnavailableError} saying how to install it. */
async function webgpuPackage(): Promise<WebGpuPackage> {
  try {
    return (await import(/* @vite-ignore */ 'webgpu' as string)) as WebGpuPackage;
  } catch (err) {
    throw unavailable(err);
  }
}

function unavailable(err: unknown): BackendUnavailableError {
  return new BackendUnavailableError(
    'WebGPU is not available: there is no navigator.gpu, and the optional peer dependency `webgpu` could not be ' +
      `loaded (${String(err)}). In Node run \`npm install webgpu\`, or pass \`gpu\` / \`gpuDevice\` to ` +
      'createDevice, or use backend: "cpu"',
  );
}

/** A `GPU` from the `webgpu` package; throws {@link BackendUnavailableError} saying how to install it. */
export async function loadGpu(): Promise<GPU> {
  const mod = await webgpuPackage();
  try {
    return mod.create([]);
  } catch (err) {
    throw unavailable(err);
  }
}

type NavigatorHost = { navigator?: { gpu?: GPU } };

/**
 * `navigator.gpu`, defined from the `webgpu` package when missing: its `GPU*` constants become globals (those not
 * defined yet), and `navigator.gpu` is set on Node's own `navigator` (Node ≥ 21) or on a new one.
 */
export async function ensureNavigatorGpu(): Promise<GPU> {
  const host = globalThis as NavigatorHost;
  const existing = host.navigator?.gpu;
  if (existing) return existing;
  const mod = await webgpuPackage();
  let gpu: GPU;
  try {
    gpu = mod.create([]);
  } catch (err) {
    throw unavailable(err);
  }
  for (const [name, value] of Object.entries(mod.globals)) {
    if (!(name in globalThis)) Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  }
  if (host.navigator) {
    Object.defineProperty(host.navigator, 'gpu', { value: gpu, configurable: true });
  } else {
    const navigator = { gpu, userAgent: 'node' };
    Object.defineProperty(globalThis, 'navigator', { value: navigator, configurable: true, writable: true });
  }
  return gpu;
}
