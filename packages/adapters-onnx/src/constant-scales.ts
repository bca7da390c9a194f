/**
 * Float initializers the trainer leaves constant although they may be parameters: per-feature tensors (more than
 * one element) that an element-wise op applies to an activation, and that are not scale-shift layers — read by Sub
 * or Div, read by more than one node, or applied to the model's inputs rather than downstream of a trained layer
 * (preprocessing constants) — and matrices (rank ≥ 2) that no layer trains (a weight read through an op the trainer
 * does not recognize as a layer's, say). `OnnxTrainer.create` warns once, naming them, so that a frozen parameter is
 * never a silent surprise.
 * @module
 */
import type { ModelAnalysis } from './analyze.js';
import { DataType, tensorDims } from './proto.js';

const ELEMENTWISE = new Set(['Mul', 'Add', 'Sub', 'Div']);

/** The names of the float initializers with more than one element that an element-wise op applies to an activation. */
export function constantScales(an: ModelAnalysis): string[] {
  const params = new Set(an.params.map((p) => p.name));
  const found = new Set<string>();
  for (const node of an.nodes) {
    if (!ELEMENTWISE.has(node.opType)) continue;
    const inits = node.input.filter((i) => an.initializers.has(i));
    if (inits.length !== 1 || node.input.length !== 2) continue; // both constant: arithmetic on constants
    const name = inits[0]!;
    const t = an.initializers.get(name)!;
    if (params.has(name) || t.dataType !== DataType.FLOAT) continue;
    if (tensorDims(t).reduce((a, d) => a * d, 1) > 1) found.add(name);
  }
  const read = new Set(an.nodes.flatMap((n) => n.input));
  for (const [name, t] of an.initializers) {
    const dims = tensorDims(t);
    if (t.dataType === DataType.FLOAT && dims.length >= 2 && dims.reduce((a, d) => a * d, 1) > 1 && !params.has(name) && read.has(name)) found.add(name);
  }
  return [...found];
}
