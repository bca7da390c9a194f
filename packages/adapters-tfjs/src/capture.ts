/**
 * Factor capture: one forward/backward pass of the summed loss Σᵢℓᵢ with identity hooks on every parameter
 * site. The hooks keep what the site's rule needs (layer inputs, normalized values, ids) and add a zero probe to
 * the site's output z; the gradient with respect to the probes is Δ (row i = ∂ℓᵢ/∂zᵢ when samples do not
 * interact; with BatchNormalization in training mode, sample i's share of the batch gradient). Only the probes
 * are differentiated, so the pass computes no weight gradients — those come afterwards, α-weighted, from the
 * sites' rules (`sites/`). Sites of the same parameters form one group (shared weights).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import { AdapterArgumentError } from './errors.js';
import type { PerSampleLoss } from './losses.js';
import type { Conv2dGeometry, FunctionModel, Tap, TapWeights } from './model.js';
import { siteRule } from './sites/registry.js';
import { groupVariables, type SiteGroup, type SiteParams, type SiteRecord } from './sites/types.js';
import { releaseTapeOnThrow } from './tape.js';

export type { SiteGroup, SiteRecord } from './sites/types.js';

/** A captured batch: the sites grouped by parameters, and the summed loss. Dispose it. */
export interface Capture {
  readonly n: number;
  /** Σᵢ ℓᵢ. */
  readonly lossSum: number;
  /** One group per set of parameters, in the order their first site ran. */
  readonly groups: readonly SiteGroup[];
  /** Variables no site covers (generic fallback), the model's `plain` ones excepted. */
  readonly uncovered: readonly Variable[];
  dispose(): void;
}

/** Runs the capture pass. `training` is passed to the forward (dropout). Reads Σℓᵢ with `dataSync`. */
export function capture(model: FunctionModel, loss: PerSampleLoss, x: Tensor, y: Tensor, training = true): Capture {
  const { value, ...rest } = captureTensors(model, loss, x, y, training);
  const lossSum = value.dataSync()[0] as number;
  value.dispose();
  return { ...rest, lossSum };
}

/**
 * {@link capture} reading Σℓᵢ with an awaited `data()` — the form for backends without synchronous reads
 * (tfjs webgpu in Node has no OffscreenCanvas for `dataSync`).
 */
export async function captureAsync(model: FunctionModel, loss: PerSampleLoss, x: Tensor, y: Tensor, training = true): Promise<Capture> {
  const { value, ...rest } = captureTensors(model, loss, x, y, training);
  let lossSum: number;
  try {
    lossSum = (await value.data())[0] as number;
  } catch (e) {
    rest.dispose();
    throw e;
  } finally {
    value.dispose();
  }
  return { ...rest, lossSum };
}

const paramsKey = (kind: string, params: SiteParams, roles: readonly string[]): string =>
  `${kind}:${roles.map((r) => params[r]?.id ?? '-').join(',')}`;

/** The tap of a capture pass and what it collected (clones kept, probes to differentiate). */
function recordingTap(n: number, probes: Tensor[]) {
  const kept: Tensor[] = [];
  const records: Omit<SiteRecord, 'delta'>[] = [];
  const owner = new Map<Variable, string>();
  const site = (kind: string, z: Tensor, inputs: Tensor, params: SiteParams, meta?: unknown): Tensor => {
    const rule = siteRule(kind);
    const key = paramsKey(kind, params, rule.roles);
    for (const v of groupVariables({ rule, params })) {
      const k = owner.get(v);
      if (k !== undefined && k !== key) {
        throw new AdapterArgumentError(`capture: variable '${v.name}' is tapped at sites of different kinds or with different partners (${k} and ${key}); tap a variable with one set of partners`);
      }
      owner.set(v, key);
    }
    if (z.shape[0] !== n || inputs.shape[0] !== n) throw new AdapterArgumentError(`capture: a '${kind}' site changed the batch dimension`);
    const a = tf.keep(tf.clone(inputs));
    kept.push(a);
    records.push({ kind, inputs: a, params, meta: meta ?? null });
    const probe = tf.zeros(z.shape);
    probes.push(probe);
    return tf.add(z, probe);
  };
  const tap: Tap = {
    dense: (z, inputs, w: TapWeights) => site('dense', z, inputs, { kernel: w.kernel, bias: w.bias ?? null }),
    conv2d: (z, inputs, w: TapWeights, geometry: Conv2dGeometry) => site('conv2d', z, inputs, { kernel: w.kernel, bias: w.bias ?? null }, geometry),
    site,
  };
  return { tap, kept, records, probes, owner };
}

function captureTensors(model: FunctionModel, loss: PerSampleLoss, x: Tensor, y: Tensor, training: boolean): Omit<Capture, 'lossSum'> & { value: Tensor } {
  const n = x.shape[0] as number;
  const anchor = tf.scalar(0);
  // the differentiated tensors: the anchor, then each probe as its site runs (read by tfjs after the forward)
  const xs: Tensor[] = [anchor];
  const rec = recordingTap(n, xs);
  let out: { value: Tensor; grads: Tensor[] };
  try {
    out = releaseTapeOnThrow(() =>
      tf.engine().gradients(() => tf.sum(loss(model.forward(x, rec.tap, training), y)), xs, undefined, true),
    ) as { value: Tensor; grads: Tensor[] };
  } catch (e) {
    for (const t of rec.kept) t.dispose();
    anchor.dispose();
    throw e;
  }
  anchor.dispose();
  const deltas = out.grads.slice(1);
  const sites: SiteRecord[] = rec.records.map((r, i) => ({ ...r, delta: deltas[i] ?? tf.zeros(xs[i + 1]?.shape ?? [n]) }));
  const byKey = new Map<string, { rule: SiteGroup['rule']; params: SiteParams; sites: SiteRecord[] }>();
  for (const s of sites) {
    const rule = siteRule(s.kind);
    const key = paramsKey(s.kind, s.params, rule.roles);
    const g = byKey.get(key);
    if (g) g.sites.push(s);
    else byKey.set(key, { rule, params: s.params, sites: [s] });
  }
  const plain = new Set(model.plain ?? []);
  const uncovered = model.variables.filter((v) => !rec.owner.has(v) && !plain.has(v));
  const sitedPlain = [...plain].find((v) => rec.owner.has(v));
  if (sitedPlain) {
    for (const s of sites) tf.dispose([s.inputs, s.delta]);
    out.value.dispose();
    throw new AdapterArgumentError(`capture: variable '${sitedPlain.name}' is listed in the model's plain variables but tapped at a site; a plain variable is at no site`);
  }
  return {
    n,
    value: out.value,
    groups: [...byKey.values()],
    uncovered,
    dispose() {
      for (const s of sites) {
        s.inputs.dispose();
        s.delta.dispose();
      }
    },
  };
}
