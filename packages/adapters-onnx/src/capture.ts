/**
 * The ONNX trainer's side of `ifngd`'s optimizer contract: one validated batch as the passes an optimizer may ask
 * for — the factor graph (every layer's per-sample factors, uploaded to the device) and the gradient graph
 * (`Σᵢ wₗᵢ∇ℓᵢ` for per-layer weights, with the batch's losses), the loss at other parameters and the Gauss–Newton
 * products (forward passes). Parameters stay host trees; nothing is read
 * twice. Every optimizer — FNGD, KFAC, SGD, Adam, AdamW, Muon, a registered one — drives a step through it.
 * @module
 */
import type { LayerFactors } from '@ifngd/fisher';
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import { hostTreeOps, InvalidArgumentError, type CapturedGradients, type FactorOptions, type FactorSet, type GradientRequest, type HostTree, type StepCapture, type StepReading } from 'ifngd';
import { differenceStep, gaussNewtonProducts } from 'ifngd/internal';
import type { Tensor } from 'onnxruntime-common';
import type { LossKind } from './loss.js';
import type { GradientPass, Passes } from './passes.js';

/** What a capture needs of the trainer. */
export interface CaptureContext {
  readonly passes: Passes;
  readonly device: LinalgDevice;
  /** Trainable layers (the gradient graph's weight rows). */
  readonly layers: number;
  /** Which layers are Kronecker layers (dense, conv2d: KFAC's), by layer. */
  readonly kronecker: readonly boolean[];
  readonly params: HostTree;
  /** Feeds of the training graphs (`Passes.baseFeeds`). */
  readonly base: Record<string, Tensor>;
  readonly n: number;
  readonly batchKey: string | number;
  readonly epoch: number;
  /** The training graphs' feeds with targets drawn from the model's predictive distribution (seeded). */
  readonly sampledBase: (seed: number) => Promise<Record<string, Tensor>>;
  /** The loss, and the batch's float targets (`[n, …]`). */
  readonly loss: LossKind;
  readonly target: Tensor;
  /** What the loss reads as the model's function (`lossInput`), as training computes it, at `params`: `[n, d]`. */
  readonly logitsAt: (params: HostTree) => Promise<Float32Array>;
}

/** One batch for one step; {@link OnnxCapture.dispose} releases the factors it uploaded. */
export class OnnxCapture implements StepCapture<HostTree> {
  readonly batchKey: string | number;
  readonly epoch: number;
  readonly n: number;
  readonly #cx: CaptureContext;
  readonly #created: Matrix[] = [];
  #loss = NaN;
  #batchStats: GradientPass['batchStats'] = [];

  constructor(cx: CaptureContext) {
    this.#cx = cx;
    this.batchKey = cx.batchKey;
    this.epoch = cx.epoch;
    this.n = cx.n;
  }

  async factors(set: FactorSet, options?: FactorOptions): Promise<LayerFactors[]> {
    // the true Fisher's factors: the loss on targets drawn from the model at this batch (one more forward pass)
    const base = options?.targets === 'sampled' ? await this.#cx.sampledBase(options.seed ?? 0) : this.#cx.base;
    const all = await this.#cx.passes.factors(base, this.#cx.device, this.#created);
    // KFAC's layers are the Kronecker ones; scale-shift and embedding parameters are Gram blocks only
    return set === 'kronecker' ? all.filter((_, l) => this.#cx.kronecker[l]) : all;
  }

  async gradients(request: GradientRequest): Promise<CapturedGradients<HostTree>> {
    const { layers: L, n } = this.#cx;
    const alpha = new Float32Array(L * n);
    const w = request.weights;
    for (let l = 0; l < L; l++) alpha.set(typeof w === 'function' ? w(l) : w, l * n);
    // every ONNX parameter belongs to a layer, and ONNX models carry no regularizers
    const { grads, loss, batchStats } = await this.#cx.passes.gradients(this.#cx.base, alpha, n);
    this.#loss = loss;
    this.#batchStats = batchStats;
    return { grads, params: this.#cx.params, ...(request.penalties === 'apart' ? { penalties: {} } : {}) };
  }

  /** The batch's mean loss at `params`: one training-mode forward pass (batch statistics, the step's Dropout masks). */
  async lossAt(params: HostTree): Promise<number> {
    const { passes, base } = this.#cx;
    return passes.trainLoss({ ...base, ...passes.paramFeeds(params) });
  }

  /**
   * The batch's Gauss–Newton matrix along `vectors`, `(1/n)·Σᵢ (Jᵢuₐ)ᵀ·Hᵢ·(Jᵢuᵦ)` (k×k, row-major), with Jᵢ sample
   * i's Jacobian of what the loss reads (`lossInput`: the logits under softmax cross-entropy) and Hᵢ the loss's exact
   * Hessian there (`gaussNewtonProducts`; softmax cross-entropy's scaled by the target row's sum, so targets need not
   * sum to 1). Each `Jᵢu` is a central difference of the training forward — batch statistics, the step's Dropout
   * masks, so both sides see the same function — at `ifngd`'s `differenceStep`: 2k + 1 forward passes. Changes
   * nothing. Throws `InvalidArgumentError` for a vector that is not shaped as the parameters.
   */
  async gaussNewton(vectors: readonly HostTree[]): Promise<number[]> {
    const { params, n, loss, target, logitsAt } = this.#cx;
    for (const [k, u] of vectors.entries()) {
      for (const [name, p] of Object.entries(params)) {
        const x = (u as Record<string, unknown>)[name];
        if (!(x instanceof Float32Array) || x.length !== (p as Float32Array).length) {
          throw new InvalidArgumentError(`gaussNewton: vector ${k} must hold '${name}' as a Float32Array of ${(p as Float32Array).length} values`);
        }
      }
      if (Object.keys(u).length !== Object.keys(params).length) {
        throw new InvalidArgumentError(`gaussNewton: vector ${k} must hold the parameters' leaves only (${Object.keys(params).join(', ')})`);
      }
    }
    const z = await logitsAt(params);
    const paramNorm = hostTreeOps.norm(params, 1);
    const jvps: Float64Array[] = [];
    for (const u of vectors) {
      const t = differenceStep(paramNorm, hostTreeOps.norm(u, 1));
      if (t === 0) {
        jvps.push(new Float64Array(z.length));
        continue;
      }
      const up = await logitsAt(hostTreeOps.axpy(t, u, params));
      const down = await logitsAt(hostTreeOps.axpy(-t, u, params));
      jvps.push(Float64Array.from(up, (v, i) => (v - (down[i] as number)) / (2 * t)));
    }
    return gaussNewtonProducts(loss, z, jvps, n, loss === 'softmax-cross-entropy' ? rowSums(target.data as Float32Array, n) : null);
  }

  contain<R>(fn: () => R): R {
    return fn();
  }

  async read(scalars: readonly unknown[]): Promise<StepReading> {
    return { values: scalars as number[], loss: this.#loss };
  }

  /** The batch statistics of the training-mode BatchNormalizations, from the last gradient pass (none before one). */
  get batchStats(): GradientPass['batchStats'] {
    return this.#batchStats;
  }

  /** Releases the uploaded factors. */
  dispose(): void {
    for (const m of this.#created) m.dispose();
  }
}

/** Each of `n` rows' sum (softmax cross-entropy's Hessian scales with the target row's mass). */
function rowSums(y: Float32Array, n: number): Float64Array {
  const c = y.length / n;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let j = 0; j < c; j++) out[i]! += y[i * c + j] as number;
  return out;
}
