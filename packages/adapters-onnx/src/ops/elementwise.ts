/**
 * The element-wise ops exporters write for normalizations and activations (LayerNorm decomposed into ReduceMean,
 * Sub, Pow, Sqrt, Div; GELU as Div, Erf, Add, Mul; ReLU6 as Clip; MobileNet's HardSwish), the reductions over
 * non-batch axes, and Transpose that keeps the batch first. Each backward is derived from the forward's output or
 * inputs with standard ONNX ops; a wanted input the rule cannot differentiate refuses the model at `create`.
 * @module
 */
import { fmtShape, isBatch, staticSize, type GraphBuilder, type Shape } from '../ir.js';
import { Attrs } from '../proto.js';
import { UnsupportedModelError } from '../errors.js';
import { broadcastShapes, intValues, unbroadcast } from './broadcast.js';
import { input, type InferContext, type OpRule } from './types.js';

const same: OpRule['infer'] = (node, ctx) => [ctx.shape(input(node, 0))];

function binaryInfer(node: Parameters<OpRule['infer']>[0], ctx: InferContext): Shape[] | string {
  const s = broadcastShapes(ctx.shape(input(node, 0)), ctx.shape(input(node, 1)));
  return typeof s === 'string' ? s : [s];
}

/** A unary op whose `dx = dy · f'(x, y)` (`grad` builds f' from the input `x` and the output `y`). */
function unary(grad: (b: GraphBuilder, x: string, y: string, node: Parameters<OpRule['infer']>[0]) => string): OpRule {
  return {
    infer: same,
    backward(b, { node }, [dY], wanted) {
      if (!dY || !wanted[0]) return [];
      return [b.mul(dY, grad(b, input(node, 0), node.output[0]!, node))];
    },
  };
}

const where = (b: GraphBuilder, mask: string, yes: string, no: string): string => b.op('Where', [mask, yes, no]);

/** `A / B` (broadcasting): `dA = dY / B`, `dB = −dY · Y / B`. */
export const div: OpRule = {
  infer: binaryInfer,
  // integer division truncates (shape arithmetic: `size // heads`)
  values: (node, ctx) => intValues(node, ctx, (p, q) => Math.trunc(p / q)),
  backward(b, { node }, [dY], wanted) {
    if (!dY) return [];
    const [a, d] = [input(node, 0), input(node, 1)];
    const y = b.shape(node.output[0]!);
    return [
      wanted[0] ? unbroadcast(b, b.op('Div', [dY, d]), y, a, b.shape(a)) : undefined,
      wanted[1] ? unbroadcast(b, b.op('Neg', [b.op('Div', [b.mul(dY, node.output[0]!), d])]), y, d, b.shape(d)) : undefined,
    ];
  },
};

/** `A ^ B` (broadcasting): `dA = dY · B · A^(B−1)`, `dB = dY · Y · ln A` (A > 0). */
export const pow: OpRule = {
  infer: binaryInfer,
  backward(b, { node }, [dY], wanted) {
    if (!dY) return [];
    const [a, e] = [input(node, 0), input(node, 1)];
    const y = b.shape(node.output[0]!);
    const dA = () => b.mul(dY, b.mul(e, b.op('Pow', [a, b.sub(e, b.scalar(1))])));
    const dB = () => b.mul(dY, b.mul(node.output[0]!, b.op('Log', [a])));
    return [wanted[0] ? unbroadcast(b, dA(), y, a, b.shape(a)) : undefined, wanted[1] ? unbroadcast(b, dB(), y, e, b.shape(e)) : undefined];
  },
};

/** `√x`: `dx = dy / (2y)`. */
export const sqrt = unary((b, _x, y) => b.op('Reciprocal', [b.scale(y, 2)]));
/** `eˣ`: `dx = dy · y`. */
export const exp = unary((_b, _x, y) => y);
/** `ln x`: `dx = dy / x`. */
export const log = unary((b, x) => b.op('Reciprocal', [x]));
/** `−x`. */
export const neg = unary((b) => b.scalar(-1));
/** `erf x`: `dx = dy · (2/√π) · e^(−x²)`. */
export const erf = unary((b, x) => b.scale(b.op('Exp', [b.op('Neg', [b.mul(x, x)])]), 2 / Math.sqrt(Math.PI)));
/** `x < 0 ? αx : x`: `dx = dy · (x > 0 ? 1 : α)`. */
export const leakyRelu = unary((b, x, _y, node) => where(b, b.op('Greater', [x, b.scalar(0)]), b.scalar(1), b.scalar(new Attrs(node).float('alpha', 0.01))));
/** `x > 0 ? x : α(eˣ − 1)`: `dx = dy · (x > 0 ? 1 : y + α)`. */
export const elu = unary((b, x, y, node) => {
  const alpha = new Attrs(node).float('alpha', 1);
  return where(b, b.op('Greater', [x, b.scalar(0)]), b.scalar(1), b.add(y, b.scalar(alpha)));
});
/** `max(0, min(1, αx + β))`: `dx = dy · α` where the output is strictly inside (0, 1). */
export const hardSigmoid = unary((b, _x, y, node) => {
  const inside = b.op('And', [b.op('Greater', [y, b.scalar(0)]), b.op('Less', [y, b.scalar(1)])]);
  return where(b, inside, b.scalar(new Attrs(node).float('alpha', 0.2)), b.scalar(0));
});
/** `x · max(0, min(1, x/6 + 1/2))`: `dx = dy · (x < −3 ? 0 : x > 3 ? 1 : (2x + 3)/6)`. */
export const hardSwish = unary((b, x) => {
  const mid = b.scale(b.add(b.scale(x, 2), b.scalar(3)), 1 / 6);
  return where(b, b.op('Less', [x, b.scalar(-3)]), b.scalar(0), where(b, b.op('Greater', [x, b.scalar(3)]), b.scalar(1), mid));
});

/** `Clip(x, min?, max?)`: `dx = dy` strictly inside the bounds; bounds that depend on parameters are refused. */
export const clip: OpRule = {
  infer: same,
  backward(b, { node }, [dY], wanted) {
    if (wanted[1] || wanted[2]) throw new UnsupportedModelError(`Clip '${node.name}': bounds that depend on trainable parameters are not supported`);
    if (!dY || !wanted[0]) return [];
    const x = input(node, 0);
    const tests = [input(node, 1) ? b.op('Greater', [x, input(node, 1)]) : null, input(node, 2) ? b.op('Less', [x, input(node, 2)]) : null].filter((t): t is string => t !== null);
    if (tests.length === 0) return [dY];
    const inside = tests.length === 1 ? tests[0]! : b.op('And', tests);
    return [where(b, inside, dY, b.scalar(0))];
  },
};

/** Reduction axes: the `axes` input (opset ≥ 18, ReduceSum ≥ 13) or attribute, normalized; all when absent. */
function reduceAxes(node: Parameters<OpRule['infer']>[0], ctx: InferContext, rank: number): number[] | string {
  const name = input(node, 1);
  const given = name ? ctx.constInts(name) : new Attrs(node).ints('axes', null);
  if (name && !given) return 'the axes must be a constant';
  if (!given || given.length === 0) return new Attrs(node).int('noop_with_empty_axes', 0) ? [] : Array.from({ length: rank }, (_, i) => i);
  return given.map((a) => (a < 0 ? a + rank : a));
}

/** `ReduceSum` / `ReduceMean` over non-batch axes: the gradient broadcast back (÷ the count for the mean). */
function reduce(mean: boolean): OpRule {
  return {
    infer(node, ctx) {
      const x = ctx.shape(input(node, 0));
      const axes = reduceAxes(node, ctx, x.length);
      if (typeof axes === 'string') return axes;
      if (axes.some((a) => isBatch(x[a]!))) return `a reduction over the batch axis couples the samples (${fmtShape(x)}, axes ${axes.join(',')})`;
      const keep = new Attrs(node).int('keepdims', 1) === 1;
      return [keep ? x.map((d, i) => (axes.includes(i) ? 1 : d)) : x.filter((_, i) => !axes.includes(i))];
    },
    backward(b, { node }, [dY], wanted) {
      if (!dY || !wanted[0]) return [];
      const x = input(node, 0);
      const xs = b.shape(x);
      const keep = new Attrs(node).int('keepdims', 1) === 1;
      // back to the kept-dims shape (Unsqueeze at the reduced axes), then broadcast over them
      const axes = input(node, 1) || b.ints(new Attrs(node).ints('axes', null) ?? [], 'axes');
      const kept = keep ? dY : b.op('Unsqueeze', [dY, axes]);
      const count = mean ? reducedCount(b, node, xs) : 1;
      return [b.op('Expand', [b.scale(kept, 1 / count), b.op('Shape', [x])])];
    },
  };
}

/** How many elements each output of a reduction averages (non-batch axes only). */
function reducedCount(b: GraphBuilder, node: Parameters<OpRule['infer']>[0], xs: Shape): number {
  const out = b.shape(node.output[0]!);
  const total = staticSize(xs);
  const kept = staticSize(out);
  return total / kept;
}

export const reduceSum = reduce(false);
export const reduceMean = reduce(true);

/** `Transpose(perm)` keeping the batch axis in place: the gradient transposed back. */
export const transpose: OpRule = {
  infer(node, ctx) {
    const x = ctx.shape(input(node, 0));
    const perm = new Attrs(node).ints('perm', null) ?? x.map((_, i) => x.length - 1 - i);
    if (perm.length !== x.length || new Set(perm).size !== x.length || perm.some((p) => p < 0 || p >= x.length)) return `perm [${perm.join(',')}] is not a permutation of rank ${x.length}`;
    return [perm.map((p) => x[p]!)];
  },
  backward(b, { node }, [dY], wanted) {
    if (!dY || !wanted[0]) return [];
    const rank = b.shape(input(node, 0)).length;
    const perm = new Attrs(node).ints('perm', null) ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
    const inverse = Array<number>(rank);
    perm.forEach((p, i) => (inverse[p] = i));
    return [b.transpose(dY, inverse)];
  },
};
