/**
 * Numpy broadcasting with a symbolic batch dimension, and its adjoint (sum over broadcast axes).
 * @module
 */
import { fmtShape, hasBatch, type GraphBuilder, type Shape } from '../ir.js';
import type { NodeProto } from '../proto.js';
import type { InferContext } from './types.js';

/** Broadcast shape of `a` and `b`, or a reason string. */
export function broadcastShapes(a: Shape, b: Shape): Shape | string {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1;
    const y = b[b.length - r + i] ?? 1;
    if (x === y || y === 1) out.push(x);
    else if (x === 1) out.push(y);
    else return `cannot broadcast ${fmtShape(a)} with ${fmtShape(b)}`;
  }
  return out;
}

/** Sums `dY` (shaped `outShape`) back to the shape of `x` (shaped `inShape`). */
export function unbroadcast(b: GraphBuilder, dY: string, outShape: Shape, x: string, inShape: Shape): string {
  const lead = outShape.length - inShape.length;
  const axes: number[] = [];
  for (let i = 0; i < outShape.length; i++) {
    const d = i < lead ? undefined : inShape[i - lead];
    if (d === undefined || (d === 1 && outShape[i] !== 1)) axes.push(i);
  }
  if (axes.length === 0) return dY;
  const summed = b.reduceSum(dY, axes, true);
  if (lead === 0) return summed;
  return hasBatch(inShape) ? b.reshapeLike(summed, x) : b.reshape(summed, inShape);
}

/** Numpy broadcasting of integer values (shapes' values). */
export function broadcastValues(shapes: readonly Shape[], values: readonly (readonly number[])[], f: (xs: number[]) => number): number[] | undefined {
  let out: Shape = [];
  for (const s of shapes) {
    const r = broadcastShapes(out, s);
    if (typeof r === 'string') return undefined;
    out = r;
  }
  const size = out.reduce((a, d) => a * d, 1);
  if (!Number.isFinite(size) || size < 0) return undefined;
  const at = (v: readonly number[], s: Shape, flat: number): number => {
    let idx = 0;
    let stride = 1;
    let rem = flat;
    const coords: number[] = [];
    for (let i = out.length - 1; i >= 0; i--) {
      coords[i] = rem % out[i]!;
      rem = Math.floor(rem / out[i]!);
    }
    for (let i = s.length - 1; i >= 0; i--) {
      const c = s[i] === 1 ? 0 : coords[out.length - s.length + i]!;
      idx += c * stride;
      stride *= s[i]!;
    }
    return v[idx]!;
  };
  return Array.from({ length: size }, (_, k) => f(values.map((v, j) => at(v, shapes[j]!, k))));
}


/**
 * The values of an elementwise op on two integer tensors known at analysis (shape arithmetic: `size // heads`),
 * the batch size (NaN) staying unknown; undefined when an input is not such a tensor.
 */
export function intValues(node: NodeProto, ctx: InferContext, f: (a: number, b: number) => number): (readonly number[] | undefined)[] {
  const [a, b] = [ctx.constInts(node.input[0] ?? ''), ctx.constInts(node.input[1] ?? '')];
  if (!a || !b) return [undefined];
  return [broadcastValues([ctx.shape(node.input[0]!), ctx.shape(node.input[1]!)], [a, b], ([p, q]) => f(p!, q!))];
}
