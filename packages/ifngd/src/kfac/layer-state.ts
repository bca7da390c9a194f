/**
 * One layer's KFAC state — plain data, checkpointed — and the device copies of its inverses.
 * @module
 */
import type { LinalgDevice } from '@ifngd/linalg-gpu';
import { aOrder, type LayerDims } from './dims.js';
import type { DeviceInverses } from './precondition.js';
import { collecting } from './read.js';

/** One layer's curvature state. Arrays are never modified in place (a step builds new ones). */
export interface KfacLayerState {
  /** Dimensions, known from the first factor update on. */
  readonly dims: LayerDims | null;
  /** Running average of A, row-major float64 `[a, a]` (a = p + 1 with bias). */
  readonly a: Float64Array | null;
  /** Running average of G, row-major float64 `[q, q]`. */
  readonly g: Float64Array | null;
  /** `(A + π√λ·I)⁻¹` at the last inverse refresh (float32, as computed on the device). */
  readonly aInv: Float32Array | null;
  /** `(G + (√λ/π)·I)⁻¹` at the last inverse refresh. */
  readonly gInv: Float32Array | null;
  /** π at the last inverse refresh. */
  readonly pi: number | null;
}

/** The state of a layer nothing has been observed for. */
export const emptyLayerState = (): KfacLayerState => ({
  dims: null,
  a: null,
  g: null,
  aInv: null,
  gInv: null,
  pi: null,
});

/** Uploads every layer's inverses (all layers must have them). Nothing stays allocated when it throws. */
export function uploadInverses(dev: LinalgDevice, states: readonly KfacLayerState[]): DeviceInverses[] {
  return collecting((t) =>
    states.map((s) => {
      if (!s.dims || !s.aInv || !s.gInv) throw new TypeError('unreachable: a layer without inverses');
      const ai = dev.matrix(s.aInv, [aOrder(s.dims), aOrder(s.dims)]);
      t.push(ai);
      const gi = dev.matrix(s.gInv, [s.dims.q, s.dims.q]);
      t.push(gi);
      return { a: ai, g: gi };
    }),
  ).result;
}

/** Releases device inverses. */
export function disposeInverses(inv: readonly DeviceInverses[] | null): void {
  for (const i of inv ?? []) {
    i.a.dispose();
    i.g.dispose();
  }
}
