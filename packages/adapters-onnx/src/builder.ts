/**
 * The training-graph builder: trainable initializers become graph inputs, the batch dimension is symbolic,
 * the loss is appended, and the backward graph is derived op by op (reverse topological order, gradients
 * summed over consumers, only through tensors that depend on a parameter).
 *
 * Three graphs come out of one analysed model:
 * - `'factors'`: per-sample losses and, per layer, the factors `@ifngd/fisher` needs (dense: inputs `A [N,din]`
 *   and output-gradients `Δ [N,dout]`; conv: patches `[N,T,k]` and `[N,T,c]`). Used only when the optimizer
 *   asks for curvature (epoch 1 with the default policy).
 * - `'gradients'`: per-sample losses and, given `alpha [L,N]`, the weighted gradients Σᵢ αₗᵢ ∇ℓᵢ of every
 *   parameter of layer l (the lighter graph every step runs). A parameter's gradient is computed from the
 *   α-scaled output-gradient of its node, activations' gradients from the unscaled one — so layer-wise
 *   coefficients cost nothing extra.
 * - `'forward'`: the original graph with parameters as inputs (the trainer's forward pass).
 * @module
 */
import type { LayerInfo, ModelAnalysis } from './analyze.js';
import { UnsupportedModelError } from './errors.js';
import { BATCH, batchLayout, batchParts, fmtShape, GraphBuilder, isBatch, type Shape } from './ir.js';
import { appendLoss, lossInput, targetShape, type LossKind } from './loss.js';
import { OP_RULES, batchNormJacobian, convFactors, groupedConvJacobian } from './ops/index.js';
import { DataType, encodeModel, makeGraph, makeModel, tensorDims, valueInfo, type NodeProto, type TensorProto, type ValueInfoProto } from './proto.js';

/** Ops whose outputs carry no gradient to their inputs (a shape, a comparison). */
const NO_GRADIENT = new Set(['Shape', 'Equal']);

/**
 * Which graph: the three of the module doc; `'evaluate'`: the forward pass as inference runs it (running
 * statistics) with the per-sample losses; `'train-forward'`: the model output as training computes it (batch
 * statistics), for targets sampled from the model; `'train-loss'`: the per-sample losses as training computes them
 * (KFAC's adaptive damping takes them at proposed parameters); `'train-logits'`: the tensor the loss reads as the
 * model's function (`lossInput`: the logits under softmax cross-entropy) as training computes it, for the
 * Gauss–Newton products.
 */
export type GraphKind = 'factors' | 'gradients' | 'forward' | 'evaluate' | 'train-forward' | 'train-loss' | 'train-logits';

/** Reserved tensor names of the training graphs. */
export const NAMES = {
  target: 'ifngd/target',
  alpha: 'ifngd/alpha',
  losses: 'ifngd/losses',
  grad: (p: string) => `ifngd/grad/${p}`,
  factorInputs: (l: number) => `ifngd/factor/${l}/inputs`,
  factorOutputGrads: (l: number) => `ifngd/factor/${l}/outputGrads`,
  /** The batch mean and (biased) variance `[C]` of the k-th training-mode BatchNormalization (`an.runningStats`). */
  batchMean: (k: number) => `ifngd/batchnorm/${k}/mean`,
  batchVariance: (k: number) => `ifngd/batchnorm/${k}/variance`,
} as const;

/** A built graph and its I/O names. */
export interface BuiltGraph {
  readonly bytes: Uint8Array;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
}

function dimsOf(s: Shape): (number | string)[] {
  return s.map((d) => (d === BATCH ? 'N' : isBatch(d) ? `N_${batchParts(d).outer}_${batchParts(d).inner}` : d));
}

/**
 * `t` (of static shape `shape`, batch somewhere) as `[N, P, k]`: each sample's rows of its last dimension `k`, in
 * order — the layout of the factors of a dense layer over positions. Batch-first tensors are only reshaped.
 */
function samplesFirst(b: GraphBuilder, t: string, shape: Shape): string {
  const k = shape[shape.length - 1]!;
  const lay = batchLayout(shape)!;
  if (isBatch(k) || lay.inner % k !== 0) throw new UnsupportedModelError(`a dense layer's ${fmtShape(shape)} carries the batch in its feature axis`);
  // flattened, the tensor is [outer, N, inner]: each sample's block is contiguous when outer = 1, else N moves first
  if (lay.outer === 1) return b.reshape(t, [-1, lay.inner / k, k]);
  const moved = b.transpose(b.reshape(t, [lay.outer, -1, lay.inner]), [1, 0, 2]);
  return b.reshape(moved, [0, -1, k]);
}

/** `d · α` with α `[N]` scaling each sample's elements of `d`, wherever its batch sits (`batchLayout`). */
function scaleSamples(b: GraphBuilder, d: string, shape: Shape, alpha: string): string {
  const lay = batchLayout(shape)!;
  const scaled = b.mul(b.reshape(d, [lay.outer, -1, lay.inner]), b.reshape(alpha, [1, -1, 1]));
  return b.reshapeLike(scaled, d);
}

function usedNames(an: ModelAnalysis): string[] {
  const names: string[] = [];
  for (const n of an.nodes) names.push(n.name, ...n.input, ...n.output);
  for (const k of an.initializers.keys()) names.push(k);
  for (const v of an.model.graph!.input) names.push(v.name);
  for (const v of an.model.graph!.output) names.push(v.name);
  return names.filter((x) => x);
}

/** The names of the running statistics (state fed to the inference graphs, not constants). */
export function runningStatNames(an: ModelAnalysis): string[] {
  return an.runningStats.flatMap((s) => [s.mean, s.variance]);
}

function io(an: ModelAnalysis, inference: boolean): { inputs: ValueInfoProto[]; initializers: TensorProto[] } {
  const fed = new Set([...an.params.map((p) => p.name), ...runningStatNames(an)]);
  const inputs = [
    ...an.inputs.map((i) => valueInfo(i.name, i.type === 'int64' ? DataType.INT64 : i.type === 'int32' ? DataType.INT32 : DataType.FLOAT, dimsOf(i.shape))),
    ...an.params.map((p) => valueInfo(p.name, DataType.FLOAT, p.dims)),
    ...(inference ? runningStatNames(an).map((n) => valueInfo(n, DataType.FLOAT, tensorDims(an.initializers.get(n)!))) : []),
    // training graphs: the Dropout masks the trainer draws for each step
    ...(inference ? [] : an.dropouts.map((d) => valueInfo(d.mask, DataType.FLOAT, dimsOf(d.shape)))),
  ];
  const initializers = [...an.initializers.values()].filter((t) => !fed.has(t.name));
  return { inputs, initializers };
}

/**
 * Per-sample gradients `[N, size]` of a scale-shift layer's parameter: `Σ` over every axis but the batch and the
 * parameter's own of `dY ∘ X` (Mul) or `dY` (Add).
 */
function perSampleScaleShift(b: GraphBuilder, layer: LayerInfo, delta: string): string {
  const node = layer.node;
  const p = layer.weight;
  const other = node.input[0] === p ? node.input[1]! : node.input[0]!;
  const per = node.opType === 'Mul' ? b.mul(delta, other) : delta;
  const out = b.shape(node.output[0]!);
  const dims = b.shape(p);
  const lead = out.length - dims.length;
  const axes = out.flatMap((d, i) => (i === 0 ? [] : i < lead || dims[i - lead] === 1 || d !== dims[i - lead] ? [i] : []));
  const summed = axes.length > 0 ? b.reduceSum(per, axes, false) : per;
  return b.reshape(summed, [0, dims.reduce((a, d) => a * d, 1)]);
}

/**
 * An embedding's per-sample Gram `[N, N]`: `Gᵢⱼ = Σₜₜ′ [idᵢₜ = idⱼₜ′]·⟨Δᵢₜ, Δⱼₜ′⟩` (sample i's gradient puts Δᵢₜ in
 * row idᵢₜ of the table), from the ids' equality matrix and the output-gradients' inner products over all
 * N·T positions, summed back to samples.
 */
function embeddingGram(b: GraphBuilder, layer: LayerInfo, delta: string): string {
  const ids = layer.node.input[1]!;
  const d = b.shape(layer.weight)[1]!;
  const t = b.shape(ids).slice(1).reduce((a, x) => a * x, 1);
  const flat = b.reshape(b.op('Cast', [ids], { to: { i: DataType.INT64 } }), [-1]);
  const same = b.op('Cast', [b.op('Equal', [b.op('Unsqueeze', [flat, b.ints([1], 'ax')]), b.op('Unsqueeze', [flat, b.ints([0], 'ax')])])], { to: { i: DataType.FLOAT } });
  const dd = b.reshape(delta, [-1, d]);
  const inner = b.op('Gemm', [dd, dd], { transB: { i: 1 } }); // [NT, NT]
  const byPos = b.mul(same, inner);
  const rowsSummed = b.reduceSum(b.reshape(byPos, [0, -1, t]), [2], false); // [NT, N]
  return b.reduceSum(b.reshape(b.transpose(rowsSummed, [1, 0]), [0, -1, t]), [2], false); // [N, N]
}

/** Builds one of the three graphs (see the module doc). */
export function buildGraph(an: ModelAnalysis, loss: LossKind, kind: GraphKind): BuiltGraph {
  const inference = kind === 'forward' || kind === 'evaluate';
  const base = io(an, inference);
  const irVersion = Math.max(Number(an.model.irVersion), 8);
  const b = new GraphBuilder(usedNames(an));
  const reserve = (n: string) => {
    try {
      return b.reserve(n);
    } catch {
      throw new UnsupportedModelError(`the model already uses the reserved name '${n}'`);
    }
  };
  for (const [k, s] of an.shapes) b.shapes.set(k, s);
  for (const [k, v] of an.constInts) b.intValues.set(k, v);

  // forward
  const saved = new Map<NodeProto, string[]>();
  const producer = new Map<string, NodeProto>();
  for (const node of an.nodes) {
    const rule = OP_RULES[node.opType]!;
    if (inference) {
      if (rule.inference) rule.inference(b, node);
      else b.push(node);
    } else if (rule.forward) saved.set(node, rule.forward(b, node));
    else b.push(node);
    for (const o of node.output) producer.set(o, node);
  }
  if (kind === 'forward') return finish(b, an, kind, base, an.model.graph!.output.map((o) => o.name), irVersion);
  if (kind === 'train-forward') return finish(b, an, kind, base, [an.output.name], irVersion);
  if (kind === 'train-logits') return finish(b, an, kind, base, [lossInput(loss, an.output.name, producer.get(an.output.name))], irVersion);

  // which tensors depend on a parameter (differentiably: a tensor's shape does not)
  const live = new Set(an.params.map((p) => p.name));
  for (const node of an.nodes) if (!NO_GRADIENT.has(node.opType) && node.input.some((i) => live.has(i))) for (const o of node.output) live.add(o);

  const target = reserve(NAMES.target);
  const lossNodes = appendLoss(b, loss, an.output.name, producer.get(an.output.name), target);
  const lossesOut = reserve(NAMES.losses);
  b.op('Identity', [lossNodes.losses], {}, lossesOut);
  const tShape = targetShape(loss, an.output.shape);
  const withTarget = { ...base, inputs: [...base.inputs, valueInfo(target, DataType.FLOAT, dimsOf(tShape))] };
  if (kind === 'evaluate' || kind === 'train-loss') return finish(b, an, kind, withTarget, [lossesOut], irVersion);

  const alphaIn = kind === 'gradients' ? reserve(NAMES.alpha) : '';
  const paramLayer = new Map(an.params.map((p) => [p.name, p.layer]));
  const alphaCache = new Map<string, string>();
  const alphaFor = (layer: number, rank: number) => {
    const key = `${layer}/${rank}`;
    let a = alphaCache.get(key);
    if (!a) {
      const row = b.op('Gather', [alphaIn, b.ints([layer], 'layer')], { axis: { i: 0 } }); // [1,N]
      a = b.reshape(row, [-1, ...Array<number>(rank - 1).fill(1)]);
      alphaCache.set(key, a);
    }
    return a;
  };
  // each sample's elements of a parameter node's output-gradient times its α (the batch first, or anywhere)
  const scaledBy = (layer: number, d: string, out: string) => {
    const shape = b.shape(out);
    if (shape[0] === BATCH) return b.mul(d, alphaFor(layer, shape.length));
    return scaleSamples(b, d, shape, alphaFor(layer, 1)); // α [N]
  };

  // backward
  const grads = new Map<string, string[]>();
  const addGrad = (name: string, g: string | undefined) => {
    if (g) grads.set(name, [...(grads.get(name) ?? []), g]);
  };
  const total = (name: string): string | undefined => {
    const gs = grads.get(name);
    if (!gs || gs.length === 0) return undefined;
    if (gs.length === 1) return gs[0];
    const s = b.op('Sum', gs);
    grads.set(name, [s]);
    return s;
  };
  addGrad(lossNodes.seedAt, lossNodes.seed);
  const layerDelta = new Map<NodeProto, string>();
  const layerNodes = new Set(an.layers.map((l) => l.node));
  const stopAt = lossNodes.seedAt;
  for (let k = an.nodes.length - 1; k >= 0; k--) {
    const node = an.nodes[k]!;
    if (node.output.includes(an.output.name) && stopAt !== an.output.name) continue; // fused Softmax
    const dOut = node.output.map((o) => total(o));
    if (dOut.every((d) => d === undefined)) continue;
    if (layerNodes.has(node)) layerDelta.set(node, dOut[0]!);
    const rule = OP_RULES[node.opType]!;
    const rn = { node, saved: saved.get(node) ?? [] };
    const isParam = node.input.map((i) => paramLayer.has(i));
    const wantAct = node.input.map((i, j) => !isParam[j] && live.has(i));
    if (wantAct.some(Boolean)) rule.backward(b, rn, dOut, wantAct).forEach((g, j) => addGrad(node.input[j]!, g));
    if (kind === 'gradients' && isParam.some(Boolean)) {
      const layer = paramLayer.get(node.input[isParam.indexOf(true)]!)!;
      const scaled = dOut.map((d, j) => (d ? scaledBy(layer, d, node.output[j]!) : undefined));
      rule.backward(b, rn, scaled, isParam).forEach((g, j) => addGrad(node.input[j]!, g));
    }
  }

  // outputs
  const outputs: string[] = [lossesOut];
  if (kind === 'factors') {
    an.layers.forEach((layer, l) => {
      const delta = layerDelta.get(layer.node);
      if (!delta) throw new UnsupportedModelError(`layer ${l} ('${layer.node.name}') does not influence the loss`);
      const inName = reserve(NAMES.factorInputs(l));
      if (layer.kind === 'scale-shift' || layer.kind === 'grouped-conv' || layer.kind === 'batch-norm') {
        // the per-sample gradients are the factor (no output-gradient factor)
        const j =
          layer.kind === 'scale-shift'
            ? perSampleScaleShift(b, layer, delta)
            : layer.kind === 'batch-norm'
              ? batchNormJacobian(b, saved.get(layer.node)![0]!, delta, b.shape(layer.node.input[0]!).length)
              : groupedConvJacobian(b, layer.node, delta, layer.bias !== null);
        b.op('Identity', [j], {}, inName);
        outputs.push(inName);
        return;
      }
      if (layer.kind === 'embedding') {
        // the per-sample Gram itself (fisher's `gram` factors), never the one-hot patches: cost (nT)²·d, not ·rows
        b.op('Identity', [embeddingGram(b, layer, delta)], {}, inName);
        outputs.push(inName);
        return;
      }
      const dName = reserve(NAMES.factorOutputGrads(l));
      const xShape = b.shape(layer.node.input[0]!);
      if (layer.kind === 'dense' && (xShape.length > 2 || xShape[0] !== BATCH)) {
        // a dense layer over positions: patches [N, T, K] and output-gradients [N, T, M], each sample's rows together
        // wherever the batch sits (attention's [T, N, D] and [T·N, D])
        const yShape = b.shape(layer.node.output[0]!);
        b.op('Identity', [samplesFirst(b, b.scale(layer.node.input[0]!, layer.scaleA), xShape)], {}, inName);
        b.op('Identity', [samplesFirst(b, b.scale(delta, layer.scaleD), yShape)], {}, dName);
      } else if (layer.kind === 'dense') {
        b.op('Identity', [b.scale(layer.node.input[0]!, layer.scaleA)], {}, inName);
        b.op('Identity', [b.scale(delta, layer.scaleD)], {}, dName);
      } else {
        const f = convFactors(b, layer.node, delta);
        b.op('Identity', [f.patches], {}, inName);
        b.op('Identity', [f.outputGrads], {}, dName);
      }
      outputs.push(inName, dName);
    });
  } else {
    for (const p of an.params) {
      const g = total(p.name);
      if (!g) throw new UnsupportedModelError(`parameter '${p.name}' does not influence the loss`);
      const out = reserve(NAMES.grad(p.name));
      b.op('Identity', [g], {}, out);
      outputs.push(out);
    }
    // the batch statistics the running ones move towards
    const byName = new Map(an.nodes.map((n) => [n.name || n.output[0] || '?', n]));
    an.runningStats.forEach((s, k) => {
      const [, , mean, variance] = saved.get(byName.get(s.node)!)!;
      outputs.push(b.op('Identity', [mean!], {}, reserve(NAMES.batchMean(k))), b.op('Identity', [variance!], {}, reserve(NAMES.batchVariance(k))));
    });
  }

  if (kind === 'gradients') withTarget.inputs.push(valueInfo(alphaIn, DataType.FLOAT, [an.layers.length, 'N']));
  return finish(b, an, kind, withTarget, outputs, irVersion);
}

/** The graph of `outputs`, with only the nodes and initializers they need (ONNX Runtime warns of unused initializers). */
function finish(
  b: GraphBuilder,
  an: ModelAnalysis,
  kind: GraphKind,
  base: { inputs: ValueInfoProto[]; initializers: TensorProto[] },
  outputs: readonly string[],
  irVersion: number,
): BuiltGraph {
  const nodes = needed(b.nodes, outputs);
  const read = new Set(nodes.flatMap((n) => n.input));
  const graph = makeGraph({
    name: `ifngd_${kind}`,
    nodes,
    inputs: base.inputs,
    outputs: outputs.map((o) => valueInfo(o, DataType.FLOAT)),
    initializers: [...base.initializers, ...b.initializers].filter((t) => read.has(t.name)),
  });
  const model = makeModel(graph, Math.max(an.opset, 16), irVersion);
  return { bytes: encodeModel(model), inputs: base.inputs.map((v) => v.name), outputs: [...outputs] };
}

/** The nodes `outputs` depend on, in their order. */
function needed(nodes: readonly NodeProto[], outputs: readonly string[]): NodeProto[] {
  const want = new Set(outputs);
  const keep = new Array<boolean>(nodes.length).fill(false);
  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k]!;
    if (!n.output.some((o) => want.has(o))) continue;
    keep[k] = true;
    for (const i of n.input) if (i) want.add(i);
  }
  return nodes.filter((_, k) => keep[k]);
}
