/**
 * `OnnxTrainer`: trains an inference ONNX model with FNGD — or KFAC (`options.kfac`) on the same factor
 * pass — on ONNX Runtime. Sessions (factors, gradients, forward) are created once and reused; parameters
 * live on the host as a `HostTree`. The jobs live in their own modules: options (`options.ts`), feeds and
 * targets (`feeds.ts`, `targets.ts`), graph runs (`passes.ts`), FNGD and KFAC steps (`steps.ts`), `fit`'s
 * batching (`fit.ts`).
 * @module
 */
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { fngd, kfac, KfacOptimizer, type FngdOptimizer, type HostTree } from 'ifngd';
import { mulberry32 } from 'ifngd/internal';
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { analyzeModel, type ModelAnalysis, type ParameterInfo } from './analyze.js';
import { buildGraph } from './builder.js';
import { DisposedError } from './errors.js';
import { checkFeeds, type Feeds } from './feeds.js';
import { batchOrder, checkFit, sliceRows, type Dataset, type FitOptions } from './fit.js';
import { kfacLayersOf } from './kfac.js';
import type { LossKind } from './loss.js';
import { checkStepOptions, resolveTrainerOptions, type OnnxTrainerOptions, type StepOptions } from './options.js';
import { Passes } from './passes.js';
import { cloneModel, decodeModel, encodeModel, setTensorFloats, tensorFloats } from './proto.js';
import { CallQueue } from './queue.js';
import { defaultRuntime } from '#runtime';
import { asRuntime, type OrtRuntime } from './runtime-check.js';
import { fngdStep, kfacStep } from './steps.js';
import { checkTargets } from './targets.js';

const disposed = (): DisposedError => new DisposedError('the trainer was disposed');

/**
 * Trains an ONNX model with FNGD or KFAC. Create with {@link OnnxTrainer.create}.
 *
 * Every step is a transaction: when it throws (bad feeds or targets, a non-finite loss or gradient under
 * `onNonFinite: 'throw'`, a failing session run, the optimizer throwing), parameters, optimizer state and
 * `epoch` are as before it. The asynchronous calls (`step`, `evaluate`, `predict`, `fit`) are queued and run
 * one at a time in call order; `dispose()` rejects the calls still waiting with `DisposedError`.
 */
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
  readonly #onNonFinite: 'throw' | 'skip';
  readonly #queue = new CallQueue(disposed);
  #params: HostTree;
  #disposal: Promise<void> | null = null;

  private constructor(an: ModelAnalysis, loss: LossKind, ort: OrtRuntime, device: LinalgDevice, opt: FngdOptimizer | KfacOptimizer, so: InferenceSession.SessionOptions, onNonFinite: 'throw' | 'skip') {
    this.#an = an;
    this.#loss = loss;
    this.#ort = ort;
    this.#device = device;
    this.#onNonFinite = onNonFinite;
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
   * Validates the options (unknown keys included), reads the model, checks every node (all unsupported ones
   * are reported at once), builds the training graphs and creates the gradient session. Throws
   * `InvalidOptionError` (naming the option and its value: an unknown key, a bad `loss`/`output`/`device`/
   * `sessionOptions`, an `ort` that is not an ONNX Runtime module, `kfac` beside FNGD options),
   * `MalformedModelError`, `UnsupportedOpError`, `UnsupportedModelError`, `RuntimeUnavailableError` (no `ort`
   * given and none installed), and `ifngd`'s `InvalidArgumentError` for bad optimizer values.
   */
  static async create(modelBytes: Uint8Array, options: OnnxTrainerOptions): Promise<OnnxTrainer> {
    const o = resolveTrainerOptions(options);
    const an = analyzeModel(decodeModel(modelBytes), o.output);
    buildGraph(an, o.loss, 'gradients'); // fail early on graph-construction errors
    const ort = o.ort === undefined ? await defaultRuntime() : asRuntime(o.ort, 'options.ort', 'ort');
    const device = o.device ?? (await createDevice({ backend: 'auto' }));
    let opt: FngdOptimizer | KfacOptimizer;
    try {
      opt = o.kfac === undefined ? fngd({ ...o.fngd, device }) : kfac({ ...o.kfac, device, layers: kfacLayersOf(an) });
    } catch (e) {
      if (!o.device) device.destroy(); // e.g. an invalid FNGD option
      throw e;
    }
    const t = new OnnxTrainer(an, o.loss, ort, device, opt, o.sessionOptions, o.onNonFinite);
    try {
      await t.#passes.warmUp();
    } catch (e) {
      if (!o.device) device.destroy(); // e.g. an execution provider the runtime lacks
      throw e;
    }
    return t;
  }

  /** A copy of the current parameters (those of the last completed step). */
  params(): HostTree {
    const out: Record<string, Float32Array> = {};
    for (const [k, v] of Object.entries(this.#params)) out[k] = v.slice();
    return out;
  }

  /**
   * One FNGD (or KFAC) step on a mini-batch, queued behind earlier calls; returns the batch's mean loss before
   * the update. Throws `FeedError` / `TargetError` / `InvalidOptionError` before anything runs, and
   * `NonFiniteError`, session and optimizer errors with nothing changed; `DisposedError` after `dispose()`.
   */
  step(feeds: Feeds, targets: Tensor, options: StepOptions): Promise<number> {
    return this.#queue.run(() => this.#step(feeds, targets, options));
  }

  async #step(feeds: Feeds, targets: Tensor, options: StepOptions | undefined): Promise<number> {
    if (this.#queue.closed) throw disposed();
    const so = checkStepOptions(options);
    const n = checkFeeds(this.#an, feeds);
    const target = checkTargets(this.#ort, this.#an, this.#loss, targets, n);
    const params = this.#params;
    const base = this.#passes.baseFeeds(feeds, params, target);
    const cx = { passes: this.#passes, device: this.#device, layers: this.#an.layers.length, params, base, n, onNonFinite: this.#onNonFinite };
    const r = this.kfacOptimizer ? await kfacStep(this.kfacOptimizer, cx) : await fngdStep(this.optimizer as FngdOptimizer, cx, so?.batchKey as string | number, so?.epoch ?? this.epoch);
    this.#params = r.params; // the commit: the optimizer committed its own state in its step
    return r.loss;
  }

  /** Mean loss on a batch at the current parameters (no update), queued behind earlier calls. */
  evaluate(feeds: Feeds, targets: Tensor): Promise<number> {
    return this.#queue.run(async () => {
      const n = checkFeeds(this.#an, feeds);
      const target = checkTargets(this.#ort, this.#an, this.#loss, targets, n);
      return this.#passes.loss(this.#passes.baseFeeds(feeds, this.#params, target), n);
    });
  }

  /** The forward pass at the current parameters, queued behind earlier calls: every model output. */
  predict(feeds: Feeds): Promise<Record<string, Tensor>> {
    return this.#queue.run(async () => {
      checkFeeds(this.#an, feeds);
      return this.#passes.forward(feeds, this.#params);
    });
  }

  /**
   * Trains for `epochs` over a fixed partition of the dataset into consecutive batches of `batchSize`
   * (the last may be smaller); batch keys are the batch indices, and only the order of batches is shuffled.
   * Returns the mean training loss of each epoch. Options, inputs and targets are validated before the first
   * step; each step is a transaction (a throw keeps the earlier steps of the fit). One queued call: calls made
   * while `onEpochEnd` runs (e.g. an evaluation it awaits) run at once, before the fit goes on.
   */
  fit(data: Dataset, options: FitOptions): Promise<number[]> {
    return this.#queue.run(() => this.#fit(data, options));
  }

  async #fit(d: Dataset, o: FitOptions): Promise<number[]> {
    const { data, options } = checkFit(d, o);
    const total = checkFeeds(this.#an, data.inputs);
    checkTargets(this.#ort, this.#an, this.#loss, data.targets, total);
    const batches = Math.ceil(total / options.batchSize);
    const rand = mulberry32(options.seed ?? 1);
    const history: number[] = [];
    for (let e = 0; e < options.epochs; e++) {
      const t0 = performance.now();
      let sum = 0;
      for (const bIdx of batchOrder(batches, rand, options.shuffle ?? true)) {
        const lo = bIdx * options.batchSize;
        const hi = Math.min(total, lo + options.batchSize);
        const feeds: Record<string, Tensor> = {};
        for (const [k, t] of Object.entries(data.inputs)) feeds[k] = sliceRows(this.#ort, t, lo, hi);
        sum += (await this.#step(feeds, sliceRows(this.#ort, data.targets, lo, hi), { batchKey: bIdx, epoch: this.epoch })) * (hi - lo);
      }
      history.push(sum / total);
      const info = { loss: sum / total, seconds: (performance.now() - t0) / 1000 };
      await this.#queue.open(() => options.onEpochEnd?.(this.epoch, info));
      this.epoch++;
    }
    return history;
  }

  /** The original model with the trained initializers (every other field kept), as ONNX bytes. */
  exportModel(): Uint8Array {
    if (this.#queue.closed) throw disposed();
    const m = cloneModel(this.#an.model);
    for (const t of m.graph!.initializer) {
      const v = this.#params[t.name];
      if (v) setTensorFloats(t, v);
    }
    return encodeModel(m);
  }

  /**
   * Stops the trainer: calls still queued reject with `DisposedError` (so do later ones); the running call
   * finishes (a running `fit` stops before its next step), then the sessions are released.
   */
  dispose(): Promise<void> {
    this.#disposal ??= this.#queue.close().then(() => this.#passes.release());
    return this.#disposal;
  }
}
