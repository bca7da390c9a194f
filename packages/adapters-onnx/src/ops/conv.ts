/**
 * 2-D Conv: shapes, backward (`dX` by ConvTranspose, `dW` from unfolded patches), and the unfolding itself,
 * which also yields the per-sample curvature factors (patches `[N,T,k]`, output-gradients `[N,T,c]`).
 * @module
 */
import { BATCH, fmtShape, hasBatch, type GraphBuilder } from '../ir.js';
import { Attrs, type NodeProto } from '../proto.js';
import { transposeAttrs, window2d, type Window2d } from './geometry.js';
import { input, type OpRule } from './types.js';

function geometry(b: { shape(n: string): readonly number[] }, node: NodeProto): { w: Window2d; x: readonly number[]; wt: readonly number[] } {
  const x = b.shape(input(node, 0));
  const wt = b.shape(input(node, 1));
  const w = window2d(node, [x[2]!, x[3]!], [wt[2]!, wt[3]!]);
  if (typeof w === 'string') throw new Error(w);
  return { w, x, wt };
}

/**
 * Unfolds `x` `[N,C,H,W]` into patches `[N, C·kh·kw, Ho·Wo]` with a fixed one-hot depthwise Conv (column order
 * matches the weight flattened as `[M, C·kh·kw]`).
 */
export function unfold(b: GraphBuilder, node: NodeProto): string {
  const { w, x } = geometry(b, node);
  const c = x[1]!;
  const [kh, kw] = w.kernel;
  const kk = kh * kw;
  const eye = new Float32Array(c * kk * kk);
  for (let ch = 0; ch < c; ch++) for (let p = 0; p < kk; p++) eye[(ch * kk + p) * kk + p] = 1;
  const e = b.floatConst(eye, [c * kk, 1, kh, kw], 'unfold_kernel');
  const cols = b.op('Conv', [input(node, 0), e], {
    strides: { ints: w.strides },
    dilations: { ints: w.dilations },
    pads: { ints: w.pads },
    group: { i: c },
  });
  return b.reshape(cols, [0, c * kk, w.out[0] * w.out[1]]);
}

/** Per-sample factors of a conv layer: patches `[N,T,k]` and output-gradients `[N,T,M]`. */
export function convFactors(b: GraphBuilder, node: NodeProto, dY: string): { patches: string; outputGrads: string } {
  const { w, wt } = geometry(b, node);
  const t = w.out[0] * w.out[1];
  return {
    patches: b.transpose(unfold(b, node), [0, 2, 1]),
    outputGrads: b.transpose(b.reshape(dY, [0, wt[0]!, t]), [0, 2, 1]),
  };
}

/**
 * A grouped Conv's per-sample gradients `[N, M·(C/G)·kh·kw (+ M)]` — weight in its `[M, C/G, kh, kw]` order, then
 * the bias — for fisher's `jacobian` factors: group g's output-gradients against its input channels' patches.
 */
export function groupedConvJacobian(b: GraphBuilder, node: NodeProto, dY: string, bias: boolean): string {
  const { w, wt } = geometry(b, node);
  const g = new Attrs(node).int('group', 1);
  const [m, kg] = [wt[0]!, wt[1]! * wt[2]! * wt[3]!];
  const t = w.out[0] * w.out[1];
  const cols = b.reshape(unfold(b, node), [0, g, kg, t]); // [N, G, K', T]
  const dy = b.reshape(dY, [0, g, m / g, t]); // [N, G, M/G, T]
  const jw = b.reshape(b.op('MatMul', [dy, b.transpose(cols, [0, 1, 3, 2])]), [0, m * kg]); // [N, M·K']
  return bias ? b.op('Concat', [jw, b.reduceSum(b.reshape(dY, [0, m, t]), [2], false)], { axis: { i: 1 } }) : jw;
}

/** 2-D Conv (any `group`; a grouped one's `dW` per group from its input channels' patches). */
export const conv: OpRule = {
  infer(node, ctx) {
    const x = ctx.shape(input(node, 0));
    const wt = ctx.shape(input(node, 1));
    if (x.length !== 4 || wt.length !== 4) return `only 2-D Conv is supported (${fmtShape(x)}, ${fmtShape(wt)})`;
    if (x[0] !== BATCH && hasBatch(x)) return 'the batch dimension must come first';
    if (hasBatch(wt) || hasBatch(x.slice(1))) return 'weights and spatial dims must be static';
    const group = new Attrs(node).int('group', 1);
    if (x[1] !== wt[1]! * group) return `channels ${x[1]} ≠ ${wt[1]}·group ${group}`;
    const w = window2d(node, [x[2]!, x[3]!], [wt[2]!, wt[3]!]);
    if (typeof w === 'string') return w;
    if (input(node, 2)) {
      const bs = ctx.shape(input(node, 2));
      if (bs.length !== 1 || bs[0] !== wt[0]) return `bias must be [${wt[0]}]`;
    }
    return [[x[0]!, wt[0]!, w.out[0], w.out[1]]];
  },
  backward(b, { node }, [dY], wanted) {
    if (!dY) return [];
    const { w, x, wt } = geometry(b, node);
    const group = new Attrs(node).int('group', 1);
    const out: (string | undefined)[] = [];
    if (wanted[0]) {
      out[0] = b.op('ConvTranspose', [dY, input(node, 1)], transposeAttrs(w, [x[2]!, x[3]!], group));
    }
    if (wanted[1]) {
      const m = wt[0]!;
      const k = wt[1]! * wt[2]! * wt[3]!;
      const t = w.out[0] * w.out[1];
      if (group === 1) {
        const cols = b.reshape(b.transpose(unfold(b, node), [1, 0, 2]), [k, -1]); // [k, N·T]
        const dy = b.reshape(b.transpose(b.reshape(dY, [0, m, t]), [1, 0, 2]), [m, -1]); // [M, N·T]
        out[1] = b.reshape(b.op('Gemm', [dy, cols], { transB: { i: 1 } }), [...wt]);
      } else {
        // group g: its M/G output channels against its C/G input channels' patches, summed over samples and positions
        const cols = b.reshape(b.transpose(b.reshape(unfold(b, node), [0, group, k, t]), [1, 2, 0, 3]), [group, k, -1]); // [G, K', N·T]
        const dy = b.reshape(b.transpose(b.reshape(dY, [0, group, m / group, t]), [1, 2, 0, 3]), [group, m / group, -1]); // [G, M/G, N·T]
        out[1] = b.reshape(b.op('MatMul', [dy, b.transpose(cols, [0, 2, 1])]), [...wt]);
      }
    }
    if (wanted[2] && input(node, 2)) out[2] = b.reduceSum(dY, [0, 2, 3], false);
    return out;
  },
};
