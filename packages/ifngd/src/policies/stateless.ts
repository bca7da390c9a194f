/**
 * What the policies without state of their own share: a rule from a decision function, reused steps measured
 * (the length ratio, for the stats) but never marked stale.
 * @module
 */
import type { CacheEntry } from '../cache.js';
import { reuseSignals } from '../drift.js';
import type { PolicyEffect, RefreshPolicyDefinition, RefreshPolicyRule } from './types.js';

const none: PolicyEffect<null> = { update: () => null };

/** A stateless rule of `kind` that serves a cached batch as `decide(entry, epoch)` says. */
export function statelessRule(kind: string, decide: (entry: CacheEntry, epoch: number) => 'hit' | 'refresh'): RefreshPolicyRule<null> {
  return {
    kind,
    initial: () => null,
    plan: (_state, { entry, epoch }) => ({
      decision: entry ? decide(entry, epoch) : 'refresh',
      reuse: () => none,
      compute: () => () => none,
    }),
    reused: (_state, entry, step) => reuseSignals(entry, step, null),
    stepped: () => null,
    encode: () => ({}),
    decode: () => null,
  };
}

/** A policy without options or state, written as its name alone (`'first-epoch'`, `'always'`). */
export function statelessPolicy(name: string, decide: (entry: CacheEntry, epoch: number) => 'hit' | 'refresh'): RefreshPolicyDefinition<true> {
  return {
    kind: name,
    names: [name],
    parse: (p) => (p === name ? true : undefined),
    guardReference: 'global-max',
    idleFields: {},
    check: () => null,
    create: () => statelessRule(name, decide),
  };
}
