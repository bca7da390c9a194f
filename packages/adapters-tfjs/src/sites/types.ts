/**
 * Parameter sites and the rules that turn them into per-sample curvature factors.
 *
 * A *site* is one application of a layer's parameters in the forward pass: the model calls `tap.site(kind, z,
 * inputs, params)` with the site's output z and whatever its rule needs (`inputs`), and the capture pass keeps
 * them with Δ = ∂(Σᵢℓᵢ)/∂z. Sites of the same parameters (a shared layer, an RNN unrolled by hand, tied weights)
 * form one {@link SiteGroup}: their per-sample gradients add, as positions of a convolution do. A
 * {@link SiteRule} — one module per kind, registered in `registry.ts` — owns everything FNGD and KFAC need of
 * its kind: the group's per-sample Gram factors (a `@ifngd/fisher` factor kind), the α-weighted gradient
 * `Σᵢ wᵢ∇ℓᵢ`, and whether the factors are KFAC Kronecker factors.
 * @module
 */
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import type { PatchFilters } from '../patches.js';

/** A site's parameters by role (`kernel`, `bias`, `gamma`, `beta`, `embeddings`, …); null: the role is absent. */
export type SiteParams = Readonly<Record<string, Variable | null | undefined>>;

/** One captured site. */
export interface SiteRecord {
  /** The rule's kind. */
  readonly kind: string;
  /** What the rule needs from the forward pass (a kept clone): dense inputs, conv inputs, normalized values, ids. */
  readonly inputs: Tensor;
  /** Δ, shaped like the site's output z. */
  readonly delta: Tensor;
  readonly params: SiteParams;
  /** Rule-specific data given at the site (conv geometry …). */
  readonly meta: unknown;
}

/** Every captured site of one set of parameters, in forward order. */
export interface SiteGroup {
  readonly rule: SiteRule;
  readonly params: SiteParams;
  readonly sites: readonly SiteRecord[];
}

/** What a rule may use besides the sites. */
export interface RuleContext {
  readonly filters: PatchFilters;
  /** Samples in the batch. */
  readonly n: number;
}

/**
 * A `@ifngd/fisher` factor value whose matrices are still tfjs tensors: `kind` and the flags as fisher takes
 * them, every tensor to be uploaded as a matrix of the same shape (2-D or 3-D).
 */
export interface TensorFactors {
  readonly kind: string;
  readonly tensors: Readonly<Record<string, Tensor>>;
  readonly flags?: Readonly<Record<string, unknown>>;
}

/** The per-sample rules of one site kind. */
export interface SiteRule {
  readonly kind: string;
  /** The roles of its parameters, in the order its factors lay them out (absent roles skipped). */
  readonly roles: readonly string[];
  /**
   * KFAC: the group's {@link SiteRule.factors} are `dense`/`conv2d` Kronecker factors of `params.kernel` (tfjs
   * layout `[…, in, out]`) and `params.bias`. The parameters of other rules are KFAC's diagonal block
   * ({@link SiteRule.secondMoments}).
   */
  readonly kronecker: boolean;
  /**
   * The group's per-sample Gram factors (new tensors; the caller disposes them). May be async (an awaited read of
   * something small, such as token ids, on backends without synchronous reads).
   */
  factors(group: SiteGroup, ctx: RuleContext): TensorFactors | Promise<TensorFactors>;
  /** `Σᵢ wᵢ∇ℓᵢ` of the group's parameters (`w`: `[n]`), new tensors keyed by variable. */
  weightedGrads(group: SiteGroup, w: Tensor, ctx: RuleContext): Map<Variable, Tensor>;
  /**
   * KFAC's diagonal block, for rules that are not `kronecker`: the per-sample second moments
   * `(1/n)·Σᵢ (∂ℓᵢ/∂θ)²` of each of the group's parameters (new tensors, shaped like the variable). Optional: without
   * it the trainer forms them from n calls of {@link SiteRule.weightedGrads} with one-hot weights (exact, since
   * the weighted gradient is linear in w, but n times the cost).
   */
  secondMoments?(group: SiteGroup, ctx: RuleContext): Map<Variable, Tensor> | Promise<Map<Variable, Tensor>>;
}

/** The group's present parameters in role order. */
export function groupVariables(group: Pick<SiteGroup, 'rule' | 'params'>): Variable[] {
  return group.rule.roles.flatMap((r) => {
    const v = group.params[r];
    return v ? [v] : [];
  });
}
