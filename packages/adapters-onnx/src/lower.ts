/**
 * Ops the trainer runs as the primitives they are made of. `LayerNormalization` (opset 17, what PyTorch exports
 * for `nn.LayerNorm`) becomes `ReduceMean → Sub → Mul → ReduceMean → Add ε → Sqrt → Div`, then `Mul` by the scale
 * and `Add` of the bias — so its γ and β are the trainer's scale-shift layers (per-sample gradients written out,
 * checked against finite differences), and its gradient is the primitives'. The training graphs are built from the
 * lowered model; `exportModel` writes the trained values into the model as it came (same initializer names).
 * @module
 */
import { UnsupportedModelError } from './errors.js';
import { Attrs, cloneModel, DataType, floatTensor, int64Tensor, makeNode, tensorDims, tensorFloats, tensorInts, type ModelProto, type NodeProto } from './proto.js';

/** The ops trained as the primitives they are made of. */
export const LOWERED_OPS: readonly string[] = ['LayerNormalization'];

/** Marks a MatMul whose 2-D weight is read transposed (see {@link lowerTransposedWeights}). */
export const TRANSPOSED_WEIGHT_ATTR = 'ifngd_transB';

/**
 * `MatMul(x, Transpose(W))` with W a 2-D float initializer read only by that Transpose (perm [1, 0]), read only by
 * that MatMul — what `torch.onnx.export` writes for an `nn.Linear` over inputs of rank > 2 without constant folding
 * (a training-mode export) — becomes one MatMul of `x` and `W` marked with {@link TRANSPOSED_WEIGHT_ATTR}, so W
 * trains as the dense layer's weight under its own name and layout (`[out, in]`, as in the `state_dict`). The
 * trainer's graphs write it back as the two nodes.
 */
export function lowerTransposedWeights(model: ModelProto): ModelProto {
  if (!model.graph?.node.some((n) => n.opType === 'Transpose')) return model;
  const m = cloneModel(model);
  const graph = m.graph!;
  const readers = new Map<string, number>();
  for (const n of graph.node) for (const i of n.input) if (i) readers.set(i, (readers.get(i) ?? 0) + 1);
  for (const o of graph.output) readers.set(o.name, (readers.get(o.name) ?? 0) + 1);
  const float2d = new Set(graph.initializer.filter((t) => t.dataType === DataType.FLOAT && t.dims.length === 2).map((t) => t.name));
  const producer = new Map(graph.node.map((n) => [n.output[0] ?? '', n] as const));
  const fused = new Set<NodeProto>();
  const replaced = new Map<NodeProto, NodeProto>();
  for (const n of graph.node) {
    if (n.opType !== 'MatMul' || (n.domain !== '' && n.domain !== 'ai.onnx')) continue;
    const t = producer.get(n.input[1] ?? '');
    if (!t || t.opType !== 'Transpose' || readers.get(t.output[0]!) !== 1) continue;
    const w = t.input[0] ?? '';
    const perm = new Attrs(t).ints('perm', [1, 0]);
    if (!float2d.has(w) || readers.get(w) !== 1 || perm?.[0] !== 1 || perm[1] !== 0) continue;
    fused.add(t);
    replaced.set(n, makeNode('MatMul', [n.input[0]!, w], [n.output[0]!], { [TRANSPOSED_WEIGHT_ATTR]: { i: 1 } }, n.name));
  }
  if (replaced.size === 0) return model;
  graph.node = graph.node.filter((n) => !fused.has(n)).map((n) => replaced.get(n) ?? n);
  return m;
}

/** Marks a Dropout node the trainer drew a mask input for (see {@link lowerDropout}). */
export const DROPOUT_MASK_ATTR = 'ifngd_mask';

/** The graph input of the k-th training-mode Dropout's mask. */
export const dropoutMaskName = (k: number): string => `ifngd/dropout/${k}/mask`;

/**
 * Dropout as the trainer runs it. In training mode (`training_mode` a constant true and `ratio` a constant > 0, as
 * `torch.onnx.export(…, training=TrainingMode.TRAINING)` writes it) the node becomes `Dropout(x, mask)` marked with
 * {@link DROPOUT_MASK_ATTR} (`ratio` kept as an attribute): the trainer draws the mask — 0, or 1/(1 − ratio) — for
 * each step and feeds it to every pass of the step, so the factors and the gradients see the same dropped units.
 * Otherwise (inference mode, ratio 0) the node is an Identity. Refused: a read mask output, or a ratio or mode
 * that is not a constant.
 */
export function lowerDropout(model: ModelProto): ModelProto {
  const graph = model.graph;
  if (!graph || !graph.node.some((n) => n.opType === 'Dropout' && (n.domain === '' || n.domain === 'ai.onnx'))) return model;
  const m = cloneModel(model);
  const g = m.graph!;
  const read = new Set([...g.node.flatMap((n) => n.input), ...g.output.map((o) => o.name)]);
  let k = 0;
  g.node = g.node.map((n) => {
    if (n.opType !== 'Dropout' || (n.domain !== '' && n.domain !== 'ai.onnx')) return n;
    const mask = n.output[1];
    if (mask && read.has(mask)) throw new UnsupportedModelError(`Dropout '${n.name}': its mask output is read; only the output is supported`);
    const ratio = n.input[1] ? scalarOf(g, n.input[1], n.name, 'ratio') : 0.5;
    const training = n.input[2] ? scalarOf(g, n.input[2], n.name, 'training_mode') !== 0 : false;
    if (!training || ratio === 0) return makeNode('Identity', [n.input[0]!], [n.output[0]!], {}, n.name);
    if (!(ratio > 0 && ratio < 1)) throw new UnsupportedModelError(`Dropout '${n.name}': ratio ${ratio} is outside [0, 1)`);
    return makeNode('Dropout', [n.input[0]!, dropoutMaskName(k++)], [n.output[0]!], { ratio: { f: ratio }, [DROPOUT_MASK_ATTR]: { i: 1 } }, n.name);
  });
  return m;
}

/** The value of a one-element constant (a `Constant` node's or an initializer's; float, bool or integer). */
function scalarOf(g: NonNullable<ModelProto['graph']>, name: string, node: string, what: string): number {
  const t = g.initializer.find((x) => x.name === name) ?? g.node.find((x) => x.opType === 'Constant' && x.output[0] === name)?.attribute.find((a) => a.name === 'value')?.t;
  if (t && tensorDims(t).reduce((a, d) => a * d, 1) === 1) {
    if (t.dataType === DataType.FLOAT) return tensorFloats(t)[0]!;
    if (t.dataType === DataType.BOOL) return t.rawData.length > 0 ? t.rawData[0]! : (t.int32Data[0] ?? 0);
    if (t.dataType === DataType.INT64 || t.dataType === DataType.INT32) return tensorInts(t)[0]!;
  }
  throw new UnsupportedModelError(`Dropout '${node}': its ${what} must be a constant`);
}

/** The model with every `LayerNormalization` node replaced by primitives (the model itself when it has none). */
export function lowerLayerNorm(model: ModelProto, opset: number): ModelProto {
  const graph = model.graph;
  if (!graph || !graph.node.some((n) => n.opType === 'LayerNormalization' && (n.domain === '' || n.domain === 'ai.onnx'))) return model;
  const m = cloneModel(model);
  const g = m.graph!;
  const used = new Set([...g.node.flatMap((n) => [...n.input, ...n.output, n.name]), ...g.initializer.map((t) => t.name)]);
  const fresh = (hint: string): string => {
    let k = 0;
    while (used.has(`${hint}_${k}`)) k++;
    const name = `${hint}_${k}`;
    used.add(name);
    return name;
  };
  const nodes: NodeProto[] = [];
  for (const n of g.node) {
    if (n.opType !== 'LayerNormalization' || (n.domain !== '' && n.domain !== 'ai.onnx')) {
      nodes.push(n);
      continue;
    }
    const a = new Attrs(n);
    const extra = n.output.slice(1).filter((o) => o !== '');
    if (extra.length > 0) throw new UnsupportedModelError(`LayerNormalization '${n.name}': its Mean/InvStdDev outputs are read; only Y is supported`);
    if (a.int('stash_type', 1) !== 1) throw new UnsupportedModelError(`LayerNormalization '${n.name}': stash_type ${a.int('stash_type', 1)} is not supported`);
    const axis = a.int('axis', -1);
    const eps = a.float('epsilon', 1e-5);
    const base = n.name || n.output[0] || 'layernorm';
    const [x, scale, bias] = [n.input[0]!, n.input[1]!, n.input[2] ?? ''];
    // the normalized axes run from `axis` to the last (negative: counted from the end, whatever the rank); ReduceMean
    // over them, as an attribute (opset < 18) or an input; the analysis refuses a reduction over the batch axis
    const rank = axis < 0 ? undefined : rankOf(g, x);
    if (axis >= 0 && rank === undefined) throw new UnsupportedModelError(`LayerNormalization '${n.name}': axis ${axis} needs the input's rank (export with a negative axis, as PyTorch does)`);
    const axes = axis < 0 ? Array.from({ length: -axis }, (_, i) => axis + i) : Array.from({ length: rank! - axis }, (_, i) => axis + i);
    const axesName = fresh(`${base}/axes`);
    if (opset >= 18) g.initializer.push(int64Tensor(axesName, [axes.length], axes));
    const reduce = (inp: string, out: string): NodeProto =>
      opset >= 18
        ? makeNode('ReduceMean', [inp, axesName], [out], { keepdims: { i: 1 } }, fresh(`${base}/mean`))
        : makeNode('ReduceMean', [inp], [out], { axes: { ints: axes }, keepdims: { i: 1 } }, fresh(`${base}/mean`));
    const epsName = fresh(`${base}/epsilon`);
    g.initializer.push(floatTensor(epsName, [], [eps]));
    const [mu, d, sq, v, ve, sd, xh] = ['mu', 'd', 'sq', 'var', 've', 'sd', 'xhat'].map((h) => fresh(`${base}/${h}`)) as [string, string, string, string, string, string, string];
    const scaled = bias ? fresh(`${base}/scaled`) : n.output[0]!;
    nodes.push(
      reduce(x, mu),
      makeNode('Sub', [x, mu], [d], {}, fresh(`${base}/sub`)),
      makeNode('Mul', [d, d], [sq], {}, fresh(`${base}/square`)),
      reduce(sq, v),
      makeNode('Add', [v, epsName], [ve], {}, fresh(`${base}/add_eps`)),
      makeNode('Sqrt', [ve], [sd], {}, fresh(`${base}/sqrt`)),
      makeNode('Div', [d, sd], [xh], {}, fresh(`${base}/normalize`)),
      makeNode('Mul', [xh, scale], [scaled], {}, fresh(`${base}/scale`)),
      ...(bias ? [makeNode('Add', [scaled, bias], [n.output[0]!], {}, fresh(`${base}/shift`))] : []),
    );
  }
  g.node = nodes;
  return m;
}

/** The rank of a tensor from the graph's declared shapes (inputs, value infos, initializers), if declared. */
function rankOf(g: NonNullable<ModelProto['graph']>, name: string): number | undefined {
  for (const v of [...g.input, ...g.valueInfo, ...g.output]) {
    if (v.name !== name) continue;
    const t = v.type?.value;
    if (t?.case === 'tensorType' && t.value.shape) return t.value.shape.dim.length;
  }
  const init = g.initializer.find((t) => t.name === name);
  return init ? init.dims.length : undefined;
}
