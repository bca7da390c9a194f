/**
 * Gemm, MatMul and elementwise Add / Sub / Mul: forward shapes and backward rules.
 * @module
 */
import { fmtShape, type GraphBuilder, type Shape } from '../ir.js';
import { TRANSPOSED_WEIGHT_ATTR } from '../lower.js';
import { Attrs, type NodeProto } from '../proto.js';
import { broadcastShapes, intValues, unbroadcast } from './broadcast.js';
import { input, type OpRule } from './types.js';

/** `Y = α·op(A)·op(B) + β·C`. */
export const gemm: OpRule = {
  infer(node, ctx) {
    const at = new Attrs(node);
    const a = ctx.shape(input(node, 0));
    const bs = ctx.shape(input(node, 1));
    if (a.length !== 2 || bs.length !== 2) return `inputs must be 2-D, got ${fmtShape(a)} and ${fmtShape(bs)}`;
    const [m, k] = at.int('transA', 0) ? [a[1]!, a[0]!] : [a[0]!, a[1]!];
    const [k2, n] = at.int('transB', 0) ? [bs[1]!, bs[0]!] : [bs[0]!, bs[1]!];
    if (k !== k2) return `inner dimensions differ: ${fmtShape(a)} · ${fmtShape(bs)}`;
    const y: Shape = [m, n];
    if (input(node, 2)) {
      const c = broadcastShapes(y, ctx.shape(input(node, 2)));
      if (typeof c === 'string') return c;
    }
    return [y];
  },
  backward(b, { node }, [dY], wanted) {
    if (!dY) return [];
    const at = new Attrs(node);
    const alpha = at.float('alpha', 1);
    const beta = at.float('beta', 1);
    const tA = at.int('transA', 0);
    const tB = at.int('transB', 0);
    const [A, B, C] = [input(node, 0), input(node, 1), input(node, 2)];
    const al = alpha === 1 ? {} : { alpha: { f: alpha } };
    const out: (string | undefined)[] = [];
    if (wanted[0]) {
      out[0] = tA
        ? b.op('Gemm', [B, dY], { transA: { i: tB }, transB: { i: 1 }, ...al })
        : b.op('Gemm', [dY, B], { transB: { i: tB ? 0 : 1 }, ...al });
    }
    if (wanted[1]) {
      out[1] = tB
        ? b.op('Gemm', [dY, A], { transA: { i: 1 }, transB: { i: tA }, ...al })
        : b.op('Gemm', [A, dY], { transA: { i: tA ? 0 : 1 }, ...al });
    }
    if (wanted[2] && C) {
      const yShape = b.shape(node.output[0]!);
      out[2] = b.scale(unbroadcast(b, dY, yShape, C, b.shape(C)), beta);
    }
    return out;
  },
};

/**
 * `Y = A·B`: 2-D; an activation of any rank times a 2-D weight (a dense layer over positions: `dB` sums over
 * them); or two activations of the same rank ≥ 3 with equal leading dims (attention's `QKᵀ` and `AV`).
 */
export const matmul: OpRule = {
  infer(node, ctx) {
    const a = ctx.shape(input(node, 0));
    const bs = ctx.shape(input(node, 1));
    if (a.length < 2 || bs.length < 2) return `MatMul of vectors is not supported, got ${fmtShape(a)} · ${fmtShape(bs)}`;
    if (transposedWeight(node)) {
      // A·Wᵀ for a 2-D weight W [out, in] read through a Transpose (lower.ts)
      if (a[a.length - 1] !== bs[1]) return `inner dimensions differ: ${fmtShape(a)} · ${fmtShape(bs)}ᵀ`;
      return [[...a.slice(0, -1), bs[0]!]];
    }
    if (bs.length === 2) {
      if (a[a.length - 1] !== bs[0]) return `inner dimensions differ: ${fmtShape(a)} · ${fmtShape(bs)}`;
      return [[...a.slice(0, -1), bs[1]!]];
    }
    if (a.length !== bs.length || a.slice(0, -2).some((d, i) => d !== bs[i])) {
      return `a batched MatMul needs operands of one rank with equal leading dims, got ${fmtShape(a)} · ${fmtShape(bs)}`;
    }
    if (a[a.length - 1] !== bs[bs.length - 2]) return `inner dimensions differ: ${fmtShape(a)} · ${fmtShape(bs)}`;
    return [[...a.slice(0, -1), bs[bs.length - 1]!]];
  },
  forward(b, node) {
    emitMatMul(b, node);
    return [];
  },
  inference(b, node) {
    emitMatMul(b, node);
  },
  backward(b, { node }, [dY], wanted) {
    if (!dY) return [];
    const [A, B] = [input(node, 0), input(node, 1)];
    const [ra, rb] = [b.shape(A).length, b.shape(B).length];
    const out: (string | undefined)[] = [];
    if (transposedWeight(node)) {
      const [n, k] = b.shape(B) as [number, number];
      if (wanted[0]) out[0] = b.op('MatMul', [dY, B]);
      if (wanted[1]) out[1] = b.op('Gemm', [b.reshape(dY, [-1, n]), b.reshape(A, [-1, k])], { transA: { i: 1 } }); // Σ over positions of dYᵀ·A
      return out;
    }
    if (ra === 2 && rb === 2) {
      if (wanted[0]) out[0] = b.op('Gemm', [dY, B], { transB: { i: 1 } });
      if (wanted[1]) out[1] = b.op('Gemm', [A, dY], { transA: { i: 1 } });
      return out;
    }
    const swap = (r: number) => [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2];
    if (wanted[0]) out[0] = b.op('MatMul', [dY, b.transpose(B, swap(rb))]);
    if (wanted[1]) {
      if (rb === 2) {
        // a weight shared by every position: Σ over them of Aᵀ·dY
        const [k, n] = b.shape(B) as [number, number];
        out[1] = b.op('Gemm', [b.reshape(A, [-1, k]), b.reshape(dY, [-1, n])], { transA: { i: 1 } });
      } else out[1] = b.op('MatMul', [b.transpose(A, swap(ra)), dY]);
    }
    return out;
  },
};

/** Whether a MatMul reads its 2-D weight transposed (`lower.ts`). */
export function transposedWeight(node: NodeProto): boolean {
  return new Attrs(node).int(TRANSPOSED_WEIGHT_ATTR, 0) === 1;
}

/** The MatMul as ONNX Runtime runs it: a weight read transposed through a Transpose node again. */
function emitMatMul(b: GraphBuilder, node: NodeProto): void {
  if (!transposedWeight(node)) {
    b.push(node);
    return;
  }
  b.op('MatMul', [input(node, 0), b.transpose(input(node, 1), [1, 0])], {}, node.output[0]!);
}

function binaryInfer(node: Parameters<OpRule['infer']>[0], ctx: Parameters<OpRule['infer']>[1]): Shape[] | string {
  const s = broadcastShapes(ctx.shape(input(node, 0)), ctx.shape(input(node, 1)));
  return typeof s === 'string' ? s : [s];
}

/** Elementwise `A + B` (broadcasting). */
export const add: OpRule = {
  infer: binaryInfer,
  values: (node, ctx) => intValues(node, ctx, (p, q) => p + q),
  backward(b, { node }, [dY], wanted) {
    if (!dY) return [];
    const y = b.shape(node.output[0]!);
    return [0, 1].map((i) => (wanted[i] ? unbroadcast(b, dY, y, input(node, i), b.shape(input(node, i))) : undefined));
  },
};

/** Elementwise `A − B` (broadcasting). */
export const sub: OpRule = {
  infer: binaryInfer,
  values: (node, ctx) => intValues(node, ctx, (p, q) => p - q),
  backward(b, { node }, [dY], wanted) {
    if (!dY) return [];
    const y = b.shape(node.output[0]!);
    return [0, 1].map((i) => {
      if (!wanted[i]) return undefined;
      const g = unbroadcast(b, dY, y, input(node, i), b.shape(input(node, i)));
      return i === 0 ? g : b.op('Neg', [g]);
    });
  },
};

/** Elementwise `A · B` (broadcasting). */
export const mul: OpRule = {
  infer: binaryInfer,
  values: (node, ctx) => intValues(node, ctx, (p, q) => p * q),
  backward(b, { node }, [dY], wanted) {
    if (!dY) return [];
    const y = b.shape(node.output[0]!);
    return [0, 1].map((i) =>
      wanted[i] ? unbroadcast(b, b.mul(dY, input(node, 1 - i)), y, input(node, i), b.shape(input(node, i))) : undefined,
    );
  },
};
