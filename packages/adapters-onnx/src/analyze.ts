/**
 * Model analysis before anything runs: opset and dtype checks, shape inference with a symbolic batch
 * dimension, the list of unsupported nodes, and the trainable layers (Gemm, MatMul(+Add bias), Conv).
 * @module
 */
import { BATCH, type Shape } from './ir.js';
import { OP_RULES } from './ops/index.js';
import { input } from './ops/types.js';
import { isTrainingBatchNorm } from './ops/normalization.js';
import { isMaskedDropout } from './ops/dropout.js';
import {
  Attrs,
  DataType,
  defaultOpset,
  tensorDims,
  tensorInts,
  valueInfoType,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from './proto.js';
import { InvalidOptionError, UnsupportedModelError, UnsupportedOpError, type UnsupportedNode } from './errors.js';
import { lowerDropout, lowerLayerNorm, lowerTransposedWeights, TRANSPOSED_WEIGHT_ATTR } from './lower.js';

/** A trainable parameter (a float initializer in a layer role). */
export interface ParameterInfo {
  /** Initializer name. */
  readonly name: string;
  readonly dims: readonly number[];
  /** Index of its layer. */
  readonly layer: number;
  readonly role: 'weight' | 'bias';
}

/**
 * A trainable layer: its factors are what `@ifngd/fisher` turns into a per-sample Gram. `scale-shift`: a Mul or
 * Add of an activation and a per-feature float initializer (a LayerNorm's γ or β, a BatchNorm's folded scale or
 * shift), whose per-sample gradients the factor pass writes out explicitly (fisher's `jacobian` kind).
 */
export interface LayerInfo {
  /**
   * `dense`: a Gemm or a MatMul with a weight initializer (on inputs of rank > 2 a dense layer over positions, whose
   * weights are shared by every position: fisher's `conv2d` factors); `embedding`: a Gather of a float initializer
   * by integer ids (its per-sample Gram from the ids' equality; no Kronecker block for KFAC); `grouped-conv`: a
   * Conv with group > 1 — depthwise, say — whose per-sample gradients the factor pass writes out (fisher's
   * `jacobian` kind; no Kronecker block for KFAC); `batch-norm`: a BatchNormalization's γ (`weight`) and β
   * (`bias`), per-sample gradients written out likewise (`ops/normalization.ts` says which per-sample gradient).
   */
  readonly kind: 'dense' | 'conv2d' | 'scale-shift' | 'embedding' | 'grouped-conv' | 'batch-norm';
  /** The Gemm / MatMul / Conv node (`scale-shift`: the Mul or Add). */
  readonly node: NodeProto;
  readonly weight: string;
  /** Trainable bias (Gemm C, Conv B, or the initializer of the Add that follows a MatMul). */
  readonly bias: string | null;
  /** For a Gemm: `A` is scaled by `alpha/beta` and `Δ` by `beta` so that `(AAᵀ+1)∘ΔΔᵀ` is exact. */
  readonly scaleA: number;
  readonly scaleD: number;
}

/** The result of {@link analyzeModel}. */
export interface ModelAnalysis {
  readonly model: ModelProto;
  readonly opset: number;
  /**
   * Graph inputs that are fed (not initializers), with the batch dimension symbolic and their element type;
   * `vocabulary`: an integer input that indexes an embedding holds ids in [0, vocabulary).
   */
  readonly inputs: readonly { readonly name: string; readonly shape: Shape; readonly type: 'float32' | 'int64' | 'int32'; readonly vocabulary?: number }[];
  /** The output the loss is attached to. */
  readonly output: { readonly name: string; readonly shape: Shape };
  readonly nodes: readonly NodeProto[];
  readonly shapes: ReadonlyMap<string, Shape>;
  readonly initializers: ReadonlyMap<string, TensorProto>;
  readonly layers: readonly LayerInfo[];
  readonly params: readonly ParameterInfo[];
  /** Integer tensors' values known at analysis (shape arithmetic; the batch size NaN). */
  readonly constInts: ReadonlyMap<string, readonly number[]>;
  /**
   * The running statistics of the training-mode BatchNormalization nodes, in node order: the initializers that hold
   * them (state the trainer updates after every step, not parameters), the node's `momentum`, and how many values
   * each channel's statistics average per sample (the spatial size).
   */
  readonly runningStats: readonly RunningStats[];
  /**
   * The training-mode Dropout nodes, in mask order: the graph input of the mask the trainer draws for every step
   * (`lower.ts`), the node's drop ratio, and the mask's shape (the node input's).
   */
  readonly dropouts: readonly { readonly mask: string; readonly ratio: number; readonly shape: Shape }[];
}

/** One training-mode BatchNormalization's running statistics (see {@link ModelAnalysis.runningStats}). */
export interface RunningStats {
  readonly node: string;
  readonly mean: string;
  readonly variance: string;
  readonly momentum: number;
  readonly channels: number;
  readonly spatial: number;
}

/** Whether a layer has Kronecker factors (dense, conv2d), as KFAC needs. */
export function isKronecker(layer: LayerInfo): boolean {
  return layer.kind === 'dense' || layer.kind === 'conv2d';
}

/**
 * Analyses a decoded model. Throws {@link UnsupportedOpError} (every unsupported node at once),
 * {@link UnsupportedModelError} or {@link InvalidOptionError} (a named output that does not exist).
 */
export function analyzeModel(given: ModelProto, outputName?: string, dims: Readonly<Record<string, number>> = {}): ModelAnalysis {
  // ops trained as their primitives (LayerNormalization: its γ and β become scale-shift layers)
  const model = given.graph ? lowerTransposedWeights(lowerDropout(lowerLayerNorm(given, defaultOpset(given)))) : given;
  const graph = model.graph!;
  const opset = defaultOpset(model);
  if (opset < 13) throw new UnsupportedModelError(`default-domain opset ${opset} < 13 is not supported; convert the model to opset ≥ 13`);
  const initializers = new Map<string, TensorProto>();
  for (const t of graph.initializer) initializers.set(t.name, t);
  if (graph.sparseInitializer.length > 0) throw new UnsupportedModelError('sparse initializers are not supported');

  const shapes = new Map<string, Shape>();
  const constInts = new Map<string, number[]>();
  /** Integer tensors whose values are data (token ids), not known at analysis. */
  const intData = new Set<string>();
  /** Integer tensors whose unknown values are arithmetic on the batch size (not the batch size itself). */
  const batchDerived = new Set<string>();
  for (const t of graph.initializer) {
    shapes.set(t.name, tensorDims(t));
    if (t.dataType === DataType.INT64 || t.dataType === DataType.INT32) constInts.set(t.name, tensorInts(t));
  }
  const inputs: { name: string; shape: Shape; type: 'float32' | 'int64' | 'int32'; vocabulary?: number }[] = [];
  const fixed = new Set<string>();
  for (const v of graph.input) {
    if (initializers.has(v.name)) continue;
    const ty = valueInfoType(v);
    const type = ty?.elemType === DataType.FLOAT ? 'float32' : ty?.elemType === DataType.INT64 ? 'int64' : ty?.elemType === DataType.INT32 ? 'int32' : null;
    if (!ty || type === null) throw new UnsupportedModelError(`input '${v.name}' must be a float32 tensor (or int64/int32 ids)`);
    if (type !== 'float32') intData.add(v.name);
    if (!ty.dims || ty.dims.length === 0) throw new UnsupportedModelError(`input '${v.name}' needs a shape with a leading batch dimension`);
    // symbolic dims after the batch (a sequence length) are fixed by the `dims` option, by name
    const rest = ty.dims.slice(1).map((d, i) => d ?? dims[ty.names[i + 1] ?? ''] ?? null);
    ty.dims.slice(1).forEach((d, i) => d === null && ty.names[i + 1] && fixed.add(ty.names[i + 1]!));
    const open = ty.dims.slice(1).flatMap((d, i) => (rest[i] === null ? [ty.names[i + 1] ?? `dim ${i + 1}`] : []));
    if (open.length > 0) {
      throw new UnsupportedModelError(
        `input '${v.name}': only the first (batch) dimension may be symbolic; fix ${open.map((n) => `'${n}'`).join(', ')} with the \`dims\` option (e.g. dims: { ${open[0]}: 16 }), or export with a fixed size`,
      );
    }
    const shape = [BATCH, ...(rest as number[])];
    inputs.push({ name: v.name, shape, type });
    shapes.set(v.name, shape);
  }

  const unused = Object.keys(dims).filter((k) => !fixed.has(k));
  if (unused.length > 0) {
    throw new InvalidOptionError(`dims: '${unused[0]}' is no symbolic dim of the model's inputs after the batch`, { key: `dims.${unused[0]}`, value: dims[unused[0]!] });
  }
  const problems: UnsupportedNode[] = [];
  const ctx = {
    shape: (n: string) => {
      const s = shapes.get(n);
      if (!s) throw new Error(`tensor '${n}' has no known shape (is the graph topologically sorted?)`);
      return s;
    },
    constInts: (n: string) => constInts.get(n),
    intData: (n: string) => intData.has(n),
    batchDerived: (n: string) => batchDerived.has(n),
    floatInitializer: (n: string) => initializers.get(n)?.dataType === DataType.FLOAT,
  };
  let shapeFailed = false;
  for (const node of graph.node) {
    const name = node.name || node.output[0] || '?';
    const rule = node.domain === '' || node.domain === 'ai.onnx' ? OP_RULES[node.opType] : undefined;
    if (!rule) {
      problems.push({ opType: node.domain ? `${node.domain}::${node.opType}` : node.opType, name, reason: 'op not supported' });
      shapeFailed = true;
      continue;
    }
    if (shapeFailed) continue; // shapes downstream of an unsupported node are unknown; keep listing op types
    let r: Shape[] | string;
    try {
      r = rule.infer(node, ctx);
    } catch (err) {
      r = (err as Error).message;
    }
    if (typeof r === 'string') {
      problems.push({ opType: node.opType, name, reason: r });
      shapeFailed = true;
      continue;
    }
    r.forEach((s, i) => node.output[i] && shapes.set(node.output[i]!, s));
    rule.values?.(node, ctx).forEach((v, i) => v && node.output[i] && constInts.set(node.output[i]!, [...v]));
    // NaN values from arithmetic on the batch size (N·H) are not the batch size: a Reshape cannot read them as N
    const unknown = (t: string) => (constInts.get(t) ?? []).some(Number.isNaN);
    if (node.output.some(unknown) && (node.input.some((i) => batchDerived.has(i)) || (ARITHMETIC.has(node.opType) && node.input.some(unknown)))) {
      for (const o of node.output) if (unknown(o)) batchDerived.add(o);
    }
    // integer data (ids) flows through the ops that move values without computing on them
    if (INT_CARRIERS.has(node.opType) && intData.has(input(node, 0)) && (node.opType !== 'Cast' || [DataType.INT64, DataType.INT32].includes(new Attrs(node).int('to', 0)))) {
      for (const o of node.output) intData.add(o);
    }
    if (node.opType === 'Constant') {
      const t = new Attrs(node).tensor('value');
      if (t && (t.dataType === DataType.INT64 || t.dataType === DataType.INT32)) constInts.set(node.output[0]!, tensorInts(t));
    }
  }

  const outName = outputName ?? graph.output[0]!.name;
  if (!graph.output.some((o) => o.name === outName)) {
    throw new InvalidOptionError(`the model has no output '${outName}' (outputs: ${graph.output.map((o) => o.name).join(', ')})`, { key: 'output', value: outName });
  }

  const { layers, params } = findLayers(graph.node, initializers, shapes, problems, intData);
  const runningStats = findRunningStats(graph.node, graph.output.map((o) => o.name), initializers, shapes, problems);
  // an integer input read by an embedding (directly or through ops that carry ids unchanged) holds ids below the
  // table's rows
  const producer = new Map(graph.node.flatMap((n) => n.output.map((o) => [o, n] as const)));
  const source = (t: string): string => {
    for (let p = producer.get(t); p && INT_CARRIERS.has(p.opType); p = producer.get(t)) t = input(p, 0);
    return t;
  };
  for (const l of layers) {
    if (l.kind !== 'embedding') continue;
    const i = inputs.findIndex((x) => x.name === source(input(l.node, 1)));
    const rows = tensorDims(initializers.get(l.weight)!)[0]!;
    if (i >= 0) inputs[i] = { ...inputs[i]!, vocabulary: Math.min(rows, inputs[i]!.vocabulary ?? rows) };
  }
  if (problems.length > 0) throw new UnsupportedOpError(problems);
  if (params.length === 0) throw new UnsupportedModelError('no trainable layer (Gemm, MatMul or Conv with a float initializer weight) found');
  const outShape = shapes.get(outName);
  if (!outShape || outShape[0] !== BATCH) throw new UnsupportedModelError(`output '${outName}' must have the batch as its first dimension`);
  const dropouts = graph.node.filter(isMaskedDropout).map((n) => ({ mask: input(n, 1), ratio: new Attrs(n).float('ratio', 0.5), shape: shapes.get(input(n, 0))! }));
  return { model, opset, inputs, output: { name: outName, shape: outShape }, nodes: graph.node, shapes, initializers, layers, params, constInts, runningStats, dropouts };
}

/**
 * The running statistics of the training-mode BatchNormalization nodes. Refused (into `problems`): a node whose
 * running-statistics outputs are read (the trainer updates them itself, after each committed step), or whose running
 * mean and variance are not float initializers of its own.
 */
function findRunningStats(
  nodes: readonly NodeProto[],
  graphOutputs: readonly string[],
  inits: ReadonlyMap<string, TensorProto>,
  shapes: ReadonlyMap<string, Shape>,
  problems: UnsupportedNode[],
): RunningStats[] {
  const readers = new Map<string, number>();
  for (const n of nodes) for (const i of n.input) if (i) readers.set(i, (readers.get(i) ?? 0) + 1);
  for (const o of graphOutputs) readers.set(o, (readers.get(o) ?? 0) + 1);
  const out: RunningStats[] = [];
  for (const node of nodes) {
    if (!isTrainingBatchNorm(node)) continue;
    const name = node.name || node.output[0] || '?';
    const read = node.output.slice(1).find((o) => o && readers.has(o));
    if (read) {
      problems.push({ opType: node.opType, name, reason: `its running-statistics output '${read}' is read (the trainer keeps the running statistics itself)` });
      continue;
    }
    const [mean, variance] = [input(node, 3), input(node, 4)];
    if (![mean, variance].every((t) => isFloatInit(inits, t) && readers.get(t) === 1)) {
      problems.push({ opType: node.opType, name, reason: 'its running mean and variance must be float initializers no other node reads' });
      continue;
    }
    const x = shapes.get(input(node, 0)) ?? [];
    out.push({
      node: name,
      mean,
      variance,
      momentum: new Attrs(node).float('momentum', 0.9),
      channels: x[1] ?? 0,
      spatial: x.slice(2).reduce((a, d) => a * d, 1),
    });
  }
  return out;
}

function isFloatInit(inits: ReadonlyMap<string, TensorProto>, name: string): boolean {
  return inits.get(name)?.dataType === DataType.FLOAT;
}

/** Ops whose integer values are arithmetic on their inputs'. */
const ARITHMETIC = new Set(['Add', 'Sub', 'Mul', 'Div']);

/** Ops that carry integer data (ids) from their first input unchanged in value. */
const INT_CARRIERS = new Set(['Cast', 'Reshape', 'Unsqueeze', 'Squeeze', 'Flatten', 'Identity', 'Transpose']);

function findLayers(
  nodes: readonly NodeProto[],
  inits: ReadonlyMap<string, TensorProto>,
  shapes: ReadonlyMap<string, Shape>,
  problems: UnsupportedNode[],
  intData: ReadonlySet<string>,
): { layers: LayerInfo[]; params: ParameterInfo[] } {
  const consumers = new Map<string, NodeProto[]>();
  for (const n of nodes) for (const i of n.input) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const layers: LayerInfo[] = [];
  const params: ParameterInfo[] = [];
  const taken = new Set<string>();
  const claim = (name: string, layer: number, role: 'weight' | 'bias') => {
    if (taken.has(name)) return false;
    taken.add(name);
    params.push({ name, dims: tensorDims(inits.get(name)!), layer, role });
    return true;
  };
  for (const node of nodes) {
    const name = node.name || node.output[0] || '?';
    if (node.opType === 'Gather' && isFloatInit(inits, input(node, 0)) && intData.has(input(node, 1))) {
      // an embedding: rows of a float table picked by integer ids
      const table = input(node, 0);
      if (taken.has(table) || (consumers.get(table) ?? []).length !== 1) {
        // tied weights (the table read again, by an output layer say) would put a second path in its gradient that
        // the embedding's Gram does not cover
        problems.push({ opType: 'Gather', name, reason: `embedding table '${table}' is read by other nodes too (tied weights are not supported)` });
        continue;
      }
      const l = layers.length;
      claim(table, l, 'weight');
      layers.push({ kind: 'embedding', node, weight: table, bias: null, scaleA: 1, scaleD: 1 });
      continue;
    }
    if (node.opType === 'BatchNormalization') {
      const [scale, shift] = [input(node, 1), input(node, 2)];
      if (!isFloatInit(inits, scale) || !isFloatInit(inits, shift)) continue; // computed γ/β: a function, not a layer
      const shared = [scale, shift].find((t) => taken.has(t) || (consumers.get(t) ?? []).length !== 1);
      if (shared) {
        problems.push({ opType: node.opType, name, reason: `its scale or bias '${shared}' is read by other nodes too (shared parameters are not supported)` });
        continue;
      }
      const l = layers.length;
      claim(scale, l, 'weight');
      claim(shift, l, 'bias');
      layers.push({ kind: 'batch-norm', node, weight: scale, bias: shift, scaleA: 1, scaleD: 1 });
      continue;
    }
    const w = input(node, 1);
    if (!['Gemm', 'MatMul', 'Conv'].includes(node.opType) || !isFloatInit(inits, w)) continue;
    if (node.opType === 'MatMul' && tensorDims(inits.get(w)!).length !== 2) {
      problems.push({ opType: 'MatMul', name, reason: `a trainable MatMul weight must be 2-D, got [${tensorDims(inits.get(w)!).join(',')}]` });
      continue;
    }
    if (taken.has(w)) {
      problems.push({ opType: node.opType, name, reason: `weight '${w}' is shared between layers` });
      continue;
    }
    const l = layers.length;
    let bias: string | null = null;
    let scaleA = 1;
    let scaleD = 1;
    if (node.opType === 'Gemm') {
      const at = new Attrs(node);
      if (at.int('transA', 0) !== 0) {
        problems.push({ opType: 'Gemm', name, reason: 'transA=1 on a trainable Gemm' });
        continue;
      }
      const alpha = at.float('alpha', 1);
      const c = input(node, 2);
      if (c && isFloatInit(inits, c)) {
        const dims = tensorDims(inits.get(c)!);
        const n = (shapes.get(w) ?? [])[at.int('transB', 0) ? 0 : 1];
        const ok = (dims.length === 1 && dims[0] === n) || (dims.length === 2 && dims[0] === 1 && dims[1] === n);
        const beta = at.float('beta', 1);
        if (!ok || beta === 0) {
          problems.push({ opType: 'Gemm', name, reason: `trainable C must be [${n}] or [1,${n}] with beta ≠ 0` });
          continue;
        }
        bias = c;
        scaleA = alpha / beta;
        scaleD = beta;
      } else scaleA = alpha;
    } else if (node.opType === 'Conv') {
      const b = input(node, 2);
      if (b && isFloatInit(inits, b)) bias = b;
    } else {
      const y = node.output[0]!;
      const cons = consumers.get(y) ?? [];
      const dout = (shapes.get(w) ?? [])[new Attrs(node).int(TRANSPOSED_WEIGHT_ATTR, 0) ? 0 : 1];
      const addNode = cons.length === 1 && cons[0]!.opType === 'Add' ? cons[0]! : undefined;
      if (addNode) {
        const other = input(addNode, 0) === y ? input(addNode, 1) : input(addNode, 0);
        const dims = inits.has(other) ? tensorDims(inits.get(other)!) : [];
        if (isFloatInit(inits, other) && ((dims.length === 1 && dims[0] === dout) || (dims.length === 2 && dims[0] === 1 && dims[1] === dout))) {
          bias = other;
        }
      }
    }
    claim(w, l, 'weight');
    if (bias !== null && !claim(bias, l, 'bias')) bias = null;
    const grouped = node.opType === 'Conv' && new Attrs(node).int('group', 1) !== 1;
    layers.push({ kind: node.opType === 'Conv' ? (grouped ? 'grouped-conv' : 'conv2d') : 'dense', node, weight: w, bias, scaleA, scaleD });
  }
  // per-feature scales and shifts: a Mul / Add of an activation downstream of a trained layer and a float
  // initializer of > 1 element that nothing else reads (a LayerNorm's γ/β, a folded BatchNorm's scale/shift);
  // preprocessing constants applied to the inputs, and initializers read twice, stay constant (create warns)
  const live = new Set(params.map((p) => p.name));
  for (const node of nodes) {
    if (node.input.some((i) => live.has(i))) for (const o of node.output) live.add(o);
    if ((node.opType !== 'Mul' && node.opType !== 'Add') || node.input.length !== 2) continue;
    const k = node.input.findIndex((i) => isFloatInit(inits, i) && !taken.has(i));
    const other = node.input[1 - k];
    if (k < 0 || other === undefined || !live.has(other)) continue;
    const p = node.input[k]!;
    if ((consumers.get(p) ?? []).length !== 1) continue;
    const dims = tensorDims(inits.get(p)!);
    const out = shapes.get(node.output[0]!) ?? [];
    // per sample: the output carries the batch first, and the parameter broadcasts over it and holds > 1 value
    if (out[0] !== BATCH || dims.reduce((a, d) => a * d, 1) <= 1 || dims.length > out.length || (dims.length === out.length && dims[0] !== 1)) continue;
    const l = layers.length;
    claim(p, l, 'weight');
    layers.push({ kind: 'scale-shift', node, weight: p, bias: null, scaleA: 1, scaleD: 1 });
    for (const o of node.output) live.add(o);
  }
  return { layers, params };
}
