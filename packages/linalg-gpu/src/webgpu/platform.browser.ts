/**
 * Browser counterpart of `platform.node.ts`, selected by the `browser` condition of the package import
 * `#platform`: browsers have `navigator.gpu` or nothing, never the `webgpu` npm package.
 * @internal
 * @module
 */
import { BackendUnavailableError } from '../errors.js';

/** The environment this module serves, for messages and tests. */
export const PLATFORM = 'browser';

/** What to do when an adapter request returns null, said for browsers. */
export const NO_ADAPTER_HINT =
  'no WebGPU adapter found: this browser exposes navigator.gpu but gave no adapter (WebGPU may be disabled or ' +
  'blocklisted for this GPU: see chrome://gpu or about:support; headless Chromium needs --enable-unsafe-webgpu). ' +
  'Or use createDevice({ backend: "cpu" }) / backend: "auto", which falls back to the CPU';

/** Throws: without `navigator.gpu` a browser has no WebGPU to load. */
export async function loadGpu(): Promise<GPU> {
  throw new BackendUnavailableError(
    'WebGPU is not available in this browser: navigator.gpu is missing (WebGPU needs a secure context — https or ' +
      'localhost — and a browser that ships it: Chrome/Edge 113+, Safari 26+, Firefox 141+). Pass `gpu` / ' +
      '`gpuDevice` to createDevice, or use backend: "cpu"',
  );
}

/** The browser's `navigator.gpu`; throws {@link BackendUnavailableError} (as {@link loadGpu}) when it is missing. */
export async function ensureNavigatorGpu(): Promise<GPU> {
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  return gpu ?? loadGpu();
}
