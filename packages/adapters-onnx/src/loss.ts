/**
 * Per-sample losses appended to the model output, and the seed of the backward pass (the gradient of the
 * *summed* loss Σᵢ ℓᵢ).
 *
 * - `'softmax-cross-entropy'`: ℓᵢ = −Σ_c yᵢ_c · log softmax(zᵢ)_c over a 2-D output `[N,C]`. When the output
 *   is produced by `Softmax` the loss is fused onto its input (the logits); after `LogSoftmax` it uses the
 *   log-probabilities directly; otherwise the output is taken to be logits. Targets `[N,C]` (one-hot or
 *   probabilities; class indices are one-hot encoded on the host).
 * - `'mse'`: ℓᵢ = mean over the non-batch elements of (yᵢ − tᵢ)².
 * @module
 */
import { UnsupportedModelError } from './errors.js';
import { fmtShape, type GraphBuilder, type Shape } from './ir.js';
import { Attrs, type NodeProto } from './proto.js';

/** Supported losses. */
export type LossKind = 'softmax-cross-entropy' | 'mse';

/** What {@link appendLoss} emitted. */
export interface LossNodes {
  /** Per-sample losses `[N]`. */
  readonly losses: string;
  /** The tensor the backward pass starts at, and its gradient. */
  readonly seedAt: string;
  readonly seed: string;
}

/** Validates that `loss` fits the output shape; returns the target shape. */
export function targetShape(loss: LossKind, out: Shape): Shape {
  if (loss === 'softmax-cross-entropy' && out.length !== 2) {
    throw new UnsupportedModelError(`softmax-cross-entropy needs a 2-D output [N,C], got ${fmtShape(out)}`);
  }
  return out;
}

/** Appends the loss to `output` (produced by `producer`, if any). */
export function appendLoss(b: GraphBuilder, loss: LossKind, output: string, producer: NodeProto | undefined, target: string): LossNodes {
  const shape = b.shape(output);
  if (loss === 'mse') {
    const diff = b.sub(output, target);
    const d = shape.slice(1).reduce((a, x) => a * x, 1);
    const sq = b.mul(diff, diff);
    const summed = shape.length === 1 ? sq : b.reduceSum(sq, shape.slice(1).map((_, i) => i + 1), false);
    return { losses: b.scale(summed, 1 / d), seedAt: output, seed: b.scale(diff, 2 / d) };
  }
  targetShape(loss, shape);
  if (producer?.opType === 'LogSoftmax' && lastAxis(producer)) {
    const losses = b.op('Neg', [b.reduceSum(b.mul(target, output), [1], false)]);
    return { losses, seedAt: output, seed: b.op('Neg', [target]) };
  }
  const logits = lossInput(loss, output, producer);
  const lsm = b.op('LogSoftmax', [logits], { axis: { i: 1 } });
  const losses = b.op('Neg', [b.reduceSum(b.mul(target, lsm), [1], false)]);
  const mass = b.reduceSum(target, [1], true);
  const seed = b.sub(b.mul(b.op('Softmax', [logits], { axis: { i: 1 } }), mass), target);
  return { losses, seedAt: logits, seed };
}

/** Whether a (Log)Softmax node normalizes over the class axis of a 2-D output. */
function lastAxis(n: NodeProto): boolean {
  const a = new Attrs(n).int('axis', -1);
  return a === -1 || a === 1;
}

/**
 * The tensor the loss reads as the function of the model whose Hessian `ifngd/internal`'s `gaussNewtonProducts` knows
 * (the Gauss–Newton matrix's outputs): the output itself under `'mse'`; under softmax cross-entropy the logits — a
 * last-axis `Softmax`'s input (the loss is fused onto it), else the output (logits, or a last-axis `LogSoftmax`'s
 * log-probabilities, which give the same products: the softmax Hessian `diag(p) − ppᵀ` ignores a shift of its
 * logits, and the log-probabilities are the logits shifted by their log-sum-exp).
 */
export function lossInput(loss: LossKind, output: string, producer: NodeProto | undefined): string {
  return loss === 'softmax-cross-entropy' && producer?.opType === 'Softmax' && lastAxis(producer) ? producer.input[0]! : output;
}
