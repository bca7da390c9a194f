/**
 * The per-sample Gram of one layer's factors, by their registered kind (`kinds/registry.ts`).
 * @module
 */
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import { factorKindOf, type LayerFactors } from './kinds/registry.js';

export type { LayerFactors } from './kinds/registry.js';

/** The `[n,n]` per-sample Gram of one layer's factors: the registered kind of `factors.kind` builds it. */
export function layerGram(dev: LinalgDevice, factors: LayerFactors): Matrix {
  const kind = factorKindOf(factors, 'layerGram: factors');
  kind.samples(factors);
  return kind.gram(dev, factors);
}
