/**
 * The refresh policies, by name: adding one is a module exporting a {@link RefreshPolicyDefinition} and one
 * line here (or a call to {@link registerRefreshPolicy}). Resolves `fngd({ refresh })` to a definition and its
 * options, and reads a checkpoint's policy.
 * @module
 */
import { CheckpointError, InvalidArgumentError } from '../errors.js';
import { checkKeys } from '../option-keys.js';
import { alwaysPolicy } from './always.js';
import { autoPolicy } from './auto.js';
import { driftPolicy } from './drift.js';
import { everyEpochsPolicy } from './every-epochs.js';
import { firstEpochPolicy } from './first-epoch.js';
import type { FngdStats } from '../stats.js';
import type { PolicyContext, PolicyFields, RefreshPolicyDefinition, RefreshPolicyRule } from './types.js';

const POLICIES = new Map<string, RefreshPolicyDefinition<any>>();

/** The optimizer's own fields of a checkpoint's core state: no policy may use them. */
const CORE_FIELDS: readonly string[] = ['step', 'damping', 'maxFreshNorm', 'pending'];

/**
 * Registers a refresh policy (its forms are added to `RefreshPolicyForms` by declaration merging). Throws
 * `InvalidArgumentError` for a name already taken or a checkpoint field another policy owns.
 */
export function registerRefreshPolicy<O>(definition: RefreshPolicyDefinition<O>): void {
  const d = definition as Partial<RefreshPolicyDefinition<O>> | null;
  const valid =
    typeof d === 'object' && d !== null && typeof d.kind === 'string' && d.kind !== '' && d.kind !== 'stateless' &&
    Array.isArray(d.names) && d.names.every((n) => typeof n === 'string') &&
    typeof d.parse === 'function' && typeof d.check === 'function' && typeof d.create === 'function' &&
    (d.guardReference === 'global-max' || d.guardReference === 'batch') &&
    typeof d.idleFields === 'object' && d.idleFields !== null && !Array.isArray(d.idleFields);
  if (!valid) throw new InvalidArgumentError('registerRefreshPolicy: a definition { kind, names, parse, guardReference, idleFields, check, create } is required');
  if (POLICIES.has(definition.kind)) throw new InvalidArgumentError(`registerRefreshPolicy: a policy '${definition.kind}' is registered already`);
  for (const field of Object.keys(definition.idleFields)) {
    if (CORE_FIELDS.includes(field)) throw new InvalidArgumentError(`registerRefreshPolicy: checkpoint field '${field}' is the optimizer's own`);
    const owner = [...POLICIES.values()].find((d) => field in d.idleFields);
    if (owner) throw new InvalidArgumentError(`registerRefreshPolicy: checkpoint field '${field}' belongs to policy '${owner.kind}'`);
  }
  POLICIES.set(definition.kind, definition);
}

const BUILT_IN: readonly RefreshPolicyDefinition<any>[] = [firstEpochPolicy, everyEpochsPolicy, alwaysPolicy, driftPolicy, autoPolicy];
for (const p of BUILT_IN) registerRefreshPolicy(p);

/** A policy resolved from the options: its definition and validated options. */
export interface ResolvedPolicy {
  readonly definition: RefreshPolicyDefinition<unknown>;
  readonly options: unknown;
}

/** Validates a policy (unknown keys included) and fills in the defaults; throws `InvalidArgumentError`. */
export function resolvePolicy(policy: unknown): ResolvedPolicy {
  for (const definition of POLICIES.values()) {
    const options = definition.parse(policy);
    if (options !== undefined) return { definition, options };
  }
  const names = [...POLICIES.values()].flatMap((d) => d.names);
  if (typeof policy === 'object' && policy !== null && !Array.isArray(policy)) {
    const keys = Object.keys(policy);
    if (keys.length !== 1) throw new InvalidArgumentError(`refresh: a policy object has exactly one key, the policy's name (${names.join(', ')}); got {${keys.join(', ')}}`);
    checkKeys(policy, names, 'refresh'); // a misspelt name: InvalidOptionError naming it
  }
  throw new InvalidArgumentError(`refresh: unknown policy ${JSON.stringify(policy) ?? String(policy)} (one of ${names.join(', ')})`);
}

/** The rule of a resolved policy for one optimizer. */
export function policyRule(p: ResolvedPolicy, context: PolicyContext): RefreshPolicyRule {
  return p.definition.create(p.options, context);
}

/** Writes what `stats` shows of the policies: `rule`'s state, every other policy idle. */
export function showPolicies(rule: RefreshPolicyRule, state: unknown, stats: FngdStats): void {
  for (const d of POLICIES.values()) if (d.kind !== rule.kind) d.idleStats?.(stats);
  rule.show?.(state, stats);
}

/** The policy fields every checkpoint carries: every registered policy's, at their idle values. */
export function idleFields(): Record<string, unknown> {
  return Object.assign({}, ...[...POLICIES.values()].map((d) => d.idleFields)) as Record<string, unknown>;
}

/** A checkpoint's policy: one of the registered, or `'stateless'` (an unrecorded one without state of its own). */
export type CheckpointPolicy = string;

/**
 * Reads (or, for a checkpoint that recorded none, infers) a checkpoint's policy and checks that its fields fit it:
 * its own fields by its definition, every other policy's at their idle values. Throws `CheckpointError`.
 */
export function checkpointPolicy(recorded: unknown, fields: PolicyFields): CheckpointPolicy {
  const bad = (why: string): never => {
    throw new CheckpointError('CHECKPOINT_FORMAT', `checkpoint: invalid policy state (${why})`);
  };
  if (recorded !== undefined && (typeof recorded !== 'string' || !POLICIES.has(recorded))) return bad(`unknown policy ${JSON.stringify(recorded)}`);
  const kind = (recorded as string | undefined) ?? [...POLICIES.values()].find((d) => d.claims?.(fields))?.kind ?? 'stateless';
  const own = POLICIES.get(kind);
  const why = own?.check(fields);
  if (why) bad(why);
  for (const d of POLICIES.values()) {
    if (d === own) continue;
    for (const [field, idle] of Object.entries(d.idleFields)) {
      const v = fields[field] ?? null;
      if (v !== idle) bad(`'${kind}' with the state of '${d.kind}' (${field})`);
    }
  }
  return kind;
}
