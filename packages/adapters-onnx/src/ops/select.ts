/**
 * Ops exporters write around masks, index ranges and broadcasts: `Range`, `ConstantOfShape` and `Equal` on
 * integers (evaluated at analysis like the shape arithmetic, or left to ONNX Runtime when a value holds the batch
 * size), `Where` (a selection between activations by a condition that carries no gradient), `Expand` (an
 * activation broadcast to a shape) and `Split` (an activation cut along a non-batch axis).
 * @module
 */
import { BATCH, fmtShape, isBatch, type Shape } from '../ir.js';
import { Attrs, DataType, tensorDims, tensorInts } from '../proto.js';
import { broadcastShapes, broadcastValues, unbroadcast } from './broadcast.js';
import { input, type InferContext, type OpRule } from './types.js';

const none: OpRule['backward'] = () => [];
const known = (v: readonly number[] | undefined): v is readonly number[] => v !== undefined && v.every((x) => !Number.isNaN(x));
/** A shape from integer values: the batch size (NaN, `BATCH_VALUE`) becomes {@link BATCH}. */
const asShape = (v: readonly number[]): Shape => v.map((d) => (Number.isNaN(d) ? BATCH : d));

/** `Range(start, limit, delta)` of integer scalars: its values. */
export const range: OpRule = {
  infer(node, ctx) {
    const r = rangeOf(node, ctx);
    return typeof r === 'string' ? r : [[r.length]];
  },
  values(node, ctx) {
    const r = rangeOf(node, ctx);
    return [typeof r === 'string' ? undefined : r];
  },
  backward: none,
};

function rangeOf(node: Parameters<OpRule['infer']>[0], ctx: InferContext): number[] | string {
  const [s, l, d] = [0, 1, 2].map((i) => ctx.constInts(input(node, i)));
  if (!known(s) || !known(l) || !known(d) || s.length !== 1 || l.length !== 1 || d.length !== 1) return 'Range needs constant integer start, limit and delta (a float Range is not supported)';
  if (d[0] === 0) return 'Range delta 0';
  const n = Math.max(0, Math.ceil((l[0]! - s[0]!) / d[0]!));
  return Array.from({ length: n }, (_, i) => s[0]! + i * d[0]!);
}

/** `ConstantOfShape(shape)`: integer fills are values (when the shape is known); a float fill is a constant tensor. */
export const constantOfShape: OpRule = {
  infer(node, ctx) {
    const v = ctx.constInts(input(node, 0));
    if (!v) return 'ConstantOfShape needs a shape known at analysis (shape arithmetic on constants and the batch size)';
    const t = new Attrs(node).tensor('value');
    if (t && ![DataType.FLOAT, DataType.INT64, DataType.INT32].includes(t.dataType)) return `ConstantOfShape of type ${t.dataType} is not supported`;
    if (ctx.batchDerived(input(node, 0))) return 'ConstantOfShape of a shape computed from the batch size (not the batch size itself) is not supported';
    return [asShape(v)];
  },
  values(node, ctx) {
    const v = ctx.constInts(input(node, 0));
    const t = new Attrs(node).tensor('value');
    if (!known(v) || !t || (t.dataType !== DataType.INT64 && t.dataType !== DataType.INT32)) return [undefined];
    const fill = tensorDims(t).length === 0 || tensorInts(t).length === 1 ? tensorInts(t)[0]! : NaN;
    return [Array<number>(v.reduce((a, d) => a * d, 1)).fill(fill)];
  },
  backward: none,
};

/** `Equal(a, b)` of integers (values 1/0); of float activations, a mask without gradient. */
export const equal: OpRule = {
  infer(node, ctx) {
    const s = broadcastShapes(ctx.shape(input(node, 0)), ctx.shape(input(node, 1)));
    return typeof s === 'string' ? s : [s];
  },
  values(node, ctx) {
    const [a, b] = [ctx.constInts(input(node, 0)), ctx.constInts(input(node, 1))];
    if (!known(a) || !known(b)) return [undefined];
    return [broadcastValues([ctx.shape(input(node, 0)), ctx.shape(input(node, 1))], [a, b], ([p, q]) => (p === q ? 1 : 0))];
  },
  backward: none,
};

/** `Where(cond, x, y)`: the condition carries no gradient; `dx = where(cond, dz, 0)`, `dy = where(cond, 0, dz)`. */
export const where: OpRule = {
  infer(node, ctx) {
    const shapes = [0, 1, 2].map((i) => ctx.shape(input(node, i)));
    let out: Shape | string = shapes[0]!;
    for (const s of shapes.slice(1)) out = typeof out === 'string' ? out : broadcastShapes(out, s);
    return typeof out === 'string' ? out : [out];
  },
  values(node, ctx) {
    const v = [0, 1, 2].map((i) => ctx.constInts(input(node, i)));
    if (!v.every(known)) return [undefined];
    return [broadcastValues([0, 1, 2].map((i) => ctx.shape(input(node, i))), v as number[][], ([c, x, y]) => (c ? x! : y!))];
  },
  backward(b, { node }, [dZ], wanted) {
    if (!dZ) return [];
    const out = b.shape(node.output[0]!);
    const zero = b.scalar(0);
    const cond = input(node, 0);
    return [
      undefined,
      wanted[1] ? unbroadcast(b, b.op('Where', [cond, dZ, zero]), out, input(node, 1), b.shape(input(node, 1))) : undefined,
      wanted[2] ? unbroadcast(b, b.op('Where', [cond, zero, dZ]), out, input(node, 2), b.shape(input(node, 2))) : undefined,
    ];
  },
};

/** `Expand(x, shape)`: `x` broadcast to `shape` (its batch entry may be the batch size); the gradient sums back. */
export const expand: OpRule = {
  infer(node, ctx) {
    const target = ctx.constInts(input(node, 1));
    if (!target) return 'Expand needs a shape known at analysis';
    if (ctx.batchDerived(input(node, 1))) return 'Expand to a shape computed from the batch size (not the batch size itself) is not supported';
    const s = broadcastShapes(ctx.shape(input(node, 0)), asShape(target));
    return typeof s === 'string' ? s : [s];
  },
  values(node, ctx) {
    const [x, target] = [ctx.constInts(input(node, 0)), ctx.constInts(input(node, 1))];
    if (!known(x) || !known(target)) return [undefined];
    return [broadcastValues([ctx.shape(input(node, 0)), target], [x, Array<number>(target.reduce((a, d) => a * d, 1)).fill(0)], ([v]) => v!)];
  },
  backward: (b, { node }, [dY], wanted) => [wanted[0] && dY ? unbroadcast(b, dY, b.shape(node.output[0]!), input(node, 0), b.shape(input(node, 0))) : undefined],
};

/** `Split(x, split?)` along a non-batch axis: the gradient is the outputs' gradients concatenated (zeros for unused parts). */
export const split: OpRule = {
  infer(node, ctx) {
    const r = splitOf(node, ctx);
    if (typeof r === 'string') return r;
    const x = ctx.shape(input(node, 0));
    return r.sizes.map((len) => x.map((d, i) => (i === r.axis ? len : d)));
  },
  backward(b, { node }, dOut, wanted) {
    if (!wanted[0]) return [];
    const x = b.shape(input(node, 0));
    const axis = new Attrs(node).int('axis', 0);
    const ax = axis < 0 ? axis + x.length : axis;
    // a part nothing reads: exact zeros of its shape (0·x would be NaN where x is infinite)
    const parts = node.output.map((o, k) => dOut[k] ?? b.op('ConstantOfShape', [b.op('Shape', [o])]));
    return [b.op('Concat', parts, { axis: { i: ax } })];
  },
};

function splitOf(node: Parameters<OpRule['infer']>[0], ctx: InferContext): { axis: number; sizes: number[] } | string {
  const x = ctx.shape(input(node, 0));
  const a = new Attrs(node);
  const axis = a.int('axis', 0) < 0 ? a.int('axis', 0) + x.length : a.int('axis', 0);
  if (!(axis >= 0 && axis < x.length)) return `axis ${a.int('axis', 0)} is out of range for rank ${x.length}`;
  if (isBatch(x[axis]!)) return 'Split along the batch axis is not supported';
  const given = input(node, 1) ? ctx.constInts(input(node, 1)) : (a.ints('split', null) ?? undefined);
  if (input(node, 1) && !given) return 'Split needs constant split sizes';
  const k = node.output.length;
  const sizes = given ?? (x[axis]! % k === 0 ? Array<number>(k).fill(x[axis]! / k) : Array.from({ length: k }, (_, i) => (i < k - 1 ? Math.ceil(x[axis]! / k) : x[axis]! - (k - 1) * Math.ceil(x[axis]! / k))));
  if (sizes.length !== k || sizes.reduce((s, v) => s + v, 0) !== x[axis] || sizes.some((v) => v < 0)) return `split sizes ${sizes.join(',')} do not cut ${fmtShape(x)} along axis ${axis} into ${k} parts`;
  return { axis, sizes };
}
