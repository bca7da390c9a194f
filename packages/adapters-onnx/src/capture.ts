/**
 * The ONNX trainer's side of `ifngd`'s optimizer contract: one validated batch as the passes an optimizer may ask
 * for — the factor graph (every layer's per-sample factors, uploaded to the device) and the gradient graph
 * (`Σᵢ wₗᵢ∇ℓᵢ` for per-layer weights, with the batch's losses). Parameters stay host trees; nothing is read
 * twice. Every optimizer — FNGD, KFAC, SGD, Adam, AdamW, Muon, a registered one — drives a step through it.
 * @module
 */
import type { LayerFactors } from '@ifngd/fisher';
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import type { CapturedGradients, FactorOptions, FactorSet, GradientRequest, HostTree, StepCapture, StepReading } from 'ifngd';
import type { Tensor } from 'onnxruntime-common';
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
