/**
 * What the FNGD optimizer serves and takes: a request for a batch's coefficients, the coefficients, and the
 * extras of a step that uses them.
 * @module
 */
import type { LayerFactors } from '@ifngd/fisher';
import type { BatchKey } from './cache.js';
import type { Decision } from './policies/types.js';

/** A request for one batch's coefficients. */
export interface CoefficientRequest {
  /** The batch's key (the partition of samples into batches is fixed; the order may shuffle). */
  readonly batchKey: BatchKey;
  /** Current epoch (integer ≥ 0). */
  readonly epoch: number;
  /** Samples in the batch (≥ 1). */
  readonly n: number;
  /**
   * Called only when coefficients must be computed; returns one `LayerFactors` per layer (in layer order).
   * The optimizer does not dispose them.
   */
  readonly factors: () => readonly LayerFactors[] | Promise<readonly LayerFactors[]>;
}

/** Coefficients for one step: α = (G + nλI)⁻¹1 (global) or one αₗ per layer. */
export interface Coefficients {
  readonly batchKey: BatchKey;
  readonly n: number;
  /** 1 (global) or L (layer-wise). */
  readonly layers: number;
  /** α, layer-major (`layers·n`); a copy. */
  readonly alpha: Float32Array;
  /** λ they were computed with (the direction is λ·Jᵀα). */
  readonly damping: number;
  /** Computed for this request (miss, refresh or probe) rather than reused. */
  readonly fresh: boolean;
  /** How the request was served. */
  readonly source: Decision;
  /**
   * The coefficients could not be computed — a non-finite Gram or solve under `onNonFinite: 'skip'` (the model's
   * outputs or gradients are NaN): α is zero and the step that uses them is a counted skip that changes nothing
   * else.
   */
  readonly skipped: boolean;
  /** αₗ of layer `l` (a view of `alpha`). */
  layer(l: number): Float32Array;
}

/** Extras of {@link FngdOptimizer.step}. */
export interface FngdStepExtras {
  /** The coefficients the weighted gradient was computed with. */
  readonly coefficients: Coefficients;
  /** Mean loss of the batch at the current parameters (drift loss test, adaptive damping). */
  readonly loss?: number;
}
