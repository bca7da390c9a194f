/**
 * The open registry of site rules: `tap.site(kind, …)` names one of them. Built-ins are registered here the
 * way a new rule is: one module, one entry.
 * @module
 */
import { AdapterArgumentError } from '../errors.js';
import { conv2dRule } from './conv2d.js';
import { conv2dTransposeRule } from './conv2d-transpose.js';
import { denseRule } from './dense.js';
import { depthwiseRule } from './depthwise.js';
import { elementwiseRule } from './elementwise.js';
import { embeddingRule } from './embedding.js';
import { scaleShiftRule } from './scale-shift.js';
import type { SiteRule } from './types.js';

const RULES = new Map<string, SiteRule>([denseRule, conv2dRule, conv2dTransposeRule, scaleShiftRule, embeddingRule, depthwiseRule, elementwiseRule].map((r) => [r.kind, r]));

/** Registers a site rule (`AdapterArgumentError` when the kind is taken or the rule is malformed). */
export function registerSiteRule(rule: SiteRule): void {
  const r = rule as Partial<SiteRule> | null | undefined;
  if (!r || typeof r.kind !== 'string' || !Array.isArray(r.roles) || typeof r.factors !== 'function' || typeof r.weightedGrads !== 'function' || typeof r.kronecker !== 'boolean') {
    throw new AdapterArgumentError('registerSiteRule: expected { kind, roles, kronecker, factors, weightedGrads }');
  }
  if (RULES.has(r.kind)) throw new AdapterArgumentError(`registerSiteRule: a site rule '${r.kind}' is already registered`);
  RULES.set(r.kind, rule);
}

/** The rule of `kind`; `AdapterArgumentError` naming the registered kinds otherwise. */
export function siteRule(kind: string): SiteRule {
  const r = RULES.get(kind);
  if (!r) throw new AdapterArgumentError(`tap.site: no site rule '${kind}' (registered: ${[...RULES.keys()].join(', ')}); register one with registerSiteRule`);
  return r;
}
