/**
 * MaxPool (argmax scatter), AveragePool (ConvTranspose with a constant kernel and exact border counts) and
 * GlobalAveragePool (broadcast).
 * @module
 */
import { BATCH, fmtShape, hasBatch, type GraphBuilder, type Shape } from '../ir.js';
import { Attrs, makeNode, type NodeProto } from '../proto.js';
import { transposeAttrs, window2d, type Window2d } from './geometry.js';
import { input, type OpRule } from './types.js';

function poolInfer(node: NodeProto, x: Shape, extra?: (w: Window2d) => string | null): Shape[] | string {
  if (x.length !== 4) return `only 2-D pooling is supported (${fmtShape(x)})`;
  if (x[0] !== BATCH || hasBatch(x.slice(1))) return `the batch must come first and channels and spatial dims be static (${fmtShape(x)})`;
  const w = window2d(node, [x[2]!, x[3]!], null);
  if (typeof w === 'string') return w;
  const why = extra?.(w);
  if (why) return why;
  return [[x[0]!, x[1]!, w.out[0], w.out[1]]];
}

function win(b: GraphBuilder, node: NodeProto): { w: Window2d; x: Shape } {
  const x = b.shape(input(node, 0));
  const w = window2d(node, [x[2]!, x[3]!], null);
  if (typeof w === 'string') throw new Error(w);
  return { w, x };
}

/** MaxPool; the forward node also returns argmax indices, and `dX` scatter-adds `dY` at them. */
export const maxPool: OpRule = {
  infer(node, ctx) {
    if (new Attrs(node).int('storage_order', 0) !== 0) return 'storage_order=1 is not supported';
    if (node.output.length > 1 && node.output[1]) return 'the Indices output is not supported';
    return poolInfer(node, ctx.shape(input(node, 0)));
  },
  forward(b, node) {
    const idx = b.fresh('maxpool_indices');
    b.push(makeNode('MaxPool', node.input, [node.output[0]!, idx], {}, node.name));
    b.nodes[b.nodes.length - 1]!.attribute = node.attribute;
    return [idx];
  },
  backward(b, { node, saved }, [dY], wanted) {
    if (!dY || !wanted[0]) return [];
    const x = input(node, 0);
    const flatX = b.reshape(x, [-1]);
    const zeros = b.op('ConstantOfShape', [b.op('Shape', [flatX])]);
    const scattered = b.op('ScatterElements', [zeros, b.reshape(saved[0]!, [-1]), b.reshape(dY, [-1])], {
      axis: { i: 0 },
      reduction: { s: 'add' },
    });
    return [b.reshapeLike(scattered, x)];
  },
};

/** AveragePool (`count_include_pad` either way; dilations 1). */
export const averagePool: OpRule = {
  infer(node, ctx) {
    return poolInfer(node, ctx.shape(input(node, 0)), (w) => (w.dilations[0] !== 1 || w.dilations[1] !== 1 ? 'dilations ≠ 1 are not supported' : null));
  },
  backward(b, { node }, [dY], wanted) {
    if (!dY || !wanted[0]) return [];
    const { w, x } = win(b, node);
    const c = x[1]!;
    const [h, wd] = [x[2]!, x[3]!];
    const [kh, kw] = w.kernel;
    const include = new Attrs(node).int('count_include_pad', 0) === 1;
    const [ho, wo] = w.out;
    const inv = new Float32Array(ho * wo);
    for (let i = 0; i < ho; i++) {
      for (let j = 0; j < wo; j++) {
        const r0 = i * w.strides[0] - w.pads[0];
        const c0 = j * w.strides[1] - w.pads[1];
        const rows = include ? kh : Math.min(h, r0 + kh) - Math.max(0, r0);
        const cols = include ? kw : Math.min(wd, c0 + kw) - Math.max(0, c0);
        inv[i * wo + j] = 1 / (rows * cols);
      }
    }
    const scaled = b.mul(dY, b.floatConst(inv, [1, 1, ho, wo], 'avgpool_inv_count'));
    const ones = b.floatConst(new Float32Array(c * kh * kw).fill(1), [c, 1, kh, kw], 'avgpool_ones');
    return [b.op('ConvTranspose', [scaled, ones], transposeAttrs(w, [h, wd], c))];
  },
};

/** GlobalAveragePool: `dX = expand(dY) / (H·W)`. */
export const globalAveragePool: OpRule = {
  infer(_node, ctx) {
    const x = ctx.shape(input(_node, 0));
    if (x.length !== 4) return `only 2-D pooling is supported (${fmtShape(x)})`;
    return [[x[0]!, x[1]!, 1, 1]];
  },
  backward(b, { node }, [dY], wanted) {
    if (!dY || !wanted[0]) return [];
    const x = input(node, 0);
    const s = b.shape(x);
    return [b.scale(b.op('Expand', [dY, b.op('Shape', [x])]), 1 / (s[2]! * s[3]!))];
  },
};
