/**
 * Factor capture: one forward/backward pass of the summed loss Σᵢℓᵢ with identity hooks on every tapped
 * pre-activation. The hooks keep each layer's input A and add a zero probe to z; the gradient with respect to
 * the probes is Δ (row i = ∂ℓᵢ/∂zᵢ, since samples do not interact). Only the probes are differentiated, so the
 * pass computes no weight gradients — those come afterwards, α-weighted, from the factors (`weighted-grads.ts`).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import { AdapterArgumentError } from './errors.js';
import type { PerSampleLoss } from './losses.js';
import type { Conv2dGeometry, FunctionModel, Tap, TapWeights } from './model.js';
import { releaseTapeOnThrow } from './tape.js';

/** One tapped layer of a captured batch. */
export interface TapRecord {
  readonly kind: 'dense' | 'conv2d';
  /** The layer input (a kept clone). */
  readonly inputs: Tensor;
  /** Δ, shaped like z. */
  readonly delta: Tensor;
  readonly weights: TapWeights;
  readonly geometry: Conv2dGeometry | null;
}

/** A captured batch: per-layer factors and the summed loss. Dispose it. */
export interface Capture {
  readonly n: number;
  /** Σᵢ ℓᵢ. */
  readonly lossSum: number;
  readonly records: readonly TapRecord[];
  /** Variables no tap covers (generic fallback). */
  readonly uncovered: readonly Variable[];
  dispose(): void;
}

/** Runs the capture pass. `training` is passed to the forward (dropout). Reads Σℓᵢ with `dataSync`. */
export function capture(model: FunctionModel, loss: PerSampleLoss, x: Tensor, y: Tensor, training = true): Capture {
  const { value, ...rest } = captureTensors(model, loss, x, y, training);
  const lossSum = value.dataSync()[0] as number;
  value.dispose();
  return { ...rest, lossSum };
}

/**
 * {@link capture} reading Σℓᵢ with an awaited `data()` — the form for backends without synchronous reads
 * (tfjs webgpu in Node has no OffscreenCanvas for `dataSync`).
 */
export async function captureAsync(model: FunctionModel, loss: PerSampleLoss, x: Tensor, y: Tensor, training = true): Promise<Capture> {
  const { value, ...rest } = captureTensors(model, loss, x, y, training);
  let lossSum: number;
  try {
    lossSum = (await value.data())[0] as number;
  } catch (e) {
    rest.dispose();
    throw e;
  } finally {
    value.dispose();
  }
  return { ...rest, lossSum };
}

function captureTensors(model: FunctionModel, loss: PerSampleLoss, x: Tensor, y: Tensor, training: boolean): Omit<Capture, 'lossSum'> & { value: Tensor } {
  const n = x.shape[0] as number;
  const kept: Tensor[] = [];
  const records: { kind: 'dense' | 'conv2d'; inputs: Tensor; weights: TapWeights; geometry: Conv2dGeometry | null }[] = [];
  const anchor = tf.scalar(0);
  const xs: Tensor[] = [anchor];
  const seen = new Set<Variable>();
  const hook = (kind: 'dense' | 'conv2d') => (z: Tensor, inputs: Tensor, weights: TapWeights, geometry?: Conv2dGeometry): Tensor => {
    for (const v of [weights.kernel, weights.bias]) {
      if (!v) continue;
      if (seen.has(v)) throw new AdapterArgumentError(`capture: variable '${v.name}' is tapped twice (shared weights are not supported)`);
      seen.add(v);
    }
    if (z.shape[0] !== n || inputs.shape[0] !== n) throw new AdapterArgumentError('capture: a tapped layer changed the batch dimension');
    const a = tf.keep(tf.clone(inputs));
    kept.push(a);
    records.push({ kind, inputs: a, weights, geometry: geometry ?? null });
    const probe = tf.zeros(z.shape);
    xs.push(probe);
    return tf.add(z, probe);
  };
  const tap: Tap = { dense: hook('dense'), conv2d: hook('conv2d') };
  let out: { value: Tensor; grads: Tensor[] };
  try {
    out = releaseTapeOnThrow(() => tf.engine().gradients(() => tf.sum(loss(model.forward(x, tap, training), y)), xs, undefined, true)) as { value: Tensor; grads: Tensor[] };
  } catch (e) {
    for (const t of kept) t.dispose();
    anchor.dispose();
    throw e;
  }
  anchor.dispose();
  const deltas = out.grads.slice(1);
  const full: TapRecord[] = records.map((r, i) => {
    const d = deltas[i] ?? tf.zeros(xs[i + 1]?.shape ?? [n]);
    return { ...r, delta: d };
  });
  const uncovered = model.variables.filter((v) => !seen.has(v));
  return {
    n,
    value: out.value,
    records: full,
    uncovered,
    dispose() {
      for (const r of full) {
        r.inputs.dispose();
        r.delta.dispose();
      }
    },
  };
}
