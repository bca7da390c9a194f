/**
 * A refresh policy defined outside the package, as a user would: `{ everyVisits: k }` recomputes a batch's
 * coefficients at every k-th visit of any batch since the last computation, with a checkpointed visit counter.
 */
import type { RefreshPolicyDefinition, RefreshPolicyRule } from '../../src/index.js';

declare module '../../src/index.js' {
  interface RefreshPolicyForms {
    everyVisits: { readonly everyVisits: number };
  }
}

interface VisitState {
  readonly visits: number;
}

function rule(k: number): RefreshPolicyRule<VisitState> {
  const count = { update: (s: VisitState) => ({ visits: s.visits + 1 }) };
  return {
    kind: 'every-visits',
    initial: () => ({ visits: 0 }),
    plan: (state) => ({
      decision: (state.visits + 1) % k === 0 ? 'refresh' : 'hit',
      reuse: () => count,
      compute: () => () => count,
    }),
    reused: (_s, entry, step) => ({ lengthRatio: entry.freshNorm ? step.norm / entry.freshNorm : null, stale: null }),
    stepped: (s) => s,
    encode: (s) => ({ visits: s.visits }),
    decode: (fields, from) => ({ visits: from === 'every-visits' ? (fields['visits'] as number) : 0 }),
  };
}

export const everyVisitsPolicy: RefreshPolicyDefinition<number> = {
  kind: 'every-visits',
  names: ['everyVisits'],
  parse(p) {
    if (typeof p !== 'object' || p === null || !('everyVisits' in p) || Object.keys(p).length !== 1) return undefined;
    const k = (p as { everyVisits: unknown }).everyVisits;
    if (!Number.isSafeInteger(k) || (k as number) < 1) throw new RangeError('everyVisits must be an integer ≥ 1');
    return k as number;
  },
  guardReference: 'global-max',
  idleFields: { visits: 0 },
  check: (fields) => (Number.isSafeInteger(fields['visits']) && (fields['visits'] as number) >= 0 ? null : `visits ${String(fields['visits'])}`),
  create: (k) => rule(k),
};
