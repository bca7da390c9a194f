/**
 * The refresh-policy interface: what a policy decides (how a request for a cached batch is served), what it
 * stages with a request (applied only when the step that uses the coefficients commits), what it tests on a
 * reused step, how its state is checkpointed and converted from another policy's checkpoint. A policy is one
 * module exporting a {@link RefreshPolicyDefinition}, registered in `registry.ts`.
 *
 * A policy's state is plain, immutable data: every hook takes the state current at that moment and returns the
 * next one, so the optimizer's transaction (stage with the request, commit with the step) holds for it too.
 * @module
 */
import type { AutoOptions } from '../auto.js';
import type { CacheEntry } from '../cache.js';
import type { DriftOptions } from '../drift-options.js';
import type { StaleReason } from '../drift.js';
import type { FngdStats } from '../stats.js';

/**
 * The forms a refresh policy takes in `fngd({ refresh })`, by policy. A module that registers a policy of its own
 * adds its forms here by declaration merging (`declare module 'ifngd' { interface RefreshPolicyForms { … } }`).
 */
export interface RefreshPolicyForms {
  /** The paper's: computed on a miss, reused forever after. */
  'first-epoch': 'first-epoch';
  /** Recomputed once they are k epochs old. */
  every: { readonly everyEpochs: number };
  /** Recomputed at every request: exact damped NGD every step (the reference). */
  always: 'always';
  /** Reused until a drift signal marks the batch stale, plus periodic probes (see {@link DriftOptions}). */
  drift: 'drift' | { readonly drift: DriftOptions };
  /** Refreshed when a refresh pays for itself (see {@link AutoOptions}). */
  auto: 'auto' | { readonly auto: AutoOptions };
}

/** Which coefficients a request gets: one of the forms of a registered policy. */
export type RefreshPolicy = RefreshPolicyForms[keyof RefreshPolicyForms];

/** How a request is served. */
export type Decision = 'hit' | 'miss' | 'refresh' | 'probe';

/** What a computation produced, for the policy's measurements (`auto`'s efficiency, `drift`'s probe). */
export interface ComputedCoefficients {
  /** The Gram(s) the coefficients were solved from (layer-major in layer-wise mode). */
  readonly grams: Float32Array;
  readonly n: number;
  /** The fresh α and the λ they were computed with. */
  readonly alpha: Float32Array;
  readonly damping: number;
  /** The batch's cache entry before (undefined on a miss). */
  readonly basis: CacheEntry | undefined;
}

/** A request's effect on the policy, staged with the request and applied when its step commits. */
export interface PolicyEffect<S> {
  /** The state change, applied to the state current at commit. */
  update(state: S): S;
  /** The policy's counters (`stats.drift`, `stats.auto`), given the state after `update`. */
  count?(stats: FngdStats, state: S): void;
}

/** How a policy serves one request (see {@link RefreshPolicyRule.plan}). */
export interface PolicyPlan<S> {
  /** How a cached batch whose entry is not stale is served; a miss or a stale entry is computed whatever it says. */
  readonly decision: 'hit' | 'refresh' | 'probe';
  /** The effect of serving the request from the cache. */
  reuse(): PolicyEffect<S>;
  /**
   * Called after the batch's factors were captured and before the coefficients are computed; the function it
   * returns gets the computation's result and gives the effect of the computed request (`decision` is how it
   * was served: `'miss'`, `'refresh'` or `'probe'`).
   */
  compute(decision: Decision): (result: ComputedCoefficients) => PolicyEffect<S>;
}

/** A reused step, for the policy's free tests. */
export interface ReusedStep {
  /** ‖update‖ after the guard. */
  readonly norm: number;
  /** The guard shortened the update. */
  readonly capped: boolean;
  /** The batch's loss before the step, if the adapter passed it. */
  readonly loss: number | undefined;
}

/** A policy's verdict on a reused step. */
export interface ReuseVerdict {
  /** ‖reused update‖ / ‖update when fresh‖ of this batch (null before the batch had a fresh step). */
  readonly lengthRatio: number | null;
  /** Why the batch is now stale (recomputed at its next visit), or null. */
  readonly stale: StaleReason | null;
}

/** The policy part of a checkpoint's core state: named fields of plain data. */
export type PolicyFields = Readonly<Record<string, unknown>>;

/** A refresh policy bound to one optimizer's options. `S`: its state (plain, immutable data). */
export interface RefreshPolicyRule<S = unknown> {
  /** The policy's kind (its registry name, recorded in checkpoints). */
  readonly kind: string;
  /** The state at `init`. */
  initial(): S;
  /** How a request for a batch (`entry`: its cache entry, undefined on a miss) at `epoch` is served. */
  plan(state: S, request: { readonly entry: CacheEntry | undefined; readonly epoch: number }): PolicyPlan<S>;
  /** The free tests on a step that reused cached coefficients (after its request's effect was applied). */
  reused(state: S, entry: CacheEntry, step: ReusedStep): ReuseVerdict;
  /** After every applied step, with the batch's loss. */
  stepped(state: S, loss: number | undefined): S;
  /** The state as checkpoint fields (what is not checkpointed — a clock reading — is left out). */
  encode(state: S): PolicyFields;
  /**
   * The state from a checkpoint's fields recorded under policy `from` (checked by `from`'s definition): kept
   * from the same kind, converted or started fresh from another.
   */
  decode(fields: PolicyFields, from: string): S;
  /** Writes what `stats` shows of the state (`drift.probeInterval`). */
  show?(state: S, stats: FngdStats): void;
}

/** What a policy needs to know of the optimizer it serves. */
export interface PolicyContext {
  /** The reuse guard caps a reused update at the batch's own fresh norm (`reference: 'batch'`, `factor` ≤ 1). */
  readonly guardCapsAtFreshNorm: boolean;
}

/** A refresh policy: its forms, its checkpoint fields, and the rule it makes for an optimizer. */
export interface RefreshPolicyDefinition<O = unknown> {
  /** Registry name, recorded in checkpoints. */
  readonly kind: string;
  /** The names its forms use (`'drift'`, `'everyEpochs'`): what an error message lists. */
  readonly names: readonly string[];
  /**
   * Resolves `policy` when it is one of this policy's forms (validated, defaults filled in; throws
   * `InvalidArgumentError` for bad options); `undefined` when it is not.
   */
  parse(policy: unknown): O | undefined;
  /** The reuse guard's default reference under this policy. */
  readonly guardReference: 'global-max' | 'batch';
  /**
   * The checkpoint fields this policy owns and the values they hold in checkpoints of every other policy (a
   * checkpoint of another policy with other values is corrupt).
   */
  readonly idleFields: PolicyFields;
  /**
   * Checks the fields of a checkpoint recorded under this policy — their types and ranges too, for fields the
   * checkpoint format does not know (it checks the built-in policies' `probeInterval`, `sinceProbe` and `auto`);
   * returns why they are not a state of this policy, or null.
   */
  check(fields: PolicyFields): string | null;
  /** Writes what `stats` shows of this policy under every other policy (`drift.probeInterval` 0: no countdown). */
  idleStats?(stats: FngdStats): void;
  /** Claims a checkpoint that recorded no policy (written before policies were recorded) by its state. */
  claims?(fields: PolicyFields): boolean;
  /** The rule for one optimizer. */
  create(options: O, context: PolicyContext): RefreshPolicyRule;
}
