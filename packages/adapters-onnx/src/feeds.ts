/**
 * Validation of the feeds of a step, an evaluation or a forward pass against the model inputs.
 * @module
 */
import type { Tensor } from 'onnxruntime-common';
import type { ModelAnalysis } from './analyze.js';
import { FeedError } from './errors.js';
import { BATCH, fmtShape } from './ir.js';

/** One tensor per model input, by input name. */
export type Feeds = Readonly<Record<string, Tensor>>;

/** Validates feeds (every input present, no unknown one, float32, the model's shape, one batch size); returns the batch size. */
export function checkFeeds(an: ModelAnalysis, feeds: Feeds): number {
  const names = an.inputs.map((i) => i.name);
  if (typeof feeds !== 'object' || feeds === null) throw new FeedError('feeds must be a record of tensors');
  const known = new Set(names);
  for (const k of Object.keys(feeds)) if (!known.has(k)) throw new FeedError(`the model has no input '${k}' (inputs: ${names.join(', ')})`);
  let n = -1;
  for (const inp of an.inputs) {
    const t = feeds[inp.name];
    if (!t) throw new FeedError(`missing feed for model input '${inp.name}'`);
    if (inp.type === 'float32' && (t.type !== 'float32' || !(t.data instanceof Float32Array))) throw new FeedError(`input '${inp.name}' must be float32, got ${t.type}`);
    if (inp.type !== 'float32') checkIds(inp, t);
    const ok = t.dims.length === inp.shape.length && inp.shape.every((d, i) => d === BATCH || d === t.dims[i]);
    if (!ok || (t.dims[0] ?? 0) < 1) throw new FeedError(`input '${inp.name}' must be ${fmtShape(inp.shape)} with N ≥ 1, got [${t.dims.join(',')}]`);
    if (n >= 0 && t.dims[0] !== n) throw new FeedError(`inputs disagree on the batch size (${n} vs ${t.dims[0]})`);
    n = t.dims[0]!;
  }
  return n;
}

/**
 * Integer ids: the input's type (int64 or int32, as the model declares it), and below the vocabulary of the
 * embedding that reads them (ONNX Runtime would otherwise fail inside the graph, or read out of bounds).
 */
function checkIds(inp: ModelAnalysis['inputs'][number], t: Tensor): void {
  const ok = inp.type === 'int64' ? t.type === 'int64' && t.data instanceof BigInt64Array : t.type === 'int32' && t.data instanceof Int32Array;
  if (!ok) throw new FeedError(`input '${inp.name}' must be ${inp.type} ids, got ${t.type}`);
  const v = inp.vocabulary;
  if (v === undefined) return;
  // negative ids index from the end in ONNX's Gather, which an embedding's per-sample Gram does not follow: refused
  for (const x of t.data as BigInt64Array | Int32Array) {
    const id = Number(x);
    if (!(id >= 0 && id < v)) throw new FeedError(`input '${inp.name}': id ${id} is outside the embedding's ${v} rows [0, ${v})`);
  }
}
