/**
 * Options of the `drift` refresh policy, validated with their defaults.
 * @module
 */
import { InvalidArgumentError } from './errors.js';
import { checkKeys, checkObject } from './option-keys.js';

/** Options of the drift policy. What it watches and why is documented on each field. */
export interface DriftOptions {
  /**
   * Length test, free on every reused step: mark the batch stale when ‖λJᵀα_cached‖ exceeds this multiple of
   * the norm the same batch's update had when its coefficients were fresh. A reused natural gradient is a
   * near-cancelling sum that loses its cancellation as the per-sample gradients move, so it grows. Default 2.
   */
  readonly lengthRatio?: number;
  /** Mark the batch stale when the reuse guard had to shorten its update. Default true. */
  readonly markOnCap?: boolean;
  /**
   * Loss test: mark stale when the batch's loss (passed to `step`) exceeds this multiple of its loss at the
   * step that used the coefficients fresh. `null` disables it. Default 1.5.
   */
  readonly lossRatio?: number | null;
  /**
   * Direction probe: after this many reused steps, the next reused request recomputes the batch's
   * coefficients and compares directions exactly: cos(Jᵀα_c, Jᵀα_f) = α_cᵀGα_f / √(α_cᵀGα_c·α_fᵀGα_f) from the
   * fresh Gram (no extra backward pass). Default 32.
   */
  readonly probeEvery?: number;
  /** Bounds of the adaptive probe interval (halved after a failed probe, doubled after a passed one). Default 1 / 256. */
  readonly minProbeEvery?: number;
  readonly maxProbeEvery?: number;
  /** A probe fails below this direction cosine (or above `lengthRatio`). Default 0.7. */
  readonly minCosine?: number;
}

/** A positive number (or integer) option of a refresh policy; throws `InvalidArgumentError` naming it. */
export function positive(x: number, name: string, integer = false): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || x <= 0 || (integer && !Number.isSafeInteger(x))) {
    throw new InvalidArgumentError(`refresh: ${name} must be a positive ${integer ? 'integer' : 'number'}, got ${String(x)}`);
  }
  return x;
}

/** Every key of {@link DriftOptions}. */
const DRIFT_KEYS: readonly (keyof DriftOptions)[] = ['lengthRatio', 'markOnCap', 'lossRatio', 'probeEvery', 'minProbeEvery', 'maxProbeEvery', 'minCosine'];

export function resolveDrift(d: DriftOptions): Required<DriftOptions> {
  checkObject(d, 'refresh: drift');
  checkKeys(d, DRIFT_KEYS, 'refresh: drift');
  const lossRatio = d.lossRatio === undefined ? 1.5 : d.lossRatio;
  const drift: Required<DriftOptions> = {
    lengthRatio: positive(d.lengthRatio ?? 2, 'lengthRatio'),
    markOnCap: d.markOnCap ?? true,
    lossRatio: lossRatio === null ? null : positive(lossRatio, 'lossRatio'),
    probeEvery: positive(d.probeEvery ?? 32, 'probeEvery', true),
    minProbeEvery: positive(d.minProbeEvery ?? 1, 'minProbeEvery', true),
    maxProbeEvery: positive(d.maxProbeEvery ?? 256, 'maxProbeEvery', true),
    minCosine: d.minCosine ?? 0.7,
  };
  if (typeof drift.markOnCap !== 'boolean') throw new InvalidArgumentError(`refresh: markOnCap must be a boolean, got ${String(drift.markOnCap)}`);
  if (typeof drift.minCosine !== 'number' || !(drift.minCosine >= -1 && drift.minCosine <= 1)) {
    throw new InvalidArgumentError(`refresh: minCosine must be in [-1, 1], got ${String(drift.minCosine)}`);
  }
  if (drift.minProbeEvery > drift.maxProbeEvery) {
    throw new InvalidArgumentError(`refresh: minProbeEvery (${drift.minProbeEvery}) > maxProbeEvery (${drift.maxProbeEvery})`);
  }
  return drift;
}
