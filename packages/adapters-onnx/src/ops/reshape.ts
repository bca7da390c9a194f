/**
 * Flatten and Reshape (with constant target shapes) under a symbolic batch dimension; both differentiate to
 * `Reshape(dy, Shape(x))`.
 * @module
 */
import { BATCH, fmtShape, type Shape } from '../ir.js';
import { Attrs } from '../proto.js';
import { input, type OpRule } from './types.js';

function product(s: readonly number[]): number {
  return s.reduce((a, d) => a * d, 1);
}

/** Product of a group of dims that may hold the batch: `BATCH` when it is exactly N, else a reason. */
function group(dims: Shape): number | string {
  const hasBatch = dims.includes(BATCH);
  const p = product(dims.filter((d) => d !== BATCH));
  if (!hasBatch) return p;
  return p === 1 ? BATCH : `the batch dimension would merge with others (${fmtShape(dims)})`;
}

const back: OpRule['backward'] = (b, { node }, [dY], wanted) => {
  if (!dY || !wanted[0]) return [];
  return [b.reshapeLike(dY, input(node, 0))];
};

/** `Flatten(axis)` → 2-D. */
export const flatten: OpRule = {
  infer(node, ctx) {
    const x = ctx.shape(input(node, 0));
    let axis = new Attrs(node).int('axis', 1);
    if (axis < 0) axis += x.length;
    const a = group(x.slice(0, axis));
    const c = group(x.slice(axis));
    if (typeof a === 'string') return a;
    if (typeof c === 'string') return c;
    return [[a, c]];
  },
  backward: back,
};

/** `Reshape(x, shape)` with a `shape` known at analysis (0 copies, −1 infers; the batch size read by Shape copies). */
export const reshape: OpRule = {
  infer(node, ctx) {
    const x = ctx.shape(input(node, 0));
    const computed = ctx.constInts(input(node, 1));
    if (!computed) return 'the target shape must be a constant (or shape arithmetic on constants and Shape)';
    // the batch size read by Shape (`x.view(x.size(0), -1)`) where the input has its batch: a copy of that dim
    if (computed.some((d, i) => Number.isNaN(d) && x[i] !== BATCH)) return `the target shape [${computed.join(',')}] moves the batch size to another axis`;
    const target = computed.map((d) => (Number.isNaN(d) ? 0 : d));
    if (new Attrs(node).int('allowzero', 0) && target.includes(0)) return 'allowzero=1 with zeros is not supported';
    const out = target.map((d, i) => (d === 0 ? x[i]! : d));
    const inStatic = product(x.filter((d) => d !== BATCH));
    const hasBatch = x.includes(BATCH);
    const inferIdx = target.indexOf(-1);
    const known = out.filter((d, i) => i !== inferIdx && d !== BATCH);
    const batchCopied = out.some((d, i) => d === BATCH && target[i] === 0);
    if (inferIdx >= 0) {
      const rest = product(known);
      if (inStatic % rest !== 0) return `cannot reshape ${fmtShape(x)} to [${target.join(',')}]`;
      const v = inStatic / rest;
      if (hasBatch && !batchCopied) {
        if (v !== 1) return `the batch dimension would merge with others ([${target.join(',')}])`;
        out[inferIdx] = BATCH;
      } else out[inferIdx] = v;
    } else if (hasBatch && !batchCopied) return `a fixed target shape [${target.join(',')}] loses the symbolic batch dimension`;
    const outStatic = product(out.filter((d) => d !== BATCH));
    if (outStatic !== inStatic) return `cannot reshape ${fmtShape(x)} to [${target.join(',')}]`;
    return [out];
  },
  backward: back,
};

/** `Constant` (no inputs, no gradient); its shape comes from the value tensor. */
export const constant: OpRule = {
  infer(node) {
    const t = new Attrs(node).tensor('value');
    if (!t) return 'only Constant with a tensor `value` is supported';
    return [t.dims.map((d) => Number(d))];
  },
  backward() {
    return [];
  },
};
