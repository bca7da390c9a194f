/**
 * The open registry of factor kinds: what a layer hands the Fisher, and how its per-sample Gram is formed.
 *
 * A factor kind is one object — {@link FactorKind} — that knows how many samples a value of its kind describes
 * (checking its shapes) and how to build the `[n,n]` per-sample Gram `Gᵢⱼ = ⟨∇ℓᵢ, ∇ℓⱼ⟩` of the parameters it
 * covers, without ever forming J. The built-in kinds (`dense`, `conv2d`, `jacobian`, `gram`) are registered exactly as a
 * new kind is: by {@link registerFactorKind}; `gram` carries a Gram its caller computed. To make a new kind part of the {@link LayerFactors} type, augment
 * {@link FactorKinds}:
 *
 * ```ts
 * declare module '@ifngd/fisher' {
 *   interface FactorKinds { diagonal: { kind: 'diagonal'; grads: Matrix } }
 * }
 * registerFactorKind<FactorKinds['diagonal']>({ kind: 'diagonal', samples: (f) => f.grads.rows, gram: (dev, f) => dev.gram(f.grads) });
 * ```
 * @module
 */
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import { FisherArgumentError } from '../errors.js';
import { conv2dKind, type Conv2dFactors } from './conv2d.js';
import { denseKind, type DenseFactors } from './dense.js';
import { gramKind, type GramFactors } from './gram.js';
import { jacobianKind, type JacobianFactors } from './jacobian.js';

/**
 * Every factor kind, by name. Augment this interface (declaration merging) to add a kind to {@link LayerFactors}.
 */
export interface FactorKinds {
  dense: DenseFactors;
  conv2d: Conv2dFactors;
  jacobian: JacobianFactors;
  gram: GramFactors;
}

/**
 * What a layer contributes to the per-sample Gram, as data: one of the registered {@link FactorKinds}.
 * Output-gradients are gradients of the *summed* loss `Σᵢ ℓᵢ` w.r.t. the layer's pre-activations (so row i is
 * sample i's own gradient).
 */
export type LayerFactors = FactorKinds[keyof FactorKinds];

/** One factor kind: its name, its sample count (with shape checks) and its per-sample Gram. */
export interface FactorKind<F extends { readonly kind: string } = { readonly kind: string }> {
  /** The `kind` tag of its factors. */
  readonly kind: F['kind'];
  /**
   * The number of samples n the factors describe. Throws `ShapeMismatchError` (or `FisherArgumentError`) when
   * their parts disagree; enqueues nothing.
   */
  samples(factors: F): number;
  /** The `[n,n]` per-sample Gram (a new matrix; temporaries released). */
  gram(dev: LinalgDevice, factors: F): Matrix;
}

const KINDS = new Map<string, FactorKind>([
  [denseKind.kind, denseKind as unknown as FactorKind],
  [conv2dKind.kind, conv2dKind as unknown as FactorKind],
  [jacobianKind.kind, jacobianKind as unknown as FactorKind],
  [gramKind.kind, gramKind as unknown as FactorKind],
]);

/**
 * Registers a factor kind. Throws `FisherArgumentError` when the name is taken or the object is not a kind
 * (nothing is registered then).
 */
export function registerFactorKind<F extends { readonly kind: string }>(kind: FactorKind<F>): void {
  const k = kind as Partial<FactorKind<F>> | null | undefined;
  if (!k || typeof k.kind !== 'string' || k.kind === '' || typeof k.samples !== 'function' || typeof k.gram !== 'function') {
    throw new FisherArgumentError('registerFactorKind: expected { kind: string, samples(factors), gram(dev, factors) }');
  }
  if (KINDS.has(k.kind)) throw new FisherArgumentError(`registerFactorKind: a factor kind '${k.kind}' is already registered`);
  KINDS.set(k.kind, kind as unknown as FactorKind);
}

/** The registered kinds' names. */
export function factorKinds(): string[] {
  return [...KINDS.keys()];
}

/** The kind of `factors`; `FisherArgumentError` naming the registered kinds when there is none. */
export function factorKindOf(factors: unknown, what = 'factors'): FactorKind {
  const name = (factors as { kind?: unknown } | null | undefined)?.kind;
  const kind = typeof name === 'string' ? KINDS.get(name) : undefined;
  if (!kind) {
    throw new FisherArgumentError(
      `${what}.kind must be a registered factor kind (${factorKinds().map((k) => `'${k}'`).join(', ')}), got ${String(name)}; register a new kind with registerFactorKind`,
    );
  }
  return kind;
}

/** The number of samples a layer's factors describe (shape-checked by its kind). */
export function factorSamples(factors: LayerFactors): number {
  return factorKindOf(factors).samples(factors);
}
