/**
 * Flatten and Reshape (with constant target shapes) under a symbolic batch dimension; both differentiate to
 * `Reshape(dy, Shape(x))`.
 * @module
 */
import { BATCH, batchDim, batchLayout, fmtShape, isBatch, staticSize } from '../ir.js';
import { Attrs } from '../proto.js';
import { input, type OpRule } from './types.js';

function product(s: readonly number[]): number {
  return s.reduce((a, d) => a * d, 1);
}

/**
 * The dimension at `at` of a reshaped tensor that carries the batch, from where the batch sits in the input
 * (`batchLayout`: `outer` elements before each sample's block, `inner` in it) and the static sizes around it in the
 * output; a reason when the output would split a sample's block or interleave samples differently.
 */
function batchAt(layout: { outer: number; inner: number }, out: readonly number[], at: number, what: string): number | string {
  const before = product(out.slice(0, at));
  const after = product(out.slice(at + 1));
  if (layout.outer % before !== 0 || layout.inner % after !== 0) return `${what} would split the batch across dimensions`;
  return batchDim(layout.outer / before, layout.inner / after);
}

const back: OpRule['backward'] = (b, { node }, [dY], wanted) => {
  if (!dY || !wanted[0]) return [];
  return [b.reshapeLike(dY, input(node, 0))];
};

/** `Flatten(axis)` → 2-D (the batch may merge with static dims: its layout is kept). */
export const flatten: OpRule = {
  infer(node, ctx) {
    const x = ctx.shape(input(node, 0));
    let axis = new Attrs(node).int('axis', 1);
    if (axis < 0) axis += x.length;
    const lay = batchLayout(x);
    const [head, tail] = [x.slice(0, axis), x.slice(axis)];
    if (!lay) return [[product(head), product(tail)]];
    const out = [staticSize(head), staticSize(tail)];
    const at = lay.axis < axis ? 0 : 1;
    const d = batchAt(lay, out, at, `Flatten of ${fmtShape(x)}`);
    if (typeof d === 'string') return d;
    out[at] = d;
    return [out];
  },
  backward: back,
};

/**
 * `Reshape(x, shape)` with a `shape` known at analysis: 0 copies, −1 infers, and the batch size read by Shape (`NaN`,
 * maybe times static sizes: `x.view(x.size(0), -1)`, attention's `view(T, N·H, d)`) marks the dimension that carries
 * the batch. Where the batch ends up follows from where it was: the output is refused when that would split a
 * sample's elements or reorder them.
 */
export const reshape: OpRule = {
  infer(node, ctx) {
    const x = ctx.shape(input(node, 0));
    const computed = ctx.constInts(input(node, 1));
    if (!computed) return 'the target shape must be a constant (or shape arithmetic on constants and Shape)';
    if (new Attrs(node).int('allowzero', 0) && computed.includes(0)) return 'allowzero=1 with zeros is not supported';
    const shown = `[${computed.map((d) => (Number.isNaN(d) ? 'N…' : d)).join(',')}]`;
    const lay = batchLayout(x);
    // the dims that carry the batch: a batch size read by Shape, or a copy (0) of the input's batch dim
    const carries = computed.flatMap((d, i) => (Number.isNaN(d) || (d === 0 && isBatch(x[i] ?? 0)) ? [i] : []));
    const inferIdx = computed.indexOf(-1);
    const out = computed.map((d, i) => (d === 0 ? x[i]! : d));
    if (!lay) {
      if (carries.length > 0) return `the target shape ${shown} reads a batch size the input does not have`;
      const rest = product(out.filter((_, i) => i !== inferIdx));
      if (inferIdx >= 0) {
        if (product(x) % rest !== 0) return `cannot reshape ${fmtShape(x)} to ${shown}`;
        out[inferIdx] = product(x) / rest;
      }
      return product(out) === product(x) ? [out] : `cannot reshape ${fmtShape(x)} to ${shown}`;
    }
    if (carries.length > 1) return `the target shape ${shown} puts the batch size in two dimensions`;
    if (inferIdx >= 0 && carries.length === 1 && Number.isNaN(computed[carries[0]!]!) && ctx.batchDerived(input(node, 1))) {
      // `view(N·H, -1, d)`: a size computed from the batch size beside a −1 does not say how the batch splits
      return `the target shape ${shown} holds a size computed from the batch size beside a −1; export the model with that dimension written out (e.g. view(n * h, t, d))`;
    }
    const total = lay.outer * lay.inner;
    let at: number;
    if (carries.length === 1) {
      at = carries[0]!;
      if (inferIdx >= 0) {
        // the batch dim as read (N, or a copy of the input's), the −1 from the element count
        out[at] = Number.isNaN(computed[at]!) ? BATCH : x[at]!;
        const rest = product(out.filter((_, i) => i !== inferIdx && i !== at)) * staticSize([out[at]!]);
        if (total % rest !== 0) return `cannot reshape ${fmtShape(x)} to ${shown}`;
        out[inferIdx] = total / rest;
        const check = batchAt(lay, out.map((d, i) => (i === at ? 1 : d)), at, `the target shape ${shown}`);
        if (typeof check === 'string' || check !== out[at]) return typeof check === 'string' ? check : `the target shape ${shown} would reorder the samples`;
        return [out];
      }
    } else if (inferIdx >= 0) at = inferIdx; // the −1 takes the batch
    else return `a fixed target shape ${shown} loses the symbolic batch dimension`;
    const statics = out.map((d, i) => (i === at ? 1 : d));
    if (statics.some((d) => d < 1)) return `cannot reshape ${fmtShape(x)} to ${shown}`;
    const d = batchAt(lay, statics, at, `the target shape ${shown}`);
    if (typeof d === 'string') return d;
    out[at] = d;
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
