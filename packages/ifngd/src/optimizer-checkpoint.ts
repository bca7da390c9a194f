/**
 * What an FNGD optimizer checkpoint holds, and its validation on restore: model fingerprint, mode,
 * transformation state (momentum buffers, schedule position, …), core state (step, λ, guard reference, drift
 * probe counters), counters, and the coefficient cache.
 * @module
 */
import { checkAutoState } from './auto.js';
import type { BatchKey, CacheEntry } from './cache.js';
import { decodeCheckpoint, encodeCheckpoint, fnv1a, sameStructure } from './checkpoint.js';
import { CheckpointError } from './errors.js';
import type { CoreState } from './core-state.js';
import { checkpointPolicy, idleFields, type CheckpointPolicy } from './policies/registry.js';
import type { PolicyFields } from './policies/types.js';
import { emptyStats, type FngdStats } from './stats.js';
import type { HostTree, LeafSpec, TreeOps } from './tree.js';

/** The core state as a checkpoint holds it: the optimizer's fields and the refresh policies' fields. */
export interface CheckpointCore {
  readonly step: number;
  readonly damping: number;
  readonly maxFreshNorm: number;
  readonly pending: CoreState['pending'];
  /** Every registered policy's checkpoint fields: the recorded policy's state, the others at their idle values. */
  readonly fields: PolicyFields;
}

/** Payload format name of an FNGD optimizer checkpoint. */
export const FNGD_CHECKPOINT_FORMAT = 'ifngd-optimizer';
const FORMAT = FNGD_CHECKPOINT_FORMAT;
const TREE = '__tree__';

/** The model fingerprint: FNV-1a of the parameter names, sizes and (where the tree knows them) shapes, in order. */
export function modelFingerprint(spec: readonly LeafSpec[]): string {
  return fnv1a(JSON.stringify(spec.map((l) => (l.shape ? [l.name, l.size, l.shape] : [l.name, l.size]))));
}

/** What a checkpoint records of the model: its fingerprint and its leaves (names, sizes, shapes when known). */
export function modelRecord(spec: readonly LeafSpec[]): { fingerprint: string; leaves: LeafSpec[] } {
  return { fingerprint: modelFingerprint(spec), leaves: spec.map((l) => ({ name: l.name, size: l.size, ...(l.shape ? { shape: [...l.shape] } : {}) })) };
}

/**
 * Throws `CheckpointError` (`CHECKPOINT_MODEL`) unless a checkpoint's model record is the current model's: same
 * names, sizes and shapes in order. A record without shapes (written before they were recorded) is compared by names
 * and sizes.
 */
export function checkModelRecord(model: unknown, spec: readonly LeafSpec[]): void {
  const m = model as { fingerprint?: unknown; leaves?: unknown } | null | undefined;
  const leaves = Array.isArray(m?.leaves) ? (m.leaves as LeafSpec[]) : null;
  const shapeless = leaves !== null && leaves.every((l) => typeof l === 'object' && l !== null && l.shape === undefined);
  const mine = shapeless ? modelFingerprint(spec.map(({ name, size }) => ({ name, size }))) : modelFingerprint(spec);
  if (m && m.fingerprint === mine) return;
  const show = (ls: readonly LeafSpec[]): string => ls.map((l) => `${l.name}:${l.shape ? `[${l.shape.join(',')}]` : l.size}`).join(', ');
  throw new CheckpointError('CHECKPOINT_MODEL', `checkpoint belongs to another model: {${leaves ? show(leaves) : '?'}} vs {${show(spec)}}`);
}

function isPlain(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return true;
  if (Array.isArray(v) || v instanceof Float32Array || v instanceof Float64Array) return true;
  const p = Object.getPrototypeOf(v) as unknown;
  return p === Object.prototype || p === null;
}

/** Optimizer state → plain data: framework trees (non-plain objects) go through `ops.toHost`. */
export function toPlain<T>(v: unknown, ops: TreeOps<T, unknown>): unknown {
  if (!isPlain(v)) return { [TREE]: ops.toHost(v as T) };
  if (Array.isArray(v)) return v.map((x) => toPlain(x, ops));
  if (typeof v === 'object' && v !== null && !(v instanceof Float32Array) && !(v instanceof Float64Array)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toPlain(x, ops)]));
  }
  return v;
}

/** The inverse of {@link toPlain}: host trees back into the optimizer's tree type. */
export function fromPlain<T>(v: unknown, ops: TreeOps<T, unknown>): unknown {
  if (Array.isArray(v)) return v.map((x) => fromPlain(x, ops));
  if (typeof v === 'object' && v !== null && !(v instanceof Float32Array) && !(v instanceof Float64Array)) {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === TREE) return ops.fromHost((v as Record<string, unknown>)[TREE] as HostTree);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromPlain(x, ops)]));
  }
  return v;
}

/** Serializes an optimizer. */
export function serializeCheckpoint<T>(s: {
  spec: readonly LeafSpec[];
  mode: string;
  /** The refresh policy's kind (restore converts between policies: each policy's `decode`). */
  policy: string;
  chain: unknown;
  core: CheckpointCore;
  stats: FngdStats;
  cache: readonly CacheEntry[];
  ops: TreeOps<T, unknown>;
}): Uint8Array {
  return encodeCheckpoint({
    format: FORMAT,
    model: modelRecord(s.spec),
    mode: s.mode,
    policy: s.policy,
    core: { step: s.core.step, damping: s.core.damping, maxFreshNorm: s.core.maxFreshNorm, pending: s.core.pending, ...idleFields(), ...s.core.fields },
    stats: s.stats,
    chain: toPlain(s.chain, s.ops),
    cache: s.cache.map((e) => ({ ...e })),
  });
}

const bad = (what: string): never => {
  throw new CheckpointError('CHECKPOINT_FORMAT', `checkpoint: invalid ${what}`);
};

function finiteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

const count = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * Whether every number in a plain value (transformation state: momentum buffers, counters, schedule position…) is
 * finite — what any run's state is; a NaN buffer would make every later step throw.
 */
export function allFiniteDeep(v: unknown): boolean {
  if (typeof v === 'number') return Number.isFinite(v);
  if (v instanceof Float32Array || v instanceof Float64Array) return v.every(Number.isFinite);
  if (Array.isArray(v)) return v.every(allFiniteDeep);
  if (typeof v === 'object' && v !== null) return Object.values(v).every(allFiniteDeep);
  return true;
}

function checkEntry(e: unknown): CacheEntry {
  if (typeof e !== 'object' || e === null) return bad('cache entry');
  const x = e as Record<string, unknown>;
  const key = x.key;
  if (!(typeof key === 'string' || finiteNumber(key))) return bad('cache key');
  const n = x.n;
  const layers = x.layers;
  if (!Number.isSafeInteger(n) || (n as number) < 1 || !Number.isSafeInteger(layers) || (layers as number) < 1) return bad('cache entry size');
  const alpha = x.alpha;
  if (!(alpha instanceof Float32Array) || alpha.length !== (n as number) * (layers as number) || !alpha.every(Number.isFinite)) return bad('cache coefficients');
  if (!finiteNumber(x.damping) || x.damping <= 0 || !count(x.epoch) || !count(x.reuses)) return bad('cache entry fields');
  const optNum = (v: unknown): number | null => (v === null ? null : finiteNumber(v) ? v : bad('cache entry norm/loss'));
  if (x.freshNorm !== null && !(finiteNumber(x.freshNorm) && x.freshNorm >= 0)) return bad('cache entry norm (a norm is ≥ 0)');
  if (typeof x.stale !== 'boolean') return bad('cache entry flag');
  return {
    key: key as BatchKey,
    n: n as number,
    layers: layers as number,
    alpha,
    damping: x.damping,
    epoch: x.epoch as number,
    freshNorm: optNum(x.freshNorm),
    freshLoss: optNum(x.freshLoss),
    lastLoss: x.lastLoss === undefined ? null : optNum(x.lastLoss), // absent before the `auto` policy
    stale: x.stale,
    reuses: x.reuses as number,
  };
}

/**
 * Decodes and validates a checkpoint against the current model (`spec`), mode and transformation state
 * structure. Pure: returns the restored pieces or throws {@link CheckpointError}.
 */
export function restoreCheckpoint<T>(
  bytes: Uint8Array,
  current: { spec: readonly LeafSpec[]; mode: string; chain: unknown; ops: TreeOps<T, unknown> },
): { chain: unknown; core: CheckpointCore; policy: CheckpointPolicy; stats: FngdStats; cache: CacheEntry[] } {
  const p = decodeCheckpoint(bytes) as Record<string, unknown> | null;
  if (typeof p !== 'object' || p === null || p.format !== FORMAT) return bad('payload (not an optimizer checkpoint)');
  checkModelRecord(p.model, current.spec);
  if (p.mode !== current.mode) throw new CheckpointError('CHECKPOINT_MODEL', `checkpoint mode '${String(p.mode)}', optimizer mode '${current.mode}'`);
  if (!sameStructure(toPlain(current.chain, current.ops), p.chain)) {
    throw new CheckpointError('CHECKPOINT_MODEL', 'checkpoint was made with another optimizer configuration (transformation state differs)');
  }
  if (!allFiniteDeep(p.chain)) return bad('transformation state (NaN or ±Infinity)');
  const chain = fromPlain(p.chain, current.ops);
  const core = p.core as Record<string, unknown> & { pending?: { lossBefore?: unknown; predicted?: unknown } | null };
  const coreOk =
    typeof core === 'object' && core !== null &&
    count(core.step) && finiteNumber(core.damping) && core.damping > 0 && finiteNumber(core.maxFreshNorm) && core.maxFreshNorm >= 0 &&
    count(core.probeInterval) && count(core.sinceProbe) &&
    (core.pending === null || (typeof core.pending === 'object' && finiteNumber(core.pending.lossBefore) && finiteNumber(core.pending.predicted)));
  if (!coreOk) return bad('core state');
  // `auto` state: absent in checkpoints of other policies (or older versions) → null; present → validated
  const auto = core.auto === undefined || core.auto === null ? null : checkAutoState(core.auto);
  if (core.auto !== undefined && core.auto !== null && auto === null) return bad('auto policy state');
  const { step, damping, maxFreshNorm, pending, ...rest } = core;
  const fields: PolicyFields = { ...idleFields(), ...rest, auto };
  const policy = checkpointPolicy(p.policy, fields);
  const stats = p.stats as FngdStats;
  if (typeof stats === 'object' && stats !== null && (stats as { auto?: unknown }).auto === undefined) {
    (stats as { auto: FngdStats['auto'] }).auto = emptyStats(1, 1).auto; // a checkpoint from before `auto`
  }
  const refreshes = (stats as { auto?: { refreshes?: Record<string, unknown> } } | null)?.auto?.refreshes;
  if (typeof refreshes === 'object' && refreshes !== null && refreshes.explore === undefined) {
    // a checkpoint from before `auto` explored: no exploring refresh yet (key order as in emptyStats)
    const { warmup, roi, maxAge, ...rest } = refreshes;
    (stats.auto as { refreshes: unknown }).refreshes = { warmup, roi, explore: 0, maxAge, ...rest };
  }
  if (typeof stats === 'object' && stats !== null && (stats as { evictedBatches?: unknown }).evictedBatches === undefined) {
    (stats as { evictedBatches: number }).evictedBatches = 0; // a checkpoint from before eviction
  }
  if (!sameStructure(emptyStats(1, 1), stats)) return bad('stats');
  if (!Array.isArray(p.cache)) return bad('cache');
  const cache = p.cache.map(checkEntry);
  return { chain, core: { step: step as number, damping: damping as number, maxFreshNorm: maxFreshNorm as number, pending: pending as CoreState['pending'], fields }, policy, stats, cache };
}
