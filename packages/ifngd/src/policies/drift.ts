/**
 * `'drift'` / `{ drift: {...} }`: a batch's coefficients are reused until a drift signal marks it stale — the
 * free tests on every reused step (the guard capped it, its update grew, its loss rose; {@link DriftOptions}) —
 * and every `probeInterval` reused requests one is served fresh and compared with the cached coefficients
 * through the fresh Gram (a probe); the interval halves after a failed probe and doubles after a passed one.
 * State: the probe countdown, checkpointed as `probeInterval` and `sinceProbe`.
 * @module
 */
import { resolveDrift, type DriftOptions } from '../drift-options.js';
import { nextProbeInterval, probe, reuseSignals } from '../drift.js';
import { namedForm } from './forms.js';
import type { PolicyEffect, RefreshPolicyDefinition, RefreshPolicyRule } from './types.js';

/** The probe countdown: reused requests between probes, and since the last one. */
interface DriftState {
  readonly probeInterval: number;
  readonly sinceProbe: number;
}

const none: PolicyEffect<DriftState> = { update: (s) => s };

function driftRule(o: Required<DriftOptions>): RefreshPolicyRule<DriftState> {
  const initial = (): DriftState => ({ probeInterval: o.probeEvery, sinceProbe: 0 });
  return {
    kind: 'drift',
    initial,
    plan: (state) => ({
      decision: state.sinceProbe >= state.probeInterval ? 'probe' : 'hit',
      reuse: () => ({ update: (s) => ({ ...s, sinceProbe: s.sinceProbe + 1 }) }),
      compute: (decision) => (r) => {
        if (decision !== 'probe' || !r.basis) return none;
        const p = probe(r.grams, r.n, r.basis, { alpha: r.alpha, damping: r.damping }, o);
        return {
          update: (s) => ({ sinceProbe: 0, probeInterval: nextProbeInterval(s.probeInterval, p.failed, o) }),
          count(stats) {
            stats.drift.probes++;
            if (p.failed) stats.drift.probeFailures++;
            stats.drift.lastProbe = { directionCosine: p.directionCosine, alphaCosine: p.alphaCosine, lengthRatio: p.lengthRatio };
          },
        };
      },
    }),
    reused: (_state, entry, step) => reuseSignals(entry, step, o),
    stepped: (state) => state,
    encode: (state) => ({ probeInterval: state.probeInterval, sinceProbe: state.sinceProbe }),
    decode(fields, from) {
      if (from !== 'drift') return initial();
      const interval = fields['probeInterval'] as number;
      // the interval clamped to this optimizer's bounds
      return { probeInterval: Math.min(o.maxProbeEvery, Math.max(o.minProbeEvery, interval)), sinceProbe: fields['sinceProbe'] as number };
    },
    show(state, stats) {
      stats.drift.probeInterval = state.probeInterval;
    },
  };
}

export const driftPolicy: RefreshPolicyDefinition<Required<DriftOptions>> = {
  kind: 'drift',
  names: ['drift'],
  parse: (p) => namedForm(p, 'drift', resolveDrift),
  guardReference: 'batch',
  idleFields: { probeInterval: 0, sinceProbe: 0 },
  check(fields) {
    const interval = fields['probeInterval'] as number;
    const since = fields['sinceProbe'] as number;
    return interval >= 1 && since >= 0 ? null : `'drift' with probe interval ${interval}, ${since} since the last probe`;
  },
  idleStats(stats) {
    stats.drift.probeInterval = 0;
  },
  claims: (fields) => (fields['probeInterval'] as number) >= 1,
  create: (o) => driftRule(o),
};
