/**
 * The coefficient cache: α per mini-batch key. Memory is n floats (global mode) or L·n (layer-wise) per batch,
 * plus a few scalars the reuse guard and the drift policy keep per batch.
 * @module
 */
import { BatchSizeMismatchError, InvalidArgumentError } from './errors.js';

/** Identifies a mini-batch; the trainer keeps the partition of samples into batches fixed. */
export type BatchKey = string | number;

/** One cached batch (read-only for users; the optimizer's internal cache owns it). */
export interface CacheEntry {
  readonly key: BatchKey;
  /** Samples in the batch. */
  readonly n: number;
  /** 1 in global mode, L in layer-wise mode. */
  readonly layers: number;
  /** α, layer-major: `alpha[l·n + i]`. */
  readonly alpha: Float32Array;
  /** λ the coefficients were computed with. */
  readonly damping: number;
  /** Epoch in which they were computed. */
  readonly epoch: number;
  /** ‖λ·Jᵀα‖ of the step that used them fresh (reference of the guard and the drift length test). */
  readonly freshNorm: number | null;
  /** Batch loss when they were computed (drift loss-ratio test). */
  readonly freshLoss: number | null;
  /** Batch loss at the batch's last visit (the `auto` policy's shift test). */
  readonly lastLoss: number | null;
  /** Marked for recomputation at the next request (drift's and auto's tests, `invalidate(key)`; every policy honours it). */
  readonly stale: boolean;
  /** Steps that reused them since they were computed. */
  readonly reuses: number;
}

/** Stable internal key: distinguishes `1` from `'1'`. */
export function cacheKey(key: BatchKey): string {
  if (typeof key === 'number') {
    if (!Number.isFinite(key)) throw new InvalidArgumentError(`batchKey must be a finite number or a string, got ${key}`);
    return `n:${key}`;
  }
  if (typeof key === 'string') return `s:${key}`;
  throw new InvalidArgumentError(`batchKey must be a string or a number, got ${typeof key}`);
}

/**
 * Coefficients per batch key. Entries are immutable values; updates replace them and move them last, so the
 * entries run from least to most recently used (the order {@link CoefficientCache.evictOldest} drops them in).
 */
export class CoefficientCache {
  #entries = new Map<string, CacheEntry>();

  /** Number of cached batches. */
  get size(): number {
    return this.#entries.size;
  }

  /** Float32 values held (Σ L·n). */
  get floats(): number {
    let s = 0;
    for (const e of this.#entries.values()) s += e.alpha.length;
    return s;
  }

  /** The entry for `key`, if any. */
  get(key: BatchKey): CacheEntry | undefined {
    return this.#entries.get(cacheKey(key));
  }

  /** Throws {@link BatchSizeMismatchError} when `key` is cached with another n. */
  checkN(key: BatchKey, n: number): void {
    const e = this.get(key);
    if (e && e.n !== n) {
      throw new BatchSizeMismatchError(`batch ${JSON.stringify(key)} was cached with n = ${e.n}, requested with n = ${n}`);
    }
  }

  /** Stores (or replaces) an entry, as the most recently used. */
  set(entry: CacheEntry): void {
    const k = cacheKey(entry.key);
    this.#entries.delete(k);
    this.#entries.set(k, entry);
  }

  /** Drops every entry whose key is not in `keep`; returns how many. */
  retain(keep: Iterable<BatchKey>): number {
    const kept = new Set([...keep].map(cacheKey));
    let dropped = 0;
    for (const k of [...this.#entries.keys()]) {
      if (!kept.has(k)) {
        this.#entries.delete(k);
        dropped++;
      }
    }
    return dropped;
  }

  /** Drops the least recently used entries beyond `max`; returns how many. */
  evictOldest(max: number): number {
    let dropped = 0;
    for (const k of this.#entries.keys()) {
      if (this.#entries.size <= max) break;
      this.#entries.delete(k);
      dropped++;
    }
    return dropped;
  }

  /** Replaces fields of an existing entry; `touch` (default) makes it the most recently used. */
  patch(key: BatchKey, fields: Partial<Omit<CacheEntry, 'key' | 'n' | 'layers'>>, touch = true): void {
    const e = this.get(key);
    if (!e) return;
    if (touch) this.set({ ...e, ...fields });
    else this.#entries.set(cacheKey(key), { ...e, ...fields });
  }

  /** Every entry, least recently used first. */
  entries(): CacheEntry[] {
    return [...this.#entries.values()];
  }

  /** Removes every entry. */
  clear(): void {
    this.#entries.clear();
  }

  /** Replaces the whole content (checkpoint restore). */
  replaceAll(entries: readonly CacheEntry[]): void {
    this.#entries = new Map(entries.map((e) => [cacheKey(e.key), e]));
  }
}
