/**
 * `BatchNormalization` over `[N, C, …]`: in training mode (`training_mode = 1`, what `torch.onnx.export(…,
 * training=TrainingMode.TRAINING)` writes) with the batch's statistics, else with the running ones the model holds.
 *
 * The forward pass is emitted as primitives (so the batch mean and variance are outputs the trainer reads to update
 * the running statistics) and the backward is derived here: with `x̂ = (x − μ)·s`, `s = 1/√(σ² + ε)` and the means
 * `⟨·⟩` over the batch and spatial axes, `dx = s·(g − ⟨g⟩ − x̂·⟨g·x̂⟩)` for `g = dy·γ` in training mode (`dx = s·g`
 * with running statistics), `dγ = Σ dy·x̂`, `dβ = Σ dy`.
 *
 * Per-sample gradients: samples are coupled through the batch statistics, so "sample i's gradient" is a choice.
 * The trainer uses each sample's **share of the batch gradient** — the gradient of `Σⱼℓⱼ` with respect to a private
 * copy of the parameters only sample i uses — as the tfjs trainer's BatchNormalization does by default: the rows sum
 * to the batch gradient, and they come from the one backward pass every step runs (`Δ` at every layer is the summed
 * loss's gradient, row i what flows through sample i). γ and β's own rows are `Σ_spatial Δᵢ·x̂ᵢ` and `Σ_spatial Δᵢ`
 * ({@link batchNormJacobian}).
 * @module
 */
import { BATCH, fmtShape, hasBatch, type GraphBuilder, type Shape } from '../ir.js';
import { Attrs, type NodeProto } from '../proto.js';
import { input, type OpRule } from './types.js';

/** Whether a BatchNormalization node normalizes with the batch's statistics. */
export function isTrainingBatchNorm(node: NodeProto): boolean {
  return node.opType === 'BatchNormalization' && new Attrs(node).int('training_mode', 0) === 1;
}

/** The axes a BatchNormalization averages over: the batch and the spatial axes. */
function statAxes(rank: number): number[] {
  return [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)];
}

/** A per-channel `[C]` tensor as `[C, 1, …]`, broadcasting against `[N, C, …]`. */
function perChannel(b: GraphBuilder, t: string, rank: number): string {
  return rank === 2 ? t : b.reshape(t, [-1, ...Array<number>(rank - 2).fill(1)]);
}

/** How many values each channel's statistics average: `N · ∏ spatial`, as a float tensor `[1]`. */
function statCount(b: GraphBuilder, x: string, xs: Shape): string {
  const n = b.op('Cast', [b.op('Gather', [b.op('Shape', [x]), b.ints([0], 'batch_axis')], { axis: { i: 0 } })], { to: { i: 1 } });
  const spatial = xs.slice(2).reduce((a, d) => a * d, 1);
  return b.scale(n, spatial);
}

/** `Σ_axes t / count` with the kept dims. */
function meanOver(b: GraphBuilder, t: string, axes: readonly number[], count: string): string {
  return b.op('Div', [b.reduceSum(t, axes, true), count]);
}

/**
 * BatchNormalization (`Y` only: the running-statistics outputs of a training-mode node must not be read — the
 * trainer keeps the running statistics itself). Saved for the backward: `x̂`, `s`, and in training mode the batch mean
 * and (biased) variance `[C]` the trainer folds into the running statistics.
 */
export const batchNormalization: OpRule = {
  infer(node, ctx) {
    const x = ctx.shape(input(node, 0));
    if (x.length < 2 || x[0] !== BATCH || hasBatch(x.slice(1))) return `the input must be [N, C, …] with the batch first, got ${fmtShape(x)}`;
    const c = x[1]!;
    for (let i = 1; i <= 4; i++) {
      const s = ctx.shape(input(node, i));
      if (s.length !== 1 || s[0] !== c) return `input ${i} must be [${c}] (one value per channel), got ${fmtShape(s)}`;
    }
    const train = isTrainingBatchNorm(node);
    if (!train && node.output.slice(1).some((o) => o !== '')) return 'a BatchNormalization with running-statistics outputs needs training_mode = 1';
    return [x, [c], [c]].slice(0, Math.max(1, node.output.length));
  },
  forward(b, node) {
    const [x, scale, bias, runMean, runVar] = [0, 1, 2, 3, 4].map((i) => input(node, i)) as [string, string, string, string, string];
    const xs = b.shape(x);
    const r = xs.length;
    const eps = b.scalar(new Attrs(node).float('epsilon', 1e-5));
    let xhat: string;
    let inv: string;
    const saved: string[] = [];
    if (isTrainingBatchNorm(node)) {
      const axes = statAxes(r);
      const count = statCount(b, x, xs);
      const mean = meanOver(b, x, axes, count);
      const d = b.sub(x, mean);
      const variance = meanOver(b, b.mul(d, d), axes, count);
      inv = b.op('Reciprocal', [b.op('Sqrt', [b.add(variance, eps)])]);
      xhat = b.mul(d, inv);
      saved.push(b.reshape(mean, [-1]), b.reshape(variance, [-1]));
    } else {
      inv = b.op('Reciprocal', [b.op('Sqrt', [b.add(perChannel(b, runVar, r), eps)])]);
      xhat = b.mul(b.sub(x, perChannel(b, runMean, r)), inv);
    }
    b.shapes.set(xhat, xs);
    b.op('Add', [b.mul(xhat, perChannel(b, scale, r)), perChannel(b, bias, r)], {}, node.output[0]!);
    return [xhat, inv, ...saved];
  },
  inference(b, node) {
    b.push(inferenceBatchNorm(node));
  },
  backward(b, { node, saved }, [dY], wanted) {
    if (!dY) return [];
    const [xhat, inv] = saved as [string, string];
    const x = input(node, 0);
    const xs = b.shape(x);
    const r = xs.length;
    const axes = statAxes(r);
    const out: (string | undefined)[] = [];
    if (wanted[0]) {
      const g = b.mul(dY, perChannel(b, input(node, 1), r));
      if (isTrainingBatchNorm(node)) {
        const count = statCount(b, x, xs);
        const centered = b.sub(b.sub(g, meanOver(b, g, axes, count)), b.mul(xhat, meanOver(b, b.mul(g, xhat), axes, count)));
        out[0] = b.mul(centered, inv);
      } else out[0] = b.mul(g, inv);
    }
    if (wanted[1]) out[1] = b.reduceSum(b.mul(dY, xhat), axes, false);
    if (wanted[2]) out[2] = b.reduceSum(dY, axes, false);
    return out;
  },
};

/** Per-sample gradients `[N, 2C]` of a BatchNormalization's γ and β (see the module doc) from its `Δ` and saved `x̂`. */
export function batchNormJacobian(b: GraphBuilder, xhat: string, delta: string, rank: number): string {
  const spatial = Array.from({ length: rank - 2 }, (_, i) => i + 2);
  const sum = (t: string) => (spatial.length > 0 ? b.reduceSum(t, spatial, false) : t);
  return b.op('Concat', [sum(b.mul(delta, xhat)), sum(delta)], { axis: { i: 1 } });
}


/** A training-mode BatchNormalization as inference runs it: with its running statistics (`training_mode = 0`, `Y` only). */
export function inferenceBatchNorm(node: NodeProto): NodeProto {
  if (!isTrainingBatchNorm(node)) return node;
  const attribute = node.attribute.filter((a) => a.name !== 'training_mode');
  return { ...node, output: node.output.slice(0, 1), attribute } as NodeProto;
}
