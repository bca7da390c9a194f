/**
 * PyTorch's exporter deduplicates initializers: parameters with equal values (the zero biases a BatchNorm folds
 * into its convolutions at an eval export, say) become one initializer, read by each former parameter through an
 * `Identity` node. In the PyTorch model they are separate parameters, trained separately; trained as one, the
 * layers would share their bias. This pass gives each such `Identity` output its own initializer (a copy, named
 * after the output) and removes the `Identity` node — the model PyTorch trained, which `exportModel` writes back.
 * Initializers read directly by several layers (weights genuinely tied in the file) are left as they are; the
 * analysis refuses them as trainable.
 * @module
 */
import { cloneModel, DataType, floatTensor, tensorDims, tensorFloats, type ModelProto } from './proto.js';

/** The model with every float initializer read through `Identity` nodes given back to each reader. */
export function unshareIdentityInitializers(model: ModelProto): { readonly model: ModelProto; readonly unshared: readonly string[] } {
  const graph = model.graph;
  if (!graph) return { model, unshared: [] };
  const inits = new Map(graph.initializer.map((t) => [t.name, t]));
  const outputs = new Set(graph.output.map((o) => o.name));
  const aliases = graph.node.filter((n) => {
    if (n.opType !== 'Identity' || (n.domain !== '' && n.domain !== 'ai.onnx')) return false;
    const src = inits.get(n.input[0] ?? '');
    const out = n.output[0];
    return src !== undefined && src.dataType === DataType.FLOAT && out !== undefined && !outputs.has(out) && !inits.has(out);
  });
  if (aliases.length === 0) return { model, unshared: [] };
  const m = cloneModel(model);
  const g = m.graph!;
  const byName = new Map(g.initializer.map((t) => [t.name, t]));
  const removed = new Set(aliases.map((n) => n.output[0] as string));
  for (const name of removed) {
    const alias = aliases.find((n) => n.output[0] === name)!;
    const src = byName.get(alias.input[0] as string)!;
    g.initializer.push(floatTensor(name, tensorDims(src), tensorFloats(src)));
  }
  g.node = g.node.filter((n) => !(n.opType === 'Identity' && removed.has(n.output[0] ?? '')));
  // an initializer only the removed nodes read is dropped (each reader has its copy now)
  const read = new Set(g.node.flatMap((n) => n.input));
  for (const o of g.output) read.add(o.name);
  const dropped = new Set(g.initializer.filter((t) => !read.has(t.name) && aliases.some((n) => n.input[0] === t.name)).map((t) => t.name));
  g.initializer = g.initializer.filter((t) => !dropped.has(t.name));
  g.input = g.input.filter((v) => !dropped.has(v.name)); // listed as graph inputs too (IR < 4)
  // value infos of the former Identity outputs stay valid (same names, same shapes)
  return { model: m, unshared: [...removed] };
}
