/**
 * A small writer for inference ONNX models built in JavaScript (tests, examples, the MNIST demo).
 * @module
 */
import { DataType, encodeModel, floatTensor, int64Tensor, makeGraph, makeModel, makeNode, valueInfo, type AttrValue } from './proto.js';

/** A model described as plain data. */
export interface ModelSpec {
  /** Inputs (float32 unless `type` says int64: token ids); a string dim is symbolic (e.g. `'N'`). */
  readonly inputs: readonly { readonly name: string; readonly shape: readonly (number | string)[]; readonly type?: 'float32' | 'int64' }[];
  readonly outputs: readonly string[];
  readonly nodes: readonly {
    readonly op: string;
    readonly inputs: readonly string[];
    readonly outputs: readonly string[];
    readonly attrs?: Readonly<Record<string, AttrValue>>;
    readonly name?: string;
    readonly domain?: string;
  }[];
  /** Float32 (default) or int64 initializers. */
  readonly initializers: readonly {
    readonly name: string;
    readonly dims: readonly number[];
    readonly data: Float32Array | readonly number[];
    readonly type?: 'float32' | 'int64';
  }[];
  /** Default-domain opset; default 17. */
  readonly opset?: number;
}

/** Encodes a {@link ModelSpec} as ONNX bytes (IR 8). */
export function buildModel(spec: ModelSpec): Uint8Array {
  const graph = makeGraph({
    name: 'model',
    nodes: spec.nodes.map((n, i) => {
      const node = makeNode(n.op, n.inputs, n.outputs, n.attrs ?? {}, n.name ?? `${n.op}_${i}`);
      if (n.domain) node.domain = n.domain;
      return node;
    }),
    inputs: spec.inputs.map((i) => valueInfo(i.name, i.type === 'int64' ? DataType.INT64 : DataType.FLOAT, i.shape)),
    outputs: spec.outputs.map((o) => valueInfo(o, DataType.FLOAT)),
    initializers: spec.initializers.map((t) =>
      t.type === 'int64' ? int64Tensor(t.name, t.dims, [...t.data]) : floatTensor(t.name, t.dims, t.data),
    ),
  });
  return encodeModel(makeModel(graph, spec.opset ?? 17));
}
