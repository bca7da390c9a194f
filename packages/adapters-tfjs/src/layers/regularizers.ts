/**
 * A layer's weight regularizers (`kernelRegularizer`, `biasRegularizer`, `recurrentRegularizer`,
 * `depthwiseRegularizer`, `gammaRegularizer`, `embeddingsRegularizer`, `alphaRegularizer`, …) as penalties on the
 * variables it trains: the `<role>Regularizer` config key names the weight field `<role>` or `<role>Kernel` of the
 * layer or of its recurrent cell, and the layer's regularizer object (`apply(w) → scalar`) is the penalty. Read for
 * every compiled layer, so a new block gets its regularizers without code of its own. An `activityRegularizer` (a
 * penalty on activations, part of every sample's loss, which tfjs adds in `fit`) is refused for every layer.
 * @module
 */
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import { UnsupportedLayerError } from '../errors.js';
import type { Penalty } from '../model.js';
import type { LayerLike } from './types.js';

type Fields = Record<string, unknown>;

/**
 * The penalties of `layer`'s regularized weights among `trained` (frozen weights have none). Throws
 * `UnsupportedLayerError` for an activity regularizer, or a weight regularizer whose weight cannot be found.
 */
export function layerPenalties(layer: LayerLike, trained: ReadonlySet<Variable>): Penalty[] {
  const cfg = layer.getConfig();
  if (cfg['activityRegularizer'] !== null && cfg['activityRegularizer'] !== undefined) {
    throw new UnsupportedLayerError(layer.name, layer.getClassName(), "activityRegularizer is not supported: remove it (a penalty on activations would enter every sample's loss)");
  }
  const owners = [layer as unknown as Fields, (layer as unknown as { cell?: Fields }).cell].filter((o): o is Fields => typeof o === 'object' && o !== null);
  const out: Penalty[] = [];
  for (const key of Object.keys(cfg)) {
    const m = /^(\w+)Regularizer$/.exec(key);
    if (!m || key === 'activityRegularizer' || cfg[key] === null || cfg[key] === undefined) continue;
    const role = m[1] as string;
    const reg = owners.map((o) => o[key]).find((r): r is { apply(x: Tensor): Tensor } => typeof (r as { apply?: unknown } | null)?.apply === 'function');
    const field = owners.flatMap((o) => [o[role], o[`${role}Kernel`]]).find((w): w is { read(): Tensor } => typeof (w as { read?: unknown } | null)?.read === 'function');
    if (!reg || !field) {
      throw new UnsupportedLayerError(layer.name, layer.getClassName(), `${key} is set but its regularizer or its weight ('${role}') is not accessible; remove it or use the optimizer's weightDecay`);
    }
    const variable = field.read() as Variable;
    if (!trained.has(variable)) continue;
    out.push({ variable, name: `${layer.name}/${key}`, penalty: (w) => reg.apply(w) });
  }
  return out;
}
