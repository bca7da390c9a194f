/**
 * The trainer's checkpoints: the optimizer state with the trainer epoch and batch plan, as bytes
 * (`serializeState`/`restoreState`) or in a tfjs model's user-defined metadata (`save`/`restore`).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { checkPlan, checkpointKind, type BatchPlan } from 'ifngd';
import { fromBase64, toBase64 } from './base64.js';
import { AdapterArgumentError, AdapterCheckpointError } from './errors.js';

const META_KEY = 'ifngd';

/** What a checkpoint restores: the state bytes, and optionally the epoch and plan saved beside them. */
export interface TrainerCheckpoint {
  readonly bytes: Uint8Array;
  readonly epoch?: number;
  readonly plan?: BatchPlan | null;
}

/**
 * Checks a checkpoint against the trainer's optimizer kind (`null`: a baseline, which has no state) and validates the
 * plan. Throws `AdapterCheckpointError`; returns the checked plan (`undefined`: leave the plan as it is).
 */
export function checkCheckpoint(want: string | null, cp: TrainerCheckpoint): BatchPlan | null | undefined {
  const kind = want && cp.bytes instanceof Uint8Array ? checkpointKind(cp.bytes) : null;
  const label = (k: string): string => (k === 'kfac' ? 'a KFAC' : k === 'fngd' ? 'an FNGD' : `a ${k}`);
  if (want && kind && kind !== want) {
    throw new AdapterCheckpointError(`restoreState: this is ${label(kind)} checkpoint; the trainer trains with ${want === 'kfac' ? 'KFAC' : want === 'fngd' ? 'FNGD' : want}`);
  }
  if (cp.plan === undefined) return undefined;
  if (cp.plan === null) return null;
  try {
    return checkPlan(cp.plan);
  } catch (e) {
    throw new AdapterCheckpointError(`restoreState: ${(e as Error).message}`);
  }
}

/** Writes the checkpoint into the model's user-defined metadata (key `ifngd`) and saves the model. */
export async function saveToModel(model: LayersModel | null, handlerOrUrl: tf.io.IOHandler | string, epoch: number, state: Uint8Array, plan: BatchPlan | null): Promise<tf.io.SaveResult> {
  if (!model) throw new AdapterArgumentError('save: only trainers of a tf.LayersModel can save (use serializeState for FunctionModels)');
  const meta = (model.getUserDefinedMetadata() ?? {}) as Record<string, unknown>;
  model.setUserDefinedMetadata({ ...meta, [META_KEY]: { version: 1, epoch, state: toBase64(state), plan } });
  return model.save(handlerOrUrl);
}

/** Reads the checkpoint {@link saveToModel} wrote (`hasState`: the trainer has optimizer state to restore). */
export function loadFromModel(model: LayersModel | null, hasState: boolean): TrainerCheckpoint & { readonly epoch: number } {
  if (!model) throw new AdapterArgumentError('restore: only trainers of a tf.LayersModel can restore from the model');
  const meta = (model.getUserDefinedMetadata() ?? {}) as Record<string, unknown>;
  const m = meta[META_KEY] as { version?: unknown; epoch?: unknown; state?: unknown; plan?: unknown } | undefined;
  if (!m || m.version !== 1 || typeof m.state !== 'string' || typeof m.epoch !== 'number') {
    throw new AdapterCheckpointError('restore: the model carries no ifngd optimizer state (save it with FngdTrainer.save)');
  }
  const bytes = fromBase64(m.state);
  if (hasState && bytes.length === 0) throw new AdapterCheckpointError('restore: the saved state is empty (saved by a baseline trainer?)');
  return { bytes, epoch: m.epoch, plan: (m.plan ?? null) as BatchPlan | null };
}
