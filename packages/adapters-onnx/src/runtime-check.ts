/**
 * The ONNX Runtime interface the trainer needs, and the check that a module (or its default export) provides it.
 * @module
 */
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { InvalidOptionError } from './errors.js';

/**
 * The part of an ONNX Runtime module the trainer uses: `import * as ort from 'onnxruntime-node'` and
 * `import * as ort from 'onnxruntime-web'` both fit.
 */
export interface OrtRuntime {
  readonly InferenceSession: {
    create(model: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession>;
  };
  readonly Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => Tensor;
}

function fits(m: unknown): m is OrtRuntime {
  if ((typeof m !== 'object' && typeof m !== 'function') || m === null) return false;
  const r = m as { InferenceSession?: { create?: unknown }; Tensor?: unknown };
  return typeof r.InferenceSession?.create === 'function' && typeof r.Tensor === 'function';
}

/**
 * `mod` as an {@link OrtRuntime} (a CommonJS module's `default` export is accepted too); throws
 * {@link InvalidOptionError} naming `what` when it has no `InferenceSession.create` and `Tensor` (`key`: the
 * option it came from, default `what`).
 */
export function asRuntime(mod: unknown, what: string, key = what): OrtRuntime {
  if (fits(mod)) return mod;
  const d = (mod as { default?: unknown } | null)?.default;
  if (fits(d)) return d;
  throw new InvalidOptionError(
    `${what} is not an ONNX Runtime module: it has no InferenceSession.create and Tensor ` +
      "(pass the module itself, e.g. `import * as ort from 'onnxruntime-web'`)",
    { key, value: mod },
  );
}
