/**
 * Which optimizer wrote a checkpoint, read from its payload's format name — so that a trainer can refuse an
 * FNGD checkpoint offered to a KFAC optimizer (and vice versa) with a message that says so.
 * @module
 */
import { decodeCheckpoint } from './checkpoint.js';
import { kindOfCheckpointFormat } from './optimizers/registry.js';

/** The optimizer a checkpoint belongs to: a registered kind (`'fngd'`, `'kfac'`, `'adamw'`, …). */
export type CheckpointKind = string;

/**
 * The registered kind whose format a checkpoint's payload carries (`'fngd'` for `FngdOptimizer.serialize` output,
 * `'kfac'` for `KfacOptimizer.serialize` output, …), null for anything else (other payloads, empty bytes). Throws
 * `CheckpointError` when the container itself is damaged (magic, version, checksum).
 */
export function checkpointKind(bytes: Uint8Array): CheckpointKind | null {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) return null;
  const p = decodeCheckpoint(bytes) as { format?: unknown } | null;
  return kindOfCheckpointFormat(typeof p === 'object' && p !== null ? p.format : undefined);
}
