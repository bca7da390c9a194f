/**
 * `OnnxTrainer.exportModel`: the original model with trained initializers.
 * @module
 */
import type { HostTree } from 'ifngd';
import { inferenceNode } from './ops/index.js';
import type { ModelProto } from './proto.js';
import { cloneModel, encodeModel, setTensorFloats } from './proto.js';

/** Options of `OnnxTrainer.exportModel`. */
export interface ExportOptions {
  /**
   * `'inference'` (default): training-mode BatchNormalization nodes written as inference runs them, with their
   * running statistics; `'training'`: kept as they came.
   */
  readonly mode?: 'inference' | 'training';
}

/**
 * A copy of `model` whose initializers named in `values` hold those values (every other field kept), as ONNX bytes;
 * in `'inference'` mode its training-mode nodes as inference runs them.
 */
export function exportWithParams(model: ModelProto, values: HostTree, mode: 'inference' | 'training' = 'training'): Uint8Array {
  const m = cloneModel(model);
  for (const t of m.graph!.initializer) {
    const v = values[t.name];
    if (v) setTensorFloats(t, v);
  }
  if (mode === 'inference') m.graph!.node = m.graph!.node.map(inferenceNode);
  return encodeModel(m);
}
