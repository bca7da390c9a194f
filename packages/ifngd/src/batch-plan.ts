/**
 * The batch plan: which samples form which mini-batch, keyed by **sample identity**, so that cached
 * coefficients survive a change of the data set.
 *
 * FNGD caches α per batch, and α is only meaningful for the same samples in the same order. A plan fixes the
 * partition of samples (by id) into batches; a batch's key is a hash of its member ids in order, so it does not
 * depend on the sample count or on where the samples sit in the data. When the data changes between runs
 * (samples appended, removed or replaced — the nightly-retraining case), {@link planBatches} keeps every batch
 * whose samples are all still present (same key: its cached coefficients are reused), and regroups the rest —
 * survivors of changed batches and new samples — into new batches (new keys: computed fresh).
 * @module
 */
import { InvalidArgumentError } from './errors.js';
import { shuffled } from './rng.js';

/** A sample's identity: a stable id of the caller's choosing, or a content hash (see the tfjs trainer). */
export type SampleId = string | number;

/** One planned batch: its cache key and its member ids, in batch order. */
export interface PlannedBatch {
  readonly key: string;
  readonly ids: readonly SampleId[];
}

/**
 * A partition of samples into batches (plain data: JSON-serialisable for checkpoints). Version 2 keys batches by
 * {@link batchKeyOf}; version 1 plans (an earlier key that two different id lists could share) are still read, and
 * re-planned when given as `previous`.
 */
export interface BatchPlan {
  readonly version: 1 | 2;
  readonly batchSize: number;
  readonly seed: number;
  readonly batches: readonly PlannedBatch[];
}

/** What changed against the previous plan (all zero but `added` for a first plan). */
export interface PlanChange {
  /** Batches kept with their keys (cached coefficients stay valid). */
  readonly kept: number;
  /** Previous batches dropped because a member was removed or replaced. */
  readonly dropped: number;
  /** New batches (new keys). */
  readonly added: number;
}

/** `number:` / `string:` prefixed, so that `1` and `'1'` are different samples. */
function idText(id: SampleId): string {
  return typeof id === 'number' ? `n${id}` : `s${id}`;
}

/** 64-bit FNV-1a (two 32-bit lanes) of a string, as 16 hex digits. */
function hash64(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x9e3779b9;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x0100019b) >>> 0;
  }
  return a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0');
}

/** Each id's text with its length in front: a list of ids maps to exactly one string (no separator to forge). */
function idList(ids: readonly SampleId[]): string {
  return ids
    .map((id) => {
      const t = idText(id);
      return `${t.length}:${t}`;
    })
    .join('');
}

/**
 * The key of a batch: its size and a 64-bit hash of its member ids in order, each length-prefixed, so that no two
 * id lists share the text that is hashed (`['x', 'a\0sb']` and `['x\0sa', 'b']` differ).
 */
export function batchKeyOf(ids: readonly SampleId[]): string {
  return `k${ids.length}:${hash64(idList(ids))}`;
}

/** The key of version 1 plans (ids joined by NUL: not injective), to read those plans. */
function legacyKeyOf(ids: readonly SampleId[]): string {
  return `b${ids.length}:${hash64(ids.map(idText).join('\u0000'))}`;
}

function chunk(ids: readonly SampleId[], batchSize: number): PlannedBatch[] {
  const out: PlannedBatch[] = [];
  for (let i = 0; i < ids.length; i += batchSize) {
    const part = ids.slice(i, i + batchSize);
    out.push({ key: batchKeyOf(part), ids: part });
  }
  return out;
}

function checkIds(ids: readonly SampleId[]): Set<string> {
  if (!Array.isArray(ids)) throw new InvalidArgumentError('batch plan: sample ids must be an array');
  const seen = new Set<string>();
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!((typeof id === 'number' && Number.isFinite(id)) || typeof id === 'string')) {
      throw new InvalidArgumentError(`batch plan: sample id ${i} must be a finite number or a string, got ${String(id)}`);
    }
    const t = idText(id);
    if (seen.has(t)) throw new InvalidArgumentError(`batch plan: sample id ${JSON.stringify(id)} appears twice (ids must be unique)`);
    seen.add(t);
  }
  return seen;
}

/**
 * Plans the batches of a data set whose samples have the given `ids` (unique). Without a usable `previous`
 * plan (none, or another batch size or seed) the partition is a seeded permutation cut into `batchSize`
 * chunks. With one, every previous batch whose members are all still present is kept as it was; the members
 * of the other batches and the new samples are shuffled (seeded) and cut into new batches. Pure and
 * deterministic. Throws `InvalidArgumentError` (duplicate or invalid ids, bad batch size or seed).
 */
export function planBatches(
  ids: readonly SampleId[],
  options: { readonly batchSize: number; readonly seed: number; readonly previous?: BatchPlan | null },
): { plan: BatchPlan; change: PlanChange } {
  const { batchSize, seed } = options;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new InvalidArgumentError(`batch plan: batchSize must be an integer ≥ 1, got ${String(batchSize)}`);
  if (!Number.isSafeInteger(seed)) throw new InvalidArgumentError(`batch plan: seed must be an integer, got ${String(seed)}`);
  const present = checkIds(ids);
  const prev = options.previous;
  if (!prev || prev.version !== 2 || prev.batchSize !== batchSize || prev.seed !== seed) {
    const order = shuffled(
      ids.map((_, i) => i),
      seed,
    ).map((i) => ids[i] as SampleId);
    const batches = chunk(order, batchSize);
    return { plan: { version: 2, batchSize, seed, batches }, change: { kept: 0, dropped: prev ? prev.batches.length : 0, added: batches.length } };
  }
  const kept: PlannedBatch[] = [];
  const placed = new Set<string>();
  let dropped = 0;
  for (const b of prev.batches) {
    if (b.ids.every((id) => present.has(idText(id)))) {
      kept.push(b);
      for (const id of b.ids) placed.add(idText(id));
    } else {
      dropped++;
    }
  }
  const pool = ids.filter((id) => !placed.has(idText(id)));
  // the pool's shuffle depends on the seed and on its members, so the same change always plans the same way
  const fresh = chunk(shuffled(pool, (seed ^ parseInt(hash64(pool.map(idText).join('\u0000')).slice(0, 8), 16)) >>> 0), batchSize);
  return { plan: { version: 2, batchSize, seed, batches: [...kept, ...fresh] }, change: { kept: kept.length, dropped, added: fresh.length } };
}

/** Validates a plan read back from a checkpoint (returns it, or throws `InvalidArgumentError`). */
export function checkPlan(v: unknown): BatchPlan {
  const p = v as Partial<BatchPlan> | null;
  if (typeof p !== 'object' || p === null || (p.version !== 1 && p.version !== 2) || !Number.isSafeInteger(p.batchSize) || !Number.isSafeInteger(p.seed) || !Array.isArray(p.batches)) {
    throw new InvalidArgumentError('batch plan: not a batch plan (version 1 or 2)');
  }
  const keyOf = p.version === 2 ? batchKeyOf : legacyKeyOf;
  if ((p.batchSize as number) < 1) throw new InvalidArgumentError(`batch plan: batchSize must be an integer ≥ 1, got ${String(p.batchSize)}`);
  const all: SampleId[] = [];
  for (const b of p.batches as PlannedBatch[]) {
    if (typeof b !== 'object' || b === null || !Array.isArray(b.ids) || b.ids.length === 0 || b.ids.length > (p.batchSize as number) || b.key !== keyOf(b.ids)) {
      throw new InvalidArgumentError('batch plan: a batch is empty, larger than batchSize, or does not match its key');
    }
    all.push(...b.ids);
  }
  checkIds(all);
  return p as BatchPlan;
}
