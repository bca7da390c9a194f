/**
 * A proposed FNGD step (`FngdOptimizer.propose`) and its verdict (`settle`): the scalars a step is decided on —
 * finiteness of the parameters before and after, the guard's norm, scale and cap, clipping's count — collected
 * where the trees live, read once, and judged.
 * @module
 */
import { NonFiniteError } from './errors.js';
import type { TicketRecord } from './fngd-tickets.js';
import type { Coefficients } from './coefficients.js';
import type { ApplyIfFiniteState } from './transforms/apply-if-finite.js';
import type { ClipState } from './transforms/clip.js';
import type { FngdScaleState } from './transforms/fngd-scale.js';

/** State of the optimizer's transformation chain (`applyIfFinite` around the chained transforms' states). */
export type ChainState = ApplyIfFiniteState<unknown[]>;

/**
 * A step computed but not yet committed (see `FngdOptimizer.propose`): the proposed parameters and the scalars
 * the commit decides on, still where the trees live. Read `scalars` (once, e.g. with the batch loss) and hand the
 * values to `FngdOptimizer.settle`.
 */
export interface FngdProposal<T, S = number> {
  /** The parameters after the step, if it commits and is applied (`settle` says which parameters to keep). */
  readonly params: T;
  /** The scalars to read, in order; their values go to `settle`. */
  readonly scalars: readonly S[];
  /** The proposed transformation state, scalars unread (for releasing a framework's resources; do not use). */
  readonly state: ChainState;
}

/** Positions of the read values (`number` = the value itself, `{ at }` = `values[at]`). */
type Slot = number | { readonly at: number };

/** Where each scalar of a proposal is. */
export interface ProposalSlots {
  readonly finiteParams: Slot;
  readonly finiteNext: Slot;
  readonly norm: Slot;
  readonly scale: Slot;
  readonly capped: Slot;
  /** `clipByGlobalNorm`'s count, when clipping is on. */
  readonly clipped: Slot | null;
}

/** What `settle` needs of a proposal (kept private to the optimizer). */
export interface ProposalRecord<T> {
  readonly coefficients: Coefficients;
  readonly ticket: TicketRecord;
  /** The chain state the proposal was computed from: another commit in between voids it. */
  readonly basis: ChainState;
  readonly params: T;
  readonly next: T;
  readonly slots: ProposalSlots;
  /** The chain's proposed state (its scalars unread). */
  readonly inner: unknown[];
  /** The learning rate the step was computed with. */
  readonly lr: number;
  settled: boolean;
}

/**
 * The scalars of a proposed update: the finiteness of the parameters before (`finiteParams`) and after
 * (`finiteNext`), and from the chain's state (`scaleByFngd` first, `clipByGlobalNorm` second when `clipping`) the
 * guard's norm, scale and cap and clipping's count. Values already numbers stay out of the read.
 */
export function proposalScalars<S>(finiteParams: S | number, finiteNext: S | number, inner: readonly unknown[], clipping: boolean): { slots: ProposalSlots; scalars: S[] } {
  const scalars: S[] = [];
  const slot = (v: S | number): Slot => {
    if (typeof v === 'number') return v;
    scalars.push(v);
    return { at: scalars.length - 1 };
  };
  const scale = inner[0] as FngdScaleState<S | number>;
  const slots: ProposalSlots = {
    finiteParams: slot(finiteParams),
    finiteNext: slot(finiteNext),
    norm: slot(scale.lastNorm),
    scale: slot(scale.lastScale),
    capped: slot(scale.capped),
    clipped: clipping ? slot((inner[1] as ClipState<S | number>).clipped) : null,
  };
  return { slots, scalars };
}

/** The verdict on a proposal's read values: whether the step applies, and the chain state it commits. */
export interface Verdict {
  readonly applied: boolean;
  /** The guard's scale state after the step (its norm, scale and cap as read). */
  readonly scale: FngdScaleState;
  /** The chain's inner state with the read values in place of its scalars. */
  readonly inner: unknown[];
}

/**
 * Judges a proposal by its read `values`: non-finite parameters throw; a non-finite update, a non-finite loss
 * (`badLoss`) or coefficients that could not be computed (`skipped`) make the step a skip under `skip`, and throw
 * otherwise. Throws `NonFiniteError`; changes nothing.
 */
export function judge(rec: ProposalRecord<unknown>, values: readonly number[], o: { readonly skip: boolean; readonly badLoss: boolean; readonly skipped: boolean }): Verdict {
  const at = (s: Slot): number => (typeof s === 'number' ? s : (values[s.at] as number));
  const { slots } = rec;
  if (at(slots.finiteParams) !== 1) throw new NonFiniteError('step: parameters hold NaN or ±Infinity');
  // every transform of the chain is linear in the gradients with finite or data-dependent factors (0·∞ and
  // 0·NaN are NaN), so non-finite gradients or updates always make the new parameters non-finite: with finite
  // parameters, finite new parameters are the whole check. Which part failed only picks the message — the
  // direction norm λ‖Jᵀα‖, a step scalar anyway, tells non-finite gradients apart.
  const applied = at(slots.finiteNext) === 1 && !o.badLoss && !o.skipped;
  if (!applied && !o.skip) {
    throw new NonFiniteError(
      Number.isFinite(at(slots.norm))
        ? 'step: the update is not finite or made the parameters non-finite (it overflows float32, or the learning rate is not finite)'
        : 'step: gradients hold NaN or ±Infinity',
    );
  }
  const scale: FngdScaleState = { capped: at(slots.capped), lastNorm: at(slots.norm), lastScale: at(slots.scale) };
  const inner = rec.inner.slice();
  inner[0] = scale;
  if (slots.clipped !== null) inner[1] = { clipped: at(slots.clipped) } satisfies ClipState;
  return { applied, scale, inner };
}
