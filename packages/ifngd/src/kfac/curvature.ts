/**
 * One step's curvature work, as a pure function of the layer states: absorb the batch factors into the
 * running averages (when due), then refresh the damped inverses (when due). Returns new states; the inputs
 * are never modified, so a step that throws later leaves the optimizer as it was.
 * @module
 */
import type { LayerFactors } from '@ifngd/fisher';
import type { LinalgDevice } from '@ifngd/linalg-gpu';
import { InvalidArgumentError, ShapeError } from '../errors.js';
import { aOrder, checkLeaves, factorDims, sameDims, type LayerDims } from './dims.js';
import { spdInverses } from './inverse.js';
import type { KfacLayerState } from './layer-state.js';
import type { KfacLayer } from './options.js';
import { dampedFactors } from './pi-damping.js';
import { runningAverage } from './running-average.js';
import { batchFactors } from './statistics.js';

/** Where a step's factors come from: the factors, or a function called only when they are needed. */
export type FactorSource = readonly LayerFactors[] | (() => readonly LayerFactors[] | Promise<readonly LayerFactors[]>);

/** What a step must do. */
export interface CurvatureDue {
  readonly factors: boolean;
  readonly inverses: boolean;
}

/** The settings the curvature work reads. */
export interface CurvatureSettings {
  readonly layers: readonly Required<KfacLayer>[];
  readonly decay: number;
  readonly damping: number;
}

/** Resolves and validates the factors (count, kinds, shapes, leaf sizes, dimensions seen before). */
async function loadFactors(
  source: FactorSource | undefined,
  s: CurvatureSettings,
  states: readonly KfacLayerState[],
  leafSize: (name: string) => number | undefined,
): Promise<{ factors: readonly LayerFactors[]; dims: LayerDims[] }> {
  if (source === undefined)
    throw new InvalidArgumentError('kfac: step: this step updates the factors; extras.factors is required');
  if (typeof source !== 'function' && !Array.isArray(source))
    throw new InvalidArgumentError('kfac: step: extras.factors must be an array or a function');
  const factors = typeof source === 'function' ? await source() : source;
  if (!Array.isArray(factors) || factors.length !== s.layers.length) {
    throw new ShapeError(
      `kfac: step: expected ${s.layers.length} layer factors, got ${
        Array.isArray(factors) ? factors.length : String(factors)
      }`,
    );
  }
  const dims = s.layers.map((layer, l) => {
    const d = factorDims(factors[l] as LayerFactors, layer, l);
    const before = (states[l] as KfacLayerState).dims;
    if (before && !sameDims(before, d)) {
      throw new ShapeError(
        `kfac: factors[${l}]: layer '${layer.weight}' had p = ${before.p}, q = ${before.q}; now p = ${d.p}, q = ${d.q}`,
      );
    }
    checkLeaves(d, layer, leafSize);
    return d;
  });
  return { factors, dims };
}

/** The new layer states after this step's factor update and inverse refresh (whichever are due). */
export async function updateCurvature(
  dev: LinalgDevice,
  s: CurvatureSettings,
  states: readonly KfacLayerState[],
  due: CurvatureDue,
  source: FactorSource | undefined,
  leafSize: (name: string) => number | undefined,
): Promise<KfacLayerState[]> {
  let next = [...states];
  if (due.factors) {
    const { factors, dims } = await loadFactors(source, s, states, leafSize);
    const batch = await batchFactors(dev, factors, dims);
    next = next.map((st, l) => ({
      ...st,
      dims: dims[l] as LayerDims,
      a: runningAverage(st.a, batch[l]!.a, s.decay),
      g: runningAverage(st.g, batch[l]!.g, s.decay),
    }));
  }
  if (due.inverses) {
    const damped = next.map((st) => {
      if (!st.dims || !st.a || !st.g) throw new TypeError('unreachable: inverses before any factors');
      return { ...dampedFactors(st.a, aOrder(st.dims), st.g, st.dims.q, s.damping), dims: st.dims };
    });
    const inv = await spdInverses(
      dev,
      damped.flatMap((d) => [
        { data: d.a, order: aOrder(d.dims) },
        { data: d.g, order: d.dims.q },
      ]),
    );
    next = next.map((st, l) => ({ ...st, aInv: inv[2 * l]!, gInv: inv[2 * l + 1]!, pi: damped[l]!.pi }));
  }
  return next;
}
