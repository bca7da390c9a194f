/**
 * The shape arithmetic exporters write (`x.view(x.size(0), -1)` becomes Shape → Gather → Unsqueeze → Concat →
 * Reshape) and the axis ops around activations. Integer tensors are evaluated during analysis with the batch size
 * symbolic ({@link BATCH_VALUE}); they stay in the training graphs, where ONNX Runtime computes them for the batch
 * in use, and carry no gradient. On float activations Unsqueeze, Squeeze, Concat (not along the batch axis) and
 * Cast to float differentiate; Gather and Slice of activations are refused.
 * @module
 */
import { BATCH, fmtShape, hasBatch, isBatch, type Shape } from '../ir.js';
import { Attrs, DataType } from '../proto.js';
import { input, type InferContext, type OpRule } from './types.js';

/** The batch size inside an integer value (a shape read by `Shape`): unknown until a batch runs. */
export const BATCH_VALUE = Number.NaN;

const none: OpRule['backward'] = () => [];

function normAxis(axis: number, rank: number): number | string {
  const a = axis < 0 ? axis + rank : axis;
  return a >= 0 && a < rank ? a : `axis ${axis} is out of range for rank ${rank}`;
}

/** `axes` of Unsqueeze/Squeeze: the constant second input (opset ≥ 13) or the attribute. */
function axesOf(node: Parameters<OpRule['infer']>[0], ctx: InferContext): number[] | undefined | string {
  const name = input(node, 1);
  if (name) return ctx.constInts(name) ?? 'the axes must be a constant';
  const attr = new Attrs(node).ints('axes', null);
  return attr && attr.length > 0 ? attr : undefined;
}

/** `Shape(x)` (with opset 15's `start`/`end`): `[rank]`, its value the dims, the batch as {@link BATCH_VALUE}. */
export const shape: OpRule = {
  infer(node, ctx) {
    const x = ctx.shape(input(node, 0));
    const [s, e] = shapeRange(node, x.length);
    return [[Math.max(0, e - s)]];
  },
  values(node, ctx) {
    const x = ctx.shape(input(node, 0));
    const [s, e] = shapeRange(node, x.length);
    return [x.slice(s, e).map((d) => (isBatch(d) ? BATCH_VALUE : d))];
  },
  backward: none,
};

function shapeRange(node: Parameters<OpRule['infer']>[0], rank: number): [number, number] {
  const a = new Attrs(node);
  const clamp = (v: number) => Math.min(rank, Math.max(0, v < 0 ? v + rank : v));
  return [clamp(a.int('start', 0)), clamp(a.int('end', rank))];
}

/**
 * `Gather`: an embedding — rows of a float initializer picked by integer ids (`[…ids, D]`; the table's gradient a
 * scatter-add of the output's) — or the entries of a constant integer vector (a shape).
 */
export const gather: OpRule = {
  infer(node, ctx) {
    if (ctx.floatInitializer(input(node, 0)) && ctx.intData(input(node, 1))) {
      const table = ctx.shape(input(node, 0));
      if (new Attrs(node).int('axis', 0) !== 0 || table.length !== 2) return 'an embedding Gather must pick rows (axis 0) of a 2-D table';
      const ids = ctx.shape(input(node, 1));
      if (ids[0] !== BATCH) return 'the ids of an embedding must carry the batch first';
      return [[...ids, table[1]!]];
    }
    const data = ctx.constInts(input(node, 0));
    if (!data) return 'Gather of an activation is not supported; only embeddings (a float table by integer ids) and shape vectors';
    if (ctx.shape(input(node, 0)).length !== 1) return 'Gather of a constant of rank ≠ 1 is not supported';
    if (new Attrs(node).int('axis', 0) !== 0) return 'Gather of a shape vector along an axis ≠ 0';
    const idx = ctx.constInts(input(node, 1));
    if (!idx) return 'Gather of a shape vector needs constant indices';
    if (idx.some((i) => !(i >= -data.length && i < data.length))) return `index out of range (${idx.join(',')} of ${data.length})`;
    return [ctx.shape(input(node, 1))];
  },
  values(node, ctx) {
    const data = ctx.constInts(input(node, 0));
    const idx = ctx.constInts(input(node, 1));
    return [data && idx ? idx.map((i) => data[i < 0 ? i + data.length : i]!) : undefined];
  },
  backward(b, { node }, [dY], wanted) {
    if (!wanted[0] || !dY || b.shape(input(node, 0)).length !== 2) return [];
    // the table's gradient: dY's rows added at their ids (ScatterElements, reduction add)
    const [rows, d] = b.shape(input(node, 0)) as [number, number];
    const upd = b.reshape(dY, [-1, d]);
    const ids = b.reshape(b.op('Cast', [input(node, 1)], { to: { i: DataType.INT64 } }), [-1, 1]);
    const idx = b.op('Expand', [ids, b.op('Shape', [upd])]);
    const zeros = b.op('ConstantOfShape', [b.ints([rows, d], 'table')]); // float zeros (the default value)
    return [b.op('ScatterElements', [zeros, idx, upd], { axis: { i: 0 }, reduction: { s: 'add' } })];
  },
};

/** `Unsqueeze(x, axes)`: ones inserted; an activation differentiates by reshaping back. */
export const unsqueeze: OpRule = {
  infer(node, ctx) {
    const x = ctx.shape(input(node, 0));
    const axes = axesOf(node, ctx);
    if (typeof axes === 'string') return axes;
    if (!axes || axes.length === 0) return 'Unsqueeze needs axes';
    const rank = x.length + axes.length;
    const at = axes.map((a) => normAxis(a, rank));
    const bad = at.find((a) => typeof a === 'string');
    if (bad !== undefined) return bad as string;
    if (new Set(at).size !== at.length) return 'repeated axes';
    const out: number[] = [];
    let k = 0;
    for (let i = 0; i < rank; i++) out.push((at as number[]).includes(i) ? 1 : x[k++]!);
    return [out];
  },
  values: (node, ctx) => [ctx.constInts(input(node, 0))],
  backward: (b, { node }, [dY], wanted) => [wanted[0] && dY ? b.reshapeLike(dY, input(node, 0)) : undefined],
};

/** `Squeeze(x, axes?)`: dims of size 1 removed (never the batch); an activation differentiates by reshaping back. */
export const squeeze: OpRule = {
  infer(node, ctx) {
    const x = ctx.shape(input(node, 0));
    const axes = axesOf(node, ctx);
    if (typeof axes === 'string') return axes;
    // without axes ONNX drops every dim of size 1 — the batch too, when a batch of one runs
    if (axes === undefined && hasBatch(x)) return 'Squeeze without axes would drop the batch axis of a one-sample batch; give its axes';
    const at = axes === undefined ? x.flatMap((d, i) => (d === 1 ? [i] : [])) : axes.map((a) => normAxis(a, x.length));
    const bad = at.find((a) => typeof a === 'string');
    if (bad !== undefined) return bad as string;
    if ((at as number[]).some((a) => x[a] !== 1)) return `Squeeze of a dim that is not 1 (${fmtShape(x)}, axes ${at.join(',')})`;
    return [x.filter((_, i) => !(at as number[]).includes(i))];
  },
  values: (node, ctx) => [ctx.constInts(input(node, 0))],
  backward: (b, { node }, [dY], wanted) => [wanted[0] && dY ? b.reshapeLike(dY, input(node, 0)) : undefined],
};

/** `Concat(xs…, axis)`: of integer vectors, their values; of activations along a non-batch axis, gradients sliced back. */
export const concat: OpRule = {
  infer(node, ctx) {
    const shapes = node.input.map((n) => ctx.shape(n));
    const rank = shapes[0]!.length;
    if (shapes.some((s) => s.length !== rank)) return `inputs of different ranks (${shapes.map(fmtShape).join(', ')})`;
    const axis = normAxis(new Attrs(node).int('axis', 0), rank);
    if (typeof axis === 'string') return axis;
    if (shapes.some((s) => isBatch(s[axis]!))) return 'Concat along the batch axis is not supported';
    for (let d = 0; d < rank; d++) {
      if (d !== axis && shapes.some((s) => s[d] !== shapes[0]![d])) return `inputs differ off the concatenation axis (${shapes.map(fmtShape).join(', ')})`;
    }
    const out = [...shapes[0]!];
    out[axis] = shapes.reduce((a, s) => a + s[axis]!, 0);
    return [out];
  },
  values(node, ctx) {
    const parts = node.input.map((n) => ctx.constInts(n));
    return [parts.every((p) => p !== undefined) ? parts.flat() : undefined];
  },
  backward(b, { node }, [dY], wanted) {
    if (!dY) return [];
    const rank = b.shape(node.input[0]!).length;
    const axis = normAxis(new Attrs(node).int('axis', 0), rank) as number;
    let at = 0;
    return node.input.map((n, i) => {
      const len = b.shape(n)[axis]!;
      const start = at;
      at += len;
      return wanted[i] ? b.op('Slice', [dY, b.ints([start], 'start'), b.ints([start + len], 'end'), b.ints([axis], 'axis')]) : undefined;
    });
  },
};

/**
 * `Cast`: integers pass through to an integer type, or become float constants (a shape read as a float: no
 * gradient); ids stay integers; a float activation only to float (an identity).
 */
export const cast: OpRule = {
  infer(node, ctx) {
    const to = new Attrs(node).int('to', 0);
    const isInt = ctx.constInts(input(node, 0)) !== undefined || ctx.intData(input(node, 0));
    const ok = isInt ? to === DataType.INT64 || to === DataType.INT32 || (to === DataType.FLOAT && !ctx.intData(input(node, 0))) : to === DataType.FLOAT;
    if (!ok) return isInt ? `Cast of integers to type ${to} is not supported` : `Cast of an activation to type ${to} is not supported (float32 only)`;
    return [ctx.shape(input(node, 0))];
  },
  values: (node, ctx) => [new Attrs(node).int('to', 0) === DataType.FLOAT ? undefined : ctx.constInts(input(node, 0))],
  backward: (_b, _n, [dY], wanted) => [wanted[0] ? dY : undefined],
};

/**
 * `Slice`: of a constant integer vector (a shape), its values; of an activation, a window with step 1 along
 * non-batch axes, whose gradient is the output's padded back with zeros.
 */
export const slice: OpRule = {
  infer(node, ctx) {
    if (!ctx.constInts(input(node, 0))) {
      const w = windowOf(node, ctx);
      if (typeof w === 'string') return w;
      const x = ctx.shape(input(node, 0));
      return [x.map((d, i) => (w.has(i) ? w.get(i)![1] - w.get(i)![0] : d))];
    }
    const r = sliceOf(node, ctx);
    return typeof r === 'string' ? r : [[r.length]];
  },
  values(node, ctx) {
    if (!ctx.constInts(input(node, 0))) return [undefined];
    const r = sliceOf(node, ctx);
    return [typeof r === 'string' ? undefined : r];
  },
  backward(b, { node }, [dY], wanted) {
    if (!wanted[0] || !dY) return [];
    const x = b.shape(input(node, 0));
    const w = windowOf(node, { shape: (n) => b.shape(n), constInts: (n) => b.constInts(n) }) as Map<number, [number, number]>;
    const pads = [...x.map((_, i) => w.get(i)?.[0] ?? 0), ...x.map((d, i) => (w.has(i) ? d - w.get(i)![1] : 0))];
    return [b.op('Pad', [dY, b.ints(pads, 'pads')])];
  },
};

/** A slice of an activation: `[start, end)` per sliced axis (clamped), or why it is not supported. */
function windowOf(node: Parameters<OpRule['infer']>[0], ctx: Pick<InferContext, 'shape' | 'constInts'>): Map<number, [number, number]> | string {
  const x = ctx.shape(input(node, 0));
  const arg = (i: number) => (input(node, i) ? ctx.constInts(input(node, i)) : undefined);
  const [starts, ends] = [arg(1), arg(2)];
  const axes = arg(3) ?? starts?.map((_, i) => i);
  const steps = arg(4) ?? starts?.map(() => 1);
  if (!starts || !ends || !axes || !steps || [ends, axes, steps].some((v) => v.length !== starts.length)) return 'Slice of an activation needs constant starts, ends, axes and steps';
  if (steps.some((s) => s !== 1)) return 'Slice of an activation with a step other than 1 is not supported';
  const out = new Map<number, [number, number]>();
  for (let k = 0; k < starts.length; k++) {
    const a = axes[k]! < 0 ? axes[k]! + x.length : axes[k]!;
    if (!(a >= 0 && a < x.length)) return `Slice axis ${axes[k]} is out of range for rank ${x.length}`;
    if (isBatch(x[a]!)) return 'Slice along the batch axis is not supported';
    const n = x[a]!;
    const clamp = (v: number) => Math.min(n, Math.max(0, v < 0 ? v + n : v));
    const [s, e] = [clamp(starts[k]!), clamp(ends[k]!)];
    if (e <= s) return `Slice of an activation to an empty window (axis ${a}: ${starts[k]}..${ends[k]})`;
    out.set(a, [s, e]);
  }
  return out;
}

function sliceOf(node: Parameters<OpRule['infer']>[0], ctx: InferContext): number[] | string {
  const data = ctx.constInts(input(node, 0));
  if (!data || ctx.shape(input(node, 0)).length !== 1) return 'Slice of an activation is not supported; only of shape vectors';
  const arg = (i: number, d: number[]) => (input(node, i) ? ctx.constInts(input(node, i)) : d);
  const [starts, ends, axes, steps] = [arg(1, []), arg(2, []), arg(3, [0]), arg(4, [1])];
  if (!starts || !ends || !axes || !steps) return 'Slice needs constant starts, ends, axes and steps';
  if (starts.length !== 1 || ends.length !== 1 || axes.length !== 1 || steps.length !== 1 || (axes[0] !== 0 && axes[0] !== -1)) return 'Slice of a shape vector along more than its one axis';
  const n = data.length;
  const step = steps[0]!;
  if (step === 0) return 'Slice step 0';
  const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v < 0 ? v + n : v));
  const out: number[] = [];
  if (step > 0) for (let i = clamp(starts[0]!, 0, n); i < clamp(ends[0]!, 0, n); i += step) out.push(data[i]!);
  else for (let i = clamp(starts[0]!, 0, n - 1); i > clamp(ends[0]!, -1, n - 1); i += step) out.push(data[i]!);
  return out;
}
