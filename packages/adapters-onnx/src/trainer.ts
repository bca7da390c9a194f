/**
 * `OnnxTrainer`: trains an inference ONNX model with FNGD — or KFAC (`options.kfac`) on the same factor
 * pass — on ONNX Runtime. Sessions (factors, gradients, forward) are created once and reused; parameters
 * live on the host as a `HostTree`. The jobs live in their own modules: options (`options.ts`), feeds and
 * targets (`feeds.ts`, `targets.ts`), graph runs (`passes.ts`), FNGD and KFAC steps (`steps.ts`), `fit`'s
 * batching (`fit.ts`).
 * @module
 */
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { fngd, kfac, KfacOptimizer, mulberry32, type FngdOptimizer, type HostTree } from 'ifngd';
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { analyzeModel, type ModelAnalysis, type ParameterInfo } from './analyze.js';
import { buildGraph } from './builder.js';
import { DisposedError, InvalidOptionError } from './errors.js';
import { checkFeeds, type Feeds } from './feeds.js';
import { batchOrder, sliceRows, type Dataset, type FitOptions } from './fit.js';
import { kfacLayersOf } from './kfac.js';
import type { LossKind } from './loss.js';
import { checkKfacOptions, type OnnxTrainerOptions, type StepOptions } from './options.js';
import { Passes } from './passes.js';
import { cloneModel, decodeModel, encodeModel, setTensorFloats, tensorFloats } from './proto.js';
import { defaultRuntime } from '#runtime';
import { asRuntime, type OrtRuntime } from './runtime-check.js';
import { fngdStep, kfacStep } from './steps.js';
import { checkTargets } from './targets.js';

/** Trains an ONNX model with FNGD or KFAC. Create with {@link OnnxTrainer.create}. */
export class OnnxTrainer {
  /** The FNGD optimizer (stats, damping, checkpoints); null when training with KFAC. */
  readonly optimizer: FngdOptimizer | null;
  /** The KFAC optimizer (stats, checkpoints); null when training with FNGD. */
  readonly kfacOptimizer: KfacOptimizer | null;
  /** Trainable parameters (initializers in Gemm / MatMul(+Add) / Conv roles), in layer order. */
  readonly parameters: readonly ParameterInfo[];
  /** Names of the model inputs the feeds must hold. */
  readonly inputNames: readonly string[];
  /** Epoch used when a step does not say (advanced by {@link OnnxTrainer.fit}). */
  epoch = 0;
  readonly #an: ModelAnalysis;
  readonly #loss: LossKind;
  readonly #ort: OrtRuntime;
  readonly #device: LinalgDevice;
  readonly #passes: Passes;
  #params: HostTree;
  #disposed = false;

  private constructor(an: ModelAnalysis, loss: LossKind, ort: OrtRuntime, device: LinalgDevice, opt: FngdOptimizer | KfacOptimizer, so: InferenceSession.SessionOptions) {
    this.#an = an;
    this.#loss = loss;
    this.#ort = ort;
    this.#device = device;
    this.optimizer = opt instanceof KfacOptimizer ? null : opt;
    this.kfacOptimizer = opt instanceof KfacOptimizer ? opt : null;
    this.parameters = an.params;
    this.inputNames = an.inputs.map((i) => i.name);
    const params: Record<string, Float32Array> = {};
    for (const p of an.params) params[p.name] = tensorFloats(an.initializers.get(p.name)!);
    this.#params = params;
    opt.init(this.#params);
    this.#passes = new Passes(an, loss, ort, so);
  }

  /**
   * Reads the model, checks every node (all unsupported ones are reported at once), builds the training
   * graphs and creates the gradient session. Throws `MalformedModelError`, `UnsupportedOpError`,
   * `UnsupportedModelError`, `InvalidOptionError` (also for an `ort` that is not an ONNX Runtime module, and
   * for `kfac` beside FNGD options), `RuntimeUnavailableError` (no `ort` given and none installed), and
   * `ifngd`'s `InvalidArgumentError` for bad optimizer values.
   */
  static async create(modelBytes: Uint8Array, options: OnnxTrainerOptions): Promise<OnnxTrainer> {
    if (options?.loss !== 'softmax-cross-entropy' && options?.loss !== 'mse') {
      throw new InvalidOptionError(`loss must be 'softmax-cross-entropy' or 'mse', got ${String(options?.loss)}`);
    }
    const model = decodeModel(modelBytes);
    const an = analyzeModel(model, options.output);
    buildGraph(an, options.loss, 'gradients'); // fail early on graph-construction errors
    const { loss, output: _o, device: dev, ort: rt, sessionOptions, kfac: kfacOptions, ...fngdOptions } = options;
    if (kfacOptions !== undefined) checkKfacOptions(kfacOptions, fngdOptions);
    const ort = rt === undefined ? await defaultRuntime() : asRuntime(rt, 'options.ort');
    const device = dev ?? (await createDevice({ backend: 'auto' }));
    let opt: FngdOptimizer | KfacOptimizer;
    try {
      opt = kfacOptions === undefined ? fngd({ ...fngdOptions, device }) : kfac({ ...kfacOptions, device, layers: kfacLayersOf(an) });
    } catch (e) {
      if (!dev) device.destroy(); // e.g. an invalid FNGD option
      throw e;
    }
    const t = new OnnxTrainer(an, loss, ort, device, opt, sessionOptions ?? { executionProviders: ['cpu'] });
    try {
      await t.#passes.warmUp();
    } catch (e) {
      if (!dev) device.destroy(); // e.g. an execution provider the runtime lacks
      throw e;
    }
    return t;
  }

  /** A copy of the current parameters. */
  params(): HostTree {
    const out: Record<string, Float32Array> = {};
    for (const [k, v] of Object.entries(this.#params)) out[k] = v.slice();
    return out;
  }

  /**
   * One FNGD (or KFAC) step on a mini-batch; returns the batch's mean loss before the update. Throws
   * `FeedError` / `TargetError` (and the optimizer's typed errors) before anything changes.
   */
  async step(feeds: Feeds, targets: Tensor, options: StepOptions): Promise<number> {
    this.#alive();
    const n = checkFeeds(this.#an, feeds);
    const target = checkTargets(this.#ort, this.#an, this.#loss, targets, n);
    const cx = { passes: this.#passes, device: this.#device, layers: this.#an.layers.length, params: this.#params, base: this.#passes.baseFeeds(feeds, this.#params, target), n };
    const r = this.kfacOptimizer ? await kfacStep(this.kfacOptimizer, cx) : await fngdStep(this.optimizer as FngdOptimizer, cx, options?.batchKey, options?.epoch ?? this.epoch);
    this.#params = r.params;
    return r.loss;
  }

  /** Mean loss on a batch at the current parameters (no update). */
  async evaluate(feeds: Feeds, targets: Tensor): Promise<number> {
    this.#alive();
    const n = checkFeeds(this.#an, feeds);
    const target = checkTargets(this.#ort, this.#an, this.#loss, targets, n);
    return this.#passes.loss(this.#passes.baseFeeds(feeds, this.#params, target), n);
  }

  /** The forward pass at the current parameters: every model output. */
  async predict(feeds: Feeds): Promise<Record<string, Tensor>> {
    this.#alive();
    checkFeeds(this.#an, feeds);
    return this.#passes.forward(feeds, this.#params);
  }

  /**
   * Trains for `epochs` over a fixed partition of the dataset into consecutive batches of `batchSize`
   * (the last may be smaller); batch keys are the batch indices, and only the order of batches is shuffled.
   * Returns the mean training loss of each epoch.
   */
  async fit(data: Dataset, options: FitOptions): Promise<number[]> {
    this.#alive();
    const { epochs, batchSize } = options;
    if (!Number.isSafeInteger(epochs) || epochs < 1) throw new InvalidOptionError('fit: epochs must be an integer ≥ 1');
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new InvalidOptionError('fit: batchSize must be an integer ≥ 1');
    const total = checkFeeds(this.#an, data.inputs);
    checkTargets(this.#ort, this.#an, this.#loss, data.targets, total);
    const batches = Math.ceil(total / batchSize);
    const rand = mulberry32(options.seed ?? 1);
    const history: number[] = [];
    for (let e = 0; e < epochs; e++) {
      const t0 = performance.now();
      let sum = 0;
      for (const bIdx of batchOrder(batches, rand, options.shuffle ?? true)) {
        const lo = bIdx * batchSize;
        const hi = Math.min(total, lo + batchSize);
        const feeds: Record<string, Tensor> = {};
        for (const [k, t] of Object.entries(data.inputs)) feeds[k] = sliceRows(this.#ort, t, lo, hi);
        sum += (await this.step(feeds, sliceRows(this.#ort, data.targets, lo, hi), { batchKey: bIdx, epoch: this.epoch })) * (hi - lo);
      }
      history.push(sum / total);
      await options.onEpochEnd?.(this.epoch, { loss: sum / total, seconds: (performance.now() - t0) / 1000 });
      this.epoch++;
    }
    return history;
  }

  /** The original model with the trained initializers (every other field kept), as ONNX bytes. */
  exportModel(): Uint8Array {
    this.#alive();
    const m = cloneModel(this.#an.model);
    for (const t of m.graph!.initializer) {
      const v = this.#params[t.name];
      if (v) setTensorFloats(t, v);
    }
    return encodeModel(m);
  }

  /** Releases the sessions. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#passes.release();
  }

  #alive(): void {
    if (this.#disposed) throw new DisposedError('the trainer was disposed');
  }
}
