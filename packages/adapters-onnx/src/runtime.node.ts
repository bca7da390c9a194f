/**
 * The default ONNX Runtime in Node: the optional peer `onnxruntime-node`, else `onnxruntime-web` (its wasm
 * backend runs in Node too). Reached only through the package import `#runtime`; its `browser` condition
 * selects `runtime.browser.ts`, so browser bundles never see `onnxruntime-node`.
 * @internal
 * @module
 */
import { RuntimeUnavailableError } from './errors.js';
import { asRuntime, type OrtRuntime } from './runtime-check.js';

/** The environment this module serves. */
export const PLATFORM = 'node';

/** Packages tried, in order. Names are not literals in `import()`, so Node bundlers never require them. */
const CANDIDATES = ['onnxruntime-node', 'onnxruntime-web'] as const;

/** Loads the first installed runtime of {@link CANDIDATES}; throws {@link RuntimeUnavailableError} if none is. */
export async function defaultRuntime(): Promise<OrtRuntime> {
  const failures: string[] = [];
  for (const name of CANDIDATES) {
    let mod: unknown;
    try {
      mod = await import(/* @vite-ignore */ name as string);
    } catch (err) {
      failures.push(`${name}: ${String(err)}`);
      continue;
    }
    return asRuntime(mod, name);
  }
  throw new RuntimeUnavailableError(
    'no ONNX Runtime found: in Node install the optional peer `onnxruntime-node` (set ONNXRUNTIME_NODE_INSTALL=skip ' +
      'to skip its CUDA download) or `onnxruntime-web`, or pass `ort` to OnnxTrainer.create ' +
      `(${failures.join('; ')})`,
  );
}
