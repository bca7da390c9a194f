/**
 * Numpy broadcasting with a symbolic batch dimension, and its adjoint (sum over broadcast axes).
 * @module
 */
import { BATCH, fmtShape, type GraphBuilder, type Shape } from '../ir.js';

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
  return inShape.includes(BATCH) ? b.reshapeLike(summed, x) : b.reshape(summed, inShape);
}
