/**
 * The three training-graph sessions of a trainer (factors, gradients, forward), created lazily once, and the
 * runs a step, an evaluation or a prediction makes on them. Nothing here holds training state: parameters come
 * in with every call.
 * @module
 */
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import type { LayerFactors } from '@ifngd/fisher';
import type { HostTree } from 'ifngd';
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import type { ModelAnalysis } from './analyze.js';
import { buildGraph, NAMES } from './builder.js';
import type { Feeds } from './feeds.js';
import { uploadLayerFactors } from './kfac.js';
import type { LossKind } from './loss.js';
import type { OrtRuntime } from './runtime-check.js';
import { floats, LazySession } from './session.js';

/** The α-weighted gradients and the mean loss of one gradient pass. */
export interface GradientPass {
  readonly grads: HostTree;
  readonly loss: number;
}

/** The graph runs of one model, loss and runtime. */
export class Passes {
  readonly #an: ModelAnalysis;
  readonly #ort: OrtRuntime;
  readonly #sessions: { factors: LazySession; gradients: LazySession; forward: LazySession };

  constructor(an: ModelAnalysis, loss: LossKind, ort: OrtRuntime, options: InferenceSession.SessionOptions) {
    this.#an = an;
    this.#ort = ort;
    this.#sessions = {
      factors: new LazySession(ort, () => buildGraph(an, loss, 'factors').bytes, options),
      gradients: new LazySession(ort, () => buildGraph(an, loss, 'gradients').bytes, options),
      forward: new LazySession(ort, () => buildGraph(an, loss, 'forward').bytes, options),
    };
  }

  /** Creates the gradient session (the one every step needs) now, to fail early. */
  async warmUp(): Promise<void> {
    await this.#sessions.gradients.get();
  }

  /** The feeds of the training graphs: inputs, parameters and the (float) target. */
  baseFeeds(feeds: Feeds, params: HostTree, target: Tensor): Record<string, Tensor> {
    return { ...feeds, ...this.paramFeeds(params), [NAMES.target]: target };
  }

  /** Parameters as graph inputs. */
  paramFeeds(params: HostTree): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const p of this.#an.params) out[p.name] = new this.#ort.Tensor('float32', params[p.name] as Float32Array, p.dims);
    return out;
  }

  /** The factor pass, uploaded to `device` (every matrix is pushed to `created`; the caller disposes them). */
  async factors(base: Record<string, Tensor>, device: LinalgDevice, created: Matrix[]): Promise<LayerFactors[]> {
    return uploadLayerFactors(this.#an, await this.#sessions.factors.run(base), device, created);
  }

  /** The gradient graph with weights `alpha` (`[L, n]`, row-major): Σᵢ αₗᵢ∇ℓᵢ per parameter and the mean loss. */
  async gradients(base: Record<string, Tensor>, alpha: Float32Array, n: number): Promise<GradientPass> {
    const L = this.#an.layers.length;
    const out = await this.#sessions.gradients.run({ ...base, [NAMES.alpha]: new this.#ort.Tensor('float32', alpha, [L, n]) });
    const grads: Record<string, Float32Array> = {};
    for (const p of this.#an.params) grads[p.name] = floats(out[NAMES.grad(p.name)], p.name).slice();
    return { grads, loss: mean(floats(out[NAMES.losses], 'losses')) };
  }

  /** Mean loss at the parameters in `base` (the gradient graph with α = 0). */
  async loss(base: Record<string, Tensor>, n: number): Promise<number> {
    const L = this.#an.layers.length;
    const out = await this.#sessions.gradients.run({ ...base, [NAMES.alpha]: new this.#ort.Tensor('float32', new Float32Array(L * n), [L, n]) });
    return mean(floats(out[NAMES.losses], 'losses'));
  }

  /** The forward pass: every model output. */
  forward(feeds: Feeds, params: HostTree): Promise<Record<string, Tensor>> {
    return this.#sessions.forward.run({ ...feeds, ...this.paramFeeds(params) });
  }

  /** Releases the sessions. */
  async release(): Promise<void> {
    await Promise.all(Object.values(this.#sessions).map((s) => s.release()));
  }
}

function mean(x: Float32Array): number {
  let s = 0;
  for (const v of x) s += v;
  return s / x.length;
}
