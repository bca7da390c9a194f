/**
 * `OnnxTrainer.exportModel`: the original model with trained initializers.
 * @module
 */
import type { HostTree } from 'ifngd';
import type { ModelProto } from './proto.js';
import { cloneModel, encodeModel, setTensorFloats } from './proto.js';

/** A copy of `model` whose initializers named in `params` hold those values (every other field kept), as ONNX bytes. */
export function exportWithParams(model: ModelProto, params: HostTree): Uint8Array {
  const m = cloneModel(model);
  for (const t of m.graph!.initializer) {
    const v = params[t.name];
    if (v) setTensorFloats(t, v);
  }
  return encodeModel(m);
}
