/**
 * Which optimizer wrote a checkpoint, read from its payload's format name — so that a trainer can refuse an
 * FNGD checkpoint offered to a KFAC optimizer (and vice versa) with a message that says so.
 * @module
 */
import { decodeCheckpoint } from './checkpoint.js';
import { KFAC_CHECKPOINT_FORMAT } from './kfac/checkpoint.js';
import { FNGD_CHECKPOINT_FORMAT } from './optimizer-checkpoint.js';

/** The optimizer a checkpoint belongs to. */
export type CheckpointKind = 'fngd' | 'kfac';

/**
 * `'fngd'` for `FngdOptimizer.serialize` output, `'kfac'` for `KfacOptimizer.serialize` output,
 * null for anything else (other payloads, empty bytes). Throws `CheckpointError` when the container itself is
 * damaged (magic, version, checksum).
 */
export function checkpointKind(bytes: Uint8Array): CheckpointKind | null {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) return null;
  const p = decodeCheckpoint(bytes) as { format?: unknown } | null;
  const format = typeof p === 'object' && p !== null ? p.format : undefined;
  return format === FNGD_CHECKPOINT_FORMAT ? 'fngd' : format === KFAC_CHECKPOINT_FORMAT ? 'kfac' : null;
}
