/**
 * Elementwise activations (Relu, Sigmoid, Tanh, Identity) and Softmax / LogSoftmax along one axis.
 * @module
 */
import { fmtShape, isBatch } from '../ir.js';
import { Attrs } from '../proto.js';
import { input, type OpRule } from './types.js';

const same: OpRule['infer'] = (node, ctx) => [ctx.shape(input(node, 0))];

/** `max(x, 0)`; gradient masked where the output is positive. */
export const relu: OpRule = {
  infer: same,
  backward(b, { node }, [dY], wanted) {
    if (!dY || !wanted[0]) return [];
    const mask = b.op('Greater', [node.output[0]!, b.scalar(0)]);
    return [b.op('Where', [mask, dY, b.scalar(0)])];
  },
};

/** `σ(x)`; `dx = dy·y·(1−y)`. */
export const sigmoid: OpRule = {
  infer: same,
  backward(b, { node }, [dY], wanted) {
    if (!dY || !wanted[0]) return [];
    const y = node.output[0]!;
    return [b.mul(dY, b.mul(y, b.sub(b.scalar(1), y)))];
  },
};

/** `tanh(x)`; `dx = dy·(1−y²)`. */
export const tanh: OpRule = {
  infer: same,
  backward(b, { node }, [dY], wanted) {
    if (!dY || !wanted[0]) return [];
    const y = node.output[0]!;
    return [b.mul(dY, b.sub(b.scalar(1), b.mul(y, y)))];
  },
};

/** Pass-through. */
export const identity: OpRule = {
  infer: same,
  backward(_b, _n, [dY], wanted) {
    return [wanted[0] ? dY : undefined];
  },
};

function axisOf(node: Parameters<OpRule['infer']>[0], rank: number): number {
  const a = new Attrs(node).int('axis', -1);
  return a < 0 ? a + rank : a;
}

/** Softmax along `axis` (opset ≥ 13 semantics); `dx = y·(dy − Σ dy·y)`. */
/** Softmax-like ops normalize along an axis: never one that carries the batch (it would couple the samples). */
const alongAxis: OpRule['infer'] = (node, ctx) => {
  const x = ctx.shape(input(node, 0));
  const axis = axisOf(node, x.length);
  if (isBatch(x[axis] ?? 0)) return `${node.opType} along the batch axis couples the samples (${fmtShape(x)}, axis ${axis})`;
  return [x];
};

export const softmax: OpRule = {
  infer: alongAxis,
  backward(b, { node }, [dY], wanted) {
    if (!dY || !wanted[0]) return [];
    const y = node.output[0]!;
    const axis = axisOf(node, b.shape(y).length);
    const s = b.reduceSum(b.mul(dY, y), [axis], true);
    return [b.mul(y, b.sub(dY, s))];
  },
};

/** LogSoftmax along `axis`; `dx = dy − exp(y)·Σ dy`. */
export const logSoftmax: OpRule = {
  infer: alongAxis,
  backward(b, { node }, [dY], wanted) {
    if (!dY || !wanted[0]) return [];
    const y = node.output[0]!;
    const axis = axisOf(node, b.shape(y).length);
    const s = b.reduceSum(dY, [axis], true);
    return [b.sub(dY, b.mul(b.op('Exp', [y]), s))];
  },
};
