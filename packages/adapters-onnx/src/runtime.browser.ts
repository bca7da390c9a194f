/**
 * The default ONNX Runtime in browsers: a global `ort` (ONNX Runtime Web loaded by a script tag), else the
 * optional peer `onnxruntime-web`, which bundlers include (wasm backend; `executionProviders: ['webgpu']` where
 * the browser has an adapter). Selected by the `browser` condition of the package import `#runtime`.
 * @internal
 * @module
 */
import { RuntimeUnavailableError } from './errors.js';
import { asRuntime, type OrtRuntime } from './runtime-check.js';

/** The environment this module serves. */
export const PLATFORM = 'browser';

/** The global `ort`, else `onnxruntime-web`; throws {@link RuntimeUnavailableError} if neither loads. */
export async function defaultRuntime(): Promise<OrtRuntime> {
  const global = (globalThis as { ort?: unknown }).ort;
  if (global !== undefined) return asRuntime(global, 'globalThis.ort');
  let mod: unknown;
  try {
    mod = await import('onnxruntime-web');
  } catch (err) {
    throw new RuntimeUnavailableError(
      'no ONNX Runtime found: in a browser install the optional peer `onnxruntime-web` (npm install onnxruntime-web) ' +
        `or load it with a script tag (global \`ort\`), or pass \`ort\` to OnnxTrainer.create (${String(err)})`,
    );
  }
  return asRuntime(mod, 'onnxruntime-web');
}
