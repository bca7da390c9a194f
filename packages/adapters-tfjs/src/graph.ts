/**
 * Compiling a `tf.Sequential` / `tf.LayersModel` — any DAG of layers: branches and merges, layers applied at
 * several nodes (shared weights), models used as layers (nested), frozen layers and sub-models — into a
 * {@link CompiledModel}. Each layer is compiled once by its registered block (`layers/registry.ts`); the
 * forward pass runs the nodes in topological order.
 * @module
 */
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { AdapterArgumentError, UnsupportedLayerError, UnsupportedModelError } from './errors.js';
import { ModelIo, type IoModelLike } from './io.js';
import { frozenOp } from './layers/frozen.js';
import { genericOp } from './layers/generic.js';
import { layerPenalties } from './layers/regularizers.js';
import { layerBlock } from './layers/registry.js';
import type { CompileContext, LayerLike, LayerOp } from './layers/types.js';
import { RANDOM_LAYERS } from './layers/weightless.js';
import { identityTap } from './identity-tap.js';
import type { CompiledModel, FoldActivation, Penalty, Tap, TapWeights } from './model.js';

interface SymbolicLike {
  readonly id: number;
  readonly sourceLayer: LayerLike & { readonly inboundNodes: readonly NodeLike[] };
  readonly nodeIndex: number;
  readonly tensorIndex: number;
}

interface NodeLike {
  readonly inputTensors: readonly SymbolicLike[];
  readonly outputTensors: readonly SymbolicLike[];
  readonly outboundLayer: LayerLike;
}

interface ModelLike extends LayerLike {
  readonly inputs: readonly SymbolicLike[];
  readonly outputs: readonly SymbolicLike[];
  readonly layers: readonly LayerLike[];
}

const isModel = (l: unknown): l is ModelLike =>
  typeof l === 'object' && l !== null && Array.isArray((l as ModelLike).layers) && Array.isArray((l as ModelLike).inputs) && Array.isArray((l as ModelLike).outputs);

/** Options of {@link fromLayersModel}. */
export interface CompileOptions {
  /** The optimizer named in refusals (default 'the trainer'). */
  readonly optimizer?: string;
  /** Where the one-time warnings about layers without a block go (default `console.warn`). */
  readonly warn?: (message: string) => void;
  /**
   * The optimizer needs per-sample gradients of every weight (FNGD; default true): a layer without a block in a
   * model whose samples interact (BatchNormalization) is refused then — one-sample passes would see other
   * statistics.
   */
  readonly perSample?: boolean;
  /**
   * Layers (by name or class name; a nested model's name covers its layers) whose weights train with the plain
   * mean-loss gradient: run as compiled, but tapping no site (the compiled model's `plain`). Each entry must
   * match a layer.
   */
  readonly skip?: readonly string[];
}

/** One output of a compiled graph: what its op can fold, and what it ends in. */
interface GraphOutput {
  /** The activation the output's op can fold, when the output feeds no other node. */
  readonly foldable: FoldActivation;
  /** The softmax/sigmoid the output ends in, foldable or not (null: none or unknown). */
  readonly activation: FoldActivation;
}

/** A compiled graph: its nodes in topological order, run on concrete inputs. */
interface Graph extends GraphOutput {
  /** `fold`: for every output (or all), return the logits before its foldable activation. */
  run(inputs: readonly Tensor[], tap: Tap, training: boolean, fold: boolean | readonly boolean[]): Tensor[];
  /** Each output's fold information (the graph's own `foldable`/`activation`: its single output's, else null). */
  readonly outputs: readonly GraphOutput[];
}

/** The softmax/sigmoid a layer ends in, read from its config (null: none). */
function finalActivation(layer: LayerLike): FoldActivation {
  const cls = layer.getClassName();
  if (cls === 'Softmax') return 'softmax';
  const a = layer.getConfig()['activation'];
  return a === 'softmax' || a === 'sigmoid' ? a : null;
}

/** State shared by every graph of one compilation. */
class Compilation {
  readonly variables: Variable[] = [];
  readonly names: string[] = [];
  readonly taps: TapWeights[] = [];
  readonly penalties: Penalty[] = [];
  readonly plain: Variable[] = [];
  readonly skipMatched = new Set<string>();
  readonly ops = new Map<LayerLike, LayerOp>();
  readonly pending = new Map<object, { targets: readonly Variable[]; values: readonly Tensor[] }>();
  couples = false;
  /** A layer's training-mode forward draws random numbers. */
  random = false;
  readonly generic: LayerLike[] = [];
  readonly #seen = new Set<Variable>();
  readonly #tapped = new Set<Variable>();
  constructor(readonly options: CompileOptions) {}

  context(frozen: boolean, skipped = false): CompileContext {
    return {
      frozen,
      param: (v, name) => {
        if (this.#seen.has(v)) return;
        this.#seen.add(v);
        if (skipped) this.plain.push(v);
        let unique = name;
        for (let k = 2; this.names.includes(unique); k++) unique = `${name}#${k}`;
        this.variables.push(v);
        this.names.push(unique);
      },
      kronecker: (w) => {
        if (skipped || this.#tapped.has(w.kernel)) return;
        this.#tapped.add(w.kernel);
        this.taps.push(w);
      },
      couplesSamples: () => {
        this.couples = true;
      },
      pendingState: (key, targets, values) => {
        const old = this.pending.get(key);
        if (old) for (const t of old.values) t.dispose();
        this.pending.set(key, { targets, values });
      },
      nested: (model, nestedFrozen) => {
        const g = this.graph(model as ModelLike, nestedFrozen, skipped);
        return { foldable: g.foldable, apply: (xs, tap, training, fold) => g.run(xs, tap, training, fold) };
      },
    };
  }

  /** Whether `layer` is listed in `skip` (by name or class); records the matching entries. */
  #listed(layer: LayerLike): boolean {
    const hit = [layer.name, layer.getClassName()].filter((k) => this.options.skip?.includes(k));
    for (const k of hit) this.skipMatched.add(k);
    return hit.length > 0;
  }

  /** The op of one layer: a nested model, a frozen layer, its block, or the generic route; skipped: no sites. */
  op(layer: LayerLike, frozen: boolean, parentSkipped = false): LayerOp {
    const known = this.ops.get(layer);
    if (known) return known;
    const skipped = this.#listed(layer) || parentSkipped;
    const op = this.#compile(layer, frozen, skipped);
    const out: LayerOp = skipped ? { foldable: op.foldable, apply: (xs, _tap, training, fold) => op.apply(xs, identityTap, training, fold) } : op;
    this.ops.set(layer, out);
    return out;
  }

  #compile(layer: LayerLike, frozen: boolean, skipped: boolean): LayerOp {
    const cls = layer.getClassName();
    // frozen: inside a frozen model, `trainable: false`, or every weight it declares trainable switched off (what a
    // LayersModel's `trainable = false` does to the layers it holds; a BatchNormalization without γ and β declares
    // none and is not frozen by that)
    const declared = (layer as unknown as { _trainableWeights?: readonly unknown[] })._trainableWeights ?? layer.trainableWeights;
    const isFrozen = frozen || !layer.trainable || (declared.length > 0 && layer.trainableWeights.length === 0);
    const ctx = this.context(isFrozen, skipped);
    if (RANDOM_LAYERS.includes(cls)) this.random = true;
    const block = layerBlock(cls);
    let op: LayerOp;
    if (isModel(layer)) op = ctx.nested(layer, isFrozen);
    else if (isFrozen && layer.weights.length > 0 && block?.compilesFrozen !== true) op = frozenOp(layer);
    else {
      if (block) op = block.compile(layer, ctx);
      else if (layer.weights.length === 0) {
        throw new UnsupportedLayerError(layer.name, cls, `${this.options.optimizer ?? 'the trainer'} has no block for this weight-free layer class; register one with registerLayerBlock (docs/guides/layer-blocks.md) or write the model as a FunctionModel`);
      } else {
        if (!skipped) this.generic.push(layer);
        op = genericOp(layer, ctx, skipped ? () => {} : (this.options.warn ?? ((m) => console.warn(m))));
      }
    }
    if (!isModel(layer)) this.penalties.push(...layerPenalties(layer, this.#seen));
    return op;
  }

  /** Compiles `model`'s graph (its layers' ops, its nodes in topological order). */
  graph(model: ModelLike, frozen: boolean, skipped = false): Graph {
    const inputIds = model.inputs.map((s) => s.id);
    const order: NodeLike[] = [];
    const visited = new Set<NodeLike>();
    const consumed = new Set<number>();
    const visit = (st: SymbolicLike): void => {
      if (inputIds.includes(st.id)) return;
      const node = st.sourceLayer.inboundNodes[st.nodeIndex];
      if (!node) throw new UnsupportedModelError(`layer '${st.sourceLayer.name}': a tensor of the graph has no producing node`);
      if (visited.has(node)) return;
      visited.add(node);
      if (node.inputTensors.length === 0) {
        throw new UnsupportedModelError(`layer '${st.sourceLayer.name}' (${st.sourceLayer.getClassName()}) is an input the model does not declare`);
      }
      for (const i of node.inputTensors) {
        consumed.add(i.id);
        visit(i);
      }
      order.push(node);
    };
    for (const o of model.outputs) visit(o);
    const uses = new Map<LayerLike, number>();
    for (const node of order) uses.set(node.outboundLayer, (uses.get(node.outboundLayer) ?? 0) + 1);
    for (const [layer, count] of uses) {
      const why = layerBlock(layer.getClassName())?.onePlaceOnly;
      if (count > 1 && why) throw new UnsupportedLayerError(layer.name, layer.getClassName(), `is applied at ${count} places: ${why}`);
    }
    const ops = order.map((node) => this.op(node.outboundLayer, frozen, skipped));
    const outIds = model.outputs.map((o) => o.id);
    const outs = model.outputs.map((out) => {
      const alone = !consumed.has(out.id) && !inputIds.includes(out.id) && outIds.filter((id) => id === out.id).length === 1;
      const node = alone ? out.sourceLayer.inboundNodes[out.nodeIndex] : undefined;
      const op = node ? ops[order.indexOf(node)] : undefined;
      const foldable: FoldActivation = op && node && node.outputTensors.length === 1 ? op.foldable : null;
      const layer = out.sourceLayer;
      const activation = isModel(layer) ? this.graph(layer, frozen, skipped).activation : finalActivation(layer);
      return { node, foldable, activation };
    });
    const single = outs.length === 1 ? outs[0] : undefined;
    return {
      foldable: single?.foldable ?? null,
      activation: single?.activation ?? null,
      outputs: outs.map(({ foldable, activation }) => ({ foldable, activation })),
      run(inputs, tap, training, fold) {
        const folding = new Set(outs.filter((_, k) => (typeof fold === 'boolean' ? fold : fold[k] === true)).map((o) => o.node));
        if (inputs.length !== inputIds.length) throw new AdapterArgumentError(`the model takes ${inputIds.length} inputs, got ${inputs.length}`);
        const values = new Map<number, Tensor>();
        inputIds.forEach((id, i) => values.set(id, inputs[i] as Tensor));
        order.forEach((node, k) => {
          const xs = node.inputTensors.map((s) => values.get(s.id) as Tensor);
          const ys = (ops[k] as LayerOp).apply(xs, tap, training, folding.has(node));
          node.outputTensors.forEach((s, i) => {
            const y = ys[i];
            if (!y) throw new UnsupportedModelError(`layer '${node.outboundLayer.name}' returned ${ys.length} outputs, the graph uses output ${i}`);
            values.set(s.id, y);
          });
        });
        return model.outputs.map((s) => values.get(s.id) as Tensor);
      },
    };
  }
}

/**
 * Compiles a `tf.Sequential` or `tf.LayersModel` into a {@link CompiledModel}: any DAG of layers, with one or
 * several inputs and outputs (several: packed into one input and one output tensor, `io.ts`; then every input
 * and output needs a fixed per-sample shape). Layers run through their registered block (`registerLayerBlock`;
 * `supportedLayers()` lists the classes: Dense, Conv1D/2D, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D,
 * SimpleRNN/LSTM/GRU, Embedding, Layer/BatchNormalization, PReLU and the weight-free layers of
 * `WEIGHTLESS_LAYERS`), frozen layers forward only, nested models recursively; a layer with weights but no
 * block trains through the generic per-sample route (a one-time warning). A weight-free layer without a block
 * throws {@link UnsupportedLayerError} naming it and what to do. Nothing is modified.
 *
 * @param fold `'softmax'` / `'sigmoid'` (one per output, or one for all): when an output ends in that
 *   activation, the forward returns the logits before it (the cross-entropy losses take logits; numerically
 *   stable).
 */
export function fromLayersModel(model: LayersModel, fold: FoldActivation | readonly FoldActivation[] = null, options: CompileOptions = {}): CompiledModel {
  if (!isModel(model) || typeof (model as { getClassName?: unknown }).getClassName !== 'function') {
    throw new AdapterArgumentError('fromLayersModel: expected a tf.Sequential or tf.LayersModel');
  }
  const who = options.optimizer ?? 'the trainer';
  const io = ModelIo.of(model as unknown as IoModelLike);
  const folds = typeof fold === 'string' || fold === null ? model.outputs.map(() => fold) : [...fold];
  if (folds.length !== model.outputs.length) throw new AdapterArgumentError(`fromLayersModel: ${folds.length} folds for ${model.outputs.length} outputs`);
  const c = new Compilation(options);
  const graph = c.graph(model, !model.trainable);
  const unknown = (options.skip ?? []).filter((k) => !c.skipMatched.has(k));
  if (unknown.length > 0) {
    throw new AdapterArgumentError(`skipLayers: ${unknown.map((k) => `'${k}'`).join(', ')} match no layer name or class of the model`);
  }
  const g = c.generic[0];
  if (g && c.couples && options.perSample !== false) {
    throw new UnsupportedLayerError(
      g.name,
      g.getClassName(),
      `${who} has no block for this class, and the model's BatchNormalization couples the samples, so the generic per-sample route (one pass per sample) would be wrong; register a block (docs/guides/layer-blocks.md), freeze the layer, use perSample: 'exact', or train with kfac or a tfjs optimizer`,
    );
  }
  if (c.variables.length === 0) throw new UnsupportedModelError(`${who}: the model has no trainable weights (every layer is frozen or weight-free)`);
  const foldedAll = graph.outputs.map((o, k) => {
    const f = folds[k] ?? null;
    const folded: FoldActivation = f !== null && o.foldable === f ? f : null;
    if (f !== null && folded === null && o.activation === f) {
      const which = graph.outputs.length > 1 ? `output ${k} ('${io?.outputs[k]?.name ?? k}') of the model` : 'the model';
      throw new UnsupportedModelError(
        `${who}: ${which} ends in a ${f} the cross-entropy loss cannot take over (its last layer is frozen, has no block, or its output feeds another layer), so the loss would read probabilities as logits; end the model in a trainable layer with that activation, or in logits`,
      );
    }
    return folded;
  });
  const foldFlags = foldedAll.map((f) => f !== null);
  const dropPending = (): void => {
    for (const p of c.pending.values()) for (const t of p.values) t.dispose();
    c.pending.clear();
  };
  return {
    variables: c.variables,
    names: c.names,
    folded: io ? null : (foldedAll[0] ?? null),
    outputsFolded: foldedAll,
    io,
    taps: c.taps,
    penalties: c.penalties,
    plain: c.plain,
    couplesSamples: c.couples,
    stochastic: c.random,
    forward(x, tap, training) {
      if (!io) return graph.run([x], tap, training, foldFlags)[0] as Tensor;
      return io.packOutputs(graph.run(io.unpackInputs(x), tap, training, foldFlags));
    },
    commitState() {
      for (const p of c.pending.values()) p.targets.forEach((v, i) => v.assign(p.values[i] as Tensor));
      dropPending();
    },
    discardState: dropPending,
    isolatedState<R>(fn: () => R): R {
      const held = new Map(c.pending);
      c.pending.clear();
      try {
        return fn();
      } finally {
        dropPending();
        for (const [k, v] of held) c.pending.set(k, v);
      }
    },
  };
}
