/**
 * KFAC's diagonal block: the parameters that are no Kronecker layer's weight or bias (normalization scale and
 * shift, depthwise filters, embeddings, PReLU slopes, parameters of layers without a block) preconditioned by the
 * diagonal of their empirical Fisher — kfac-jax's *scale-and-shift diagonal* block, applied to every such
 * parameter.
 *
 * Per parameter θₖ the batch statistic is the per-sample second moment `dₖ = (1/n)·Σᵢ (∂ℓᵢ/∂θₖ)²` (ℓᵢ sample i's
 * loss; the diagonal of `F = (1/n)·Σᵢ ∇ℓᵢ∇ℓᵢᵀ`, the same Fisher the Kronecker blocks approximate). It is averaged
 * like the Kronecker factors (first-step initialisation, decay β, every `factorEvery` steps); at an inverse
 * refresh the damped inverse `1/(dₖ + λ)` is taken — the exact inverse of the diagonal block `diag(d) + λI`,
 * where the Kronecker blocks split λ between their factors by the π-rule. Every step: `vₖ = gₖ/(dₖ + λ)` for the
 * mean-loss gradient g. All on the host: O(d) per step.
 *
 * The caller supplies the second moments (`extras.secondMoments`), one array per leaf: from explicit per-sample
 * gradients J (`[n, d]`) that is `Σᵢ Jᵢₖ²/n`; layers with structured per-sample gradients compute it without J
 * (an embedding: per sample, the output-gradients summed per token, squared).
 * @module
 */
import { InvalidArgumentError, NonFiniteError, ShapeError } from '../errors.js';
import type { HostTree } from '../tree.js';
import { runningAverage } from './running-average.js';

/** Per-parameter second moments `(1/n)·Σᵢ (∂ℓᵢ/∂θₖ)²` of the diagonal leaves, by leaf name. */
export type SecondMoments = Readonly<Record<string, Float32Array | Float64Array>>;

/** Where a step's second moments come from: the arrays, or a function called only when they are needed. */
export type SecondMomentSource = SecondMoments | (() => SecondMoments | Promise<SecondMoments>);

/** The diagonal block's state (plain data, checkpointed; never modified in place). */
export interface KfacDiagonalState {
  /** Running average of the second moments over the diagonal leaves, concatenated in their order (float64). */
  readonly d: Float64Array | null;
  /** `1/(d + λ)` at the last inverse refresh. */
  readonly inv: Float32Array | null;
}

/** The state nothing has been observed for. */
export const emptyDiagonalState = (): KfacDiagonalState => ({ d: null, inv: null });

/** Resolves the source and concatenates the leaves' second moments (float64), checking names, sizes and values. */
export async function loadSecondMoments(
  source: SecondMomentSource | undefined,
  leaves: readonly string[],
  leafSize: (name: string) => number | undefined,
): Promise<Float64Array> {
  if (source === undefined) {
    throw new InvalidArgumentError(
      `kfac: step: this step updates the factors and ${leaves.length} leaves are diagonal; extras.secondMoments is required`,
    );
  }
  if (typeof source !== 'function' && (typeof source !== 'object' || source === null || Array.isArray(source))) {
    throw new InvalidArgumentError('kfac: step: extras.secondMoments must be an object of arrays by leaf, or a function');
  }
  const m = typeof source === 'function' ? await source() : source;
  if (typeof m !== 'object' || m === null) throw new InvalidArgumentError('kfac: step: secondMoments() returned no object');
  const extra = Object.keys(m).find((k) => !leaves.includes(k));
  if (extra !== undefined) throw new InvalidArgumentError(`kfac: step: secondMoments has leaf '${extra}', which is not a diagonal leaf`);
  const total = leaves.reduce((s, name) => s + (leafSize(name) ?? 0), 0);
  const out = new Float64Array(total);
  let at = 0;
  for (const name of leaves) {
    const size = leafSize(name) as number;
    const v = m[name];
    if (!(v instanceof Float32Array || v instanceof Float64Array)) {
      throw new InvalidArgumentError(`kfac: step: secondMoments['${name}'] must be a Float32Array or Float64Array`);
    }
    if (v.length !== size) throw new ShapeError(`kfac: step: secondMoments['${name}'] has ${v.length} values, the leaf ${size}`);
    for (let k = 0; k < size; k++) {
      const x = v[k] as number;
      if (!Number.isFinite(x)) throw new NonFiniteError(`kfac: step: secondMoments['${name}'] holds NaN or ±Infinity`);
      if (x < 0) throw new InvalidArgumentError(`kfac: step: secondMoments['${name}'][${k}] is ${x}; second moments are ≥ 0`);
      out[at + k] = x;
    }
    at += size;
  }
  return out;
}

/** The state after absorbing a batch's second moments. */
export const absorbDiagonal = (s: KfacDiagonalState, batch: Float64Array, decay: number): KfacDiagonalState => ({
  ...s,
  d: runningAverage(s.d, batch, decay),
});

/** The state with its damped inverse `1/(dₖ + λ)` refreshed (kfac-jax's diagonal blocks: the same λ as the rest). */
export function refreshDiagonal(s: KfacDiagonalState, damping: number): KfacDiagonalState {
  if (!s.d) throw new TypeError('unreachable: a diagonal inverse before any second moments');
  const inv = new Float32Array(s.d.length);
  for (let k = 0; k < inv.length; k++) inv[k] = 1 / ((s.d[k] as number) + damping);
  return { ...s, inv };
}

/** `vₖ = gₖ·invₖ` for every diagonal leaf, and `Σₖ vₖgₖ` (float64). */
export function preconditionDiagonal(
  grads: HostTree,
  leaves: readonly string[],
  inv: Float32Array,
): { leaves: Record<string, Float32Array>; vg: number } {
  const out: Record<string, Float32Array> = {};
  let vg = 0;
  let at = 0;
  for (const name of leaves) {
    const g = grads[name] as Float32Array;
    const v = new Float32Array(g.length);
    for (let k = 0; k < g.length; k++) {
      v[k] = (g[k] as number) * (inv[at + k] as number);
      vg += (v[k] as number) * (g[k] as number);
    }
    at += g.length;
    out[name] = v;
  }
  return { leaves: out, vg };
}
