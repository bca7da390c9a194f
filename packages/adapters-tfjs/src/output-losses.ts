/**
 * A loss per output, as tfjs's `compile({ loss, lossWeights })` takes them: sample i's loss is
 * `ℓᵢ = Σₒ wₒ·ℓₒ(outputₒᵢ, targetₒᵢ)` (wₒ default 1), one per-sample loss over the packed output (`io.ts`), so FNGD's
 * per-sample Gram and KFAC's factors see the summed loss as they see a single one. Targets are given like the
 * inputs (an array in output order or a record by output name) and are checked per output exactly as a single
 * output's are (`targets.ts`; class indices one-hot), then packed. Each output's targets are shaped like it (a
 * custom loss's too: they are packed beside the others).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor1D } from '@tensorflow/tfjs-core';
import { AdapterArgumentError, type TensorSignature } from './errors.js';
import { byName, pack, type IoSpec, type ModelIo } from './io.js';
import { resolveLoss, type LossName, type PerSampleLoss } from './losses.js';
import type { FoldActivation } from './model.js';
import { checkTargetShape, checkTargetValues, checkTargetValuesSync, lossTargets, type TargetKind } from './targets.js';
import { targetError } from './errors.js';

/** One output's loss: a name or a per-sample function. */
export type OutputLoss = LossName | PerSampleLoss;

/** The per-output losses of a model, resolved. */
export interface OutputLosses {
  /** Each output's loss name (null: a custom function). */
  readonly names: readonly (LossName | null)[];
  readonly fns: readonly PerSampleLoss[];
  readonly weights: readonly number[];
  /** The activation each output's loss folds (softmax/sigmoid for the cross-entropies). */
  readonly folds: readonly FoldActivation[];
}

const foldOf = (l: OutputLoss): FoldActivation => (l === 'softmax-cross-entropy' ? 'softmax' : l === 'sigmoid-cross-entropy' ? 'sigmoid' : null);
const isLoss = (v: unknown): v is OutputLoss => typeof v === 'function' || v === 'softmax-cross-entropy' || v === 'sigmoid-cross-entropy' || v === 'mse';
const isWeight = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/**
 * The losses of `outputs` from `loss` (one for all, an array in output order, or a record by output name) and
 * `lossWeights` (same forms; finite, ≥ 0; default 1). Throws `AdapterArgumentError`.
 */
export function resolveOutputLosses(loss: unknown, lossWeights: unknown, outputs: readonly IoSpec[]): OutputLosses {
  const where = 'FngdTrainer.create';
  const losses = isLoss(loss) ? outputs.map(() => loss) : byName(where, 'outputs (loss)', loss, outputs, isLoss);
  const weights = lossWeights === undefined ? outputs.map(() => 1) : byName(where, 'outputs (lossWeights)', lossWeights, outputs, isWeight);
  if (!weights.some((w) => w > 0)) throw new AdapterArgumentError(`${where}: every loss weight is 0; at least one output must be trained`);
  return {
    names: losses.map((l) => (typeof l === 'string' ? l : null)),
    fns: losses.map((l) => resolveLoss(l)),
    weights,
    folds: losses.map(foldOf),
  };
}

/** `ℓᵢ = Σₒ wₒ·ℓₒ` over a packed output and packed targets. */
export function packedLoss(io: ModelIo, ol: OutputLosses): PerSampleLoss {
  return (out, y) =>
    tf.tidy(() => {
      const outs = io.unpackOutputs(out);
      const ys = io.unpackOutputs(y);
      let total: Tensor | null = null;
      outs.forEach((o, k) => {
        const w = ol.weights[k] as number;
        if (w === 0) return;
        const l = tf.mul((ol.fns[k] as PerSampleLoss)(o, ys[k] as Tensor), w);
        total = total ? tf.add(total, l) : l;
      });
      return (total ?? tf.zeros([out.shape[0] as number])) as Tensor1D;
    });
}

interface Checked {
  readonly ys: readonly Tensor[];
  readonly kinds: readonly TargetKind[];
  readonly n: number;
}

/** Shapes and dtypes of every output's targets (synchronous). */
function checkShapes(where: string, io: ModelIo, ol: OutputLosses, y: unknown, n: number): Checked {
  const ys = byName(where, 'outputs (targets)', y, io.outputs, (v): v is Tensor => v instanceof tf.Tensor);
  const kinds = ys.map((t, k) => {
    const s = io.outputs[k] as IoSpec;
    const output: TensorSignature = { shape: [n, ...s.shape], dtype: 'float32' };
    const w = `${where} (output '${s.name}')`;
    const kind = checkTargetShape(w, ol.names[k] ?? null, t, output);
    if (kind.kind === 'custom' && !(t.rank === output.shape.length && output.shape.every((d, i) => d === t.shape[i]))) {
      throw targetError(w, { shape: t.shape, dtype: t.dtype }, output, "with several outputs, a custom loss's targets are shaped like its output");
    }
    return kind;
  });
  return { ys, kinds, n };
}

/** The packed targets (a new tensor) of checked ones. */
function packChecked(c: Checked): Tensor {
  const made: Tensor[] = [];
  try {
    const parts = c.ys.map((t, k) => {
      const l = lossTargets(t, c.kinds[k] as TargetKind);
      if (l !== t) made.push(l);
      return l;
    });
    return pack(parts, c.n);
  } finally {
    tf.dispose(made);
  }
}

/**
 * Checks every output's targets (shapes, dtypes, values: one awaited read per output whose values need one) for
 * inputs of `n` samples and returns them packed (a new tensor). Throws `TargetError` naming the output, or
 * `AdapterArgumentError` for targets not given per output.
 */
export async function packTargets(where: string, io: ModelIo, ol: OutputLosses, y: unknown, n: number): Promise<Tensor> {
  const c = checkShapes(where, io, ol, y, n);
  for (let k = 0; k < c.ys.length; k++) {
    await checkTargetValues(`${where} (output '${(io.outputs[k] as IoSpec).name}')`, c.ys[k] as Tensor, c.kinds[k] as TargetKind);
  }
  return packChecked(c);
}

/** {@link packTargets} with synchronous reads (for `evaluate`). */
export function packTargetsSync(where: string, io: ModelIo, ol: OutputLosses, y: unknown, n: number): Tensor {
  const c = checkShapes(where, io, ol, y, n);
  c.ys.forEach((t, k) => checkTargetValuesSync(`${where} (output '${(io.outputs[k] as IoSpec).name}')`, t, c.kinds[k] as TargetKind));
  return packChecked(c);
}

/** `AdapterArgumentError` unless `loss` has the single-output form (a name or a function). */
export function singleLoss(loss: unknown): void {
  if (!isLoss(loss)) throw new AdapterArgumentError('FngdTrainer.create: the model has one output; give `loss` as a name or a per-sample function');
}
