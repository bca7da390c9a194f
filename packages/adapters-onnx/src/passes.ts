/**
 * The training-graph sessions of a trainer (factors, gradients, forward, …), created lazily once, and the
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
import { concreteDims } from './ir.js';
import { mixSeed, mulberry32 } from 'ifngd/internal';

/** The α-weighted gradients and the mean loss of one gradient pass. */
export interface GradientPass {
  readonly grads: HostTree;
  readonly loss: number;
  /** Each training-mode BatchNormalization's batch mean and (biased) variance, in `an.runningStats` order. */
  readonly batchStats: readonly { readonly mean: Float32Array; readonly variance: Float32Array }[];
}

/** The graph runs of one model, loss and runtime. */
export class Passes {
  readonly #an: ModelAnalysis;
  readonly #ort: OrtRuntime;
  readonly #sessions: { factors: LazySession; gradients: LazySession; forward: LazySession; evaluate: LazySession; trainForward: LazySession; trainLoss: LazySession; trainLogits: LazySession };

  constructor(an: ModelAnalysis, loss: LossKind, ort: OrtRuntime, options: InferenceSession.SessionOptions) {
    this.#an = an;
    this.#ort = ort;
    this.#sessions = {
      factors: new LazySession(ort, () => buildGraph(an, loss, 'factors').bytes, options),
      gradients: new LazySession(ort, () => buildGraph(an, loss, 'gradients').bytes, options),
      forward: new LazySession(ort, () => buildGraph(an, loss, 'forward').bytes, options),
      evaluate: new LazySession(ort, () => buildGraph(an, loss, 'evaluate').bytes, options),
      trainForward: new LazySession(ort, () => buildGraph(an, loss, 'train-forward').bytes, options),
      trainLoss: new LazySession(ort, () => buildGraph(an, loss, 'train-loss').bytes, options),
      trainLogits: new LazySession(ort, () => buildGraph(an, loss, 'train-logits').bytes, options),
    };
  }

  /** Creates the gradient session (the one every step needs) now, to fail early. */
  async warmUp(): Promise<void> {
    await this.#sessions.gradients.get();
  }

  /** The feeds of the training graphs: inputs, parameters, the (float) target, and the step's Dropout masks. */
  baseFeeds(feeds: Feeds, params: HostTree, target: Tensor, masks: Readonly<Record<string, Tensor>> = {}): Record<string, Tensor> {
    return { ...feeds, ...this.paramFeeds(params), [NAMES.target]: target, ...masks };
  }

  /**
   * The Dropout masks of one step of `n` samples (none without training-mode Dropout): each value 0 with probability
   * `ratio`, else 1/(1 − ratio), drawn from `seed`.
   */
  dropoutMasks(n: number, seed: number): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    this.#an.dropouts.forEach((d, k) => {
      const rand = mulberry32(mixSeed(seed, k));
      const dims = concreteDims(d.shape, n);
      const keep = 1 / (1 - d.ratio);
      const mask = Float32Array.from({ length: dims.reduce((a, x) => a * x, 1) }, () => (rand() < d.ratio ? 0 : keep));
      out[d.mask] = new this.#ort.Tensor('float32', mask, dims);
    });
    return out;
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
    const batchStats = this.#an.runningStats.map((_, k) => ({
      mean: floats(out[NAMES.batchMean(k)], 'batch mean').slice(),
      variance: floats(out[NAMES.batchVariance(k)], 'batch variance').slice(),
    }));
    return { grads, loss: mean(floats(out[NAMES.losses], 'losses')), batchStats };
  }

  /** Mean loss as training computes it (batch statistics, the masks in `base`), at the parameters in `base`: a forward pass. */
  async trainLoss(base: Record<string, Tensor>): Promise<number> {
    const out = await this.#sessions.trainLoss.run(base);
    return mean(floats(out[NAMES.losses], 'losses'));
  }

  /** Mean loss as inference computes it (running statistics), at the parameters in `base`. */
  async loss(base: Record<string, Tensor>, stats: HostTree): Promise<number> {
    const out = await this.#sessions.evaluate.run({ ...base, ...this.statFeeds(stats) });
    return mean(floats(out[NAMES.losses], 'losses'));
  }

  /** The forward pass as inference runs it (running statistics): every model output. */
  forward(feeds: Feeds, params: HostTree, stats: HostTree): Promise<Record<string, Tensor>> {
    return this.#sessions.forward.run({ ...feeds, ...this.paramFeeds(params), ...this.statFeeds(stats) });
  }

  /** The model output the loss reads, as training computes it (batch statistics, the step's Dropout masks). */
  async trainOutput(feeds: Feeds, params: HostTree, masks: Readonly<Record<string, Tensor>>): Promise<Tensor> {
    if (this.#an.runningStats.length === 0 && this.#an.dropouts.length === 0) return (await this.forward(feeds, params, {}))[this.#an.output.name]!;
    return (await this.#sessions.trainForward.run({ ...feeds, ...this.paramFeeds(params), ...masks }))[this.#an.output.name]!;
  }

  /**
   * What the loss reads as the model's function (`lossInput`: the logits under softmax cross-entropy) as training
   * computes it — batch statistics, the step's Dropout masks — at `params`, `[n, d]` row-major: a forward pass.
   */
  async trainLogits(feeds: Feeds, params: HostTree, masks: Readonly<Record<string, Tensor>>): Promise<Float32Array> {
    const out = await this.#sessions.trainLogits.run({ ...feeds, ...this.paramFeeds(params), ...masks });
    const name = Object.keys(out)[0];
    return floats(out[name as string], 'logits').slice();
  }

  /** Running statistics as graph inputs. */
  statFeeds(stats: HostTree): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const s of this.#an.runningStats) {
      for (const name of [s.mean, s.variance]) out[name] = new this.#ort.Tensor('float32', stats[name] as Float32Array, [s.channels]);
    }
    return out;
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
