/**
 * `'auto'` / `{ auto: {...} }`: a batch's coefficients are refreshed when a refresh pays for itself — the measured
 * price of a refresh against the measured loss of value of reused coefficients (the model and its measurements:
 * `../auto.ts`). State: the learned model (checkpointed as `auto`) and when the previous request was served (a
 * clock reading, not checkpointed).
 * @module
 */
import {
  autoDecision,
  autoReuseTests,
  emptyAutoState,
  observe,
  observeLoss,
  recordTiming,
  resolveAuto,
  reuseEfficiency,
  splitPrice,
  type AutoOptions,
  type AutoReason,
  type AutoState,
  type ResolvedAuto,
} from '../auto.js';
import { reuseSignals, shiftSignal } from '../drift.js';
import type { FngdStats } from '../stats.js';
import { namedForm } from './forms.js';
import type { RefreshPolicyDefinition, RefreshPolicyRule } from './types.js';

/** When and how the previous committed request was served (with a measured price). */
interface RequestTiming {
  readonly time: number;
  readonly epoch: number;
  readonly fresh: boolean;
  /** A computed request's curvature time in ms — after its factors were captured (null: served from the cache). */
  readonly solve: number | null;
}

interface AutoPolicyState {
  readonly model: AutoState;
  readonly last: RequestTiming | null;
}

function autoRule(o: ResolvedAuto, guardCapsAtFreshNorm: boolean): RefreshPolicyRule<AutoPolicyState> {
  const tests = autoReuseTests(o.lengthRatio, guardCapsAtFreshNorm);
  const initial = (): AutoPolicyState => ({ model: emptyAutoState(), last: null });
  /** What every committed request records: the decision's price and cycle, the model's current values. */
  const counter = (reason: AutoReason, price: number | null, cycle: number | null, fresh: boolean) => (stats: FngdStats, state: AutoPolicyState) => {
    if (fresh) {
      if (reason === 'warmup') stats.auto.refreshes.warmup++;
      else if (reason === 'roi') stats.auto.refreshes.roi++;
      else if (reason === 'explore') stats.auto.refreshes.explore++;
      else if (reason === 'max-age') stats.auto.refreshes.maxAge++;
    }
    if (price !== null) stats.auto.price = price;
    stats.auto.rate = state.model.rate;
    stats.auto.observations = state.model.observations;
    stats.auto.last = state.model.last;
    if (cycle !== null) stats.auto.cycle = cycle; // the cycle of the last model decision
  };
  return {
    kind: 'auto',
    initial,
    plan(state, { entry, epoch }) {
      // the period since the previous request is one step's cost, cached or computed (same epoch only)…
      const now = o.price === 'measured' ? o.clock() : null;
      const last = state.last;
      const period = now !== null && last && last.epoch === epoch ? { kind: last.fresh ? ('freshPeriods' as const) : ('cachedPeriods' as const), ms: now - last.time } : null;
      // …and after a computed request, that step's split price (its curvature time against the rest of its period)
      const split = period && last?.solve != null ? splitPrice(last.solve, period.ms) : null;
      const timed = (s: AutoState): AutoState => {
        if (!period) return s;
        const x = recordTiming(s, period.kind, period.ms);
        return split === null ? x : recordTiming(x, 'splits', split);
      };
      let reason: AutoReason = null;
      let price: number | null = null;
      let cycle: number | null = null;
      if (entry && !entry.stale) ({ reason, price, cycle } = autoDecision(timed(state.model), entry.reuses, o));
      return {
        decision: reason !== null ? 'refresh' : 'hit',
        reuse: () => {
          const timing = now === null ? null : { time: now, epoch, fresh: false, solve: null };
          return { update: (s) => ({ model: timed(s.model), last: timing }), count: counter(reason, price, cycle, false) };
        },
        compute: () => {
          const solveStart = now !== null ? o.clock() : null;
          return (r) => {
            const efficiency = r.basis ? reuseEfficiency(r.grams, r.n, r.basis.alpha, r.alpha, r.damping) : null;
            const solve = solveStart !== null ? o.clock() - solveStart : null;
            const age = r.basis ? r.basis.reuses + 1 : 0;
            const timing = now === null ? null : { time: now, epoch, fresh: true, solve };
            return {
              update: (s) => {
                const x = timed(s.model);
                return { model: efficiency === null ? x : observe(x, age, efficiency, o), last: timing };
              },
              count: counter(reason, price, cycle, true),
            };
          };
        },
      };
    },
    reused(state, entry, step) {
      const reuse = reuseSignals(entry, step, tests);
      const shifted = reuse.stale === null && shiftSignal(entry, step.loss, o.lossRatio, state.model.meanLoss ?? null);
      return shifted ? { ...reuse, stale: 'loss' } : reuse;
    },
    stepped: (state, loss) => ({ model: observeLoss(state.model, loss), last: state.last }),
    encode: (state) => ({ auto: state.model }),
    decode: (fields, from) => (from === 'auto' && fields['auto'] ? { model: fields['auto'] as AutoState, last: null } : initial()),
  };
}

export const autoPolicy: RefreshPolicyDefinition<ResolvedAuto> = {
  kind: 'auto',
  names: ['auto'],
  parse: (p) => namedForm<AutoOptions, ResolvedAuto>(p, 'auto', resolveAuto),
  guardReference: 'batch',
  idleFields: { auto: null },
  check: (fields) => (fields['auto'] ? null : `'auto' without its state`),
  claims: (fields) => fields['auto'] !== null && fields['auto'] !== undefined,
  create: (o, context) => autoRule(o, context.guardCapsAtFreshNorm),
};
