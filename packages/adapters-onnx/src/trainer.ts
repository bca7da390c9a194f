/**
 * `OnnxTrainer`: trains an inference ONNX model with FNGD — or KFAC (`options.kfac`) on the same factor
 * pass — on ONNX Runtime. Sessions (factors, gradients, forward) are created once and reused; parameters
 * live on the host as a `HostTree`.
 *
 * A KFAC step runs the factor graph only when the running averages are due (`factorsDue`), and always the
 * gradient graph with αᵢ = 1/n (the mean-loss gradient): two ORT passes on factor steps, one otherwise.
 * @module
 */
import { createDevice, type LinalgDevice, type Matrix } from '@ifngd/linalg-gpu';
import { fngd, kfac, KfacOptimizer, type FngdOptimizer, type FngdOptions, type HostTree } from 'ifngd';
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { analyzeModel, type ModelAnalysis, type ParameterInfo } from './analyze.js';
import { buildGraph, NAMES } from './builder.js';
import { DisposedError, FeedError, InvalidOptionError, TargetError } from './errors.js';
import { BATCH, fmtShape } from './ir.js';
import { kfacLayersOf, uploadLayerFactors, type OnnxKfacOptions } from './kfac.js';
import type { LossKind } from './loss.js';
import { cloneModel, decodeModel, encodeModel, setTensorFloats, tensorFloats } from './proto.js';
import { defaultRuntime } from '#runtime';
import { asRuntime, type OrtRuntime } from './runtime-check.js';
import { floats, LazySession } from './session.js';
import { mulberry32 } from './rng.js';

/**
 * Options of {@link OnnxTrainer.create}: the loss, the runtime, and every FNGD option — or `kfac`. Only `loss`
 * is required; `learningRate`, `damping`, `momentum` and `mode` default to `ifngd`'s measured `FNGD_DEFAULTS`.
 */
export interface OnnxTrainerOptions extends Omit<FngdOptions, 'device' | 'ops'> {
  /**
   * Train with KFAC instead of FNGD (`ifngd`'s `kfac` options without `device`/`ops`/`layers`; missing fields
   * from `KFAC_DEFAULTS`). Every trainable layer (Gemm, MatMul(+Add), Conv) is a KFAC layer. No FNGD option
   * may be given beside it (`InvalidOptionError`).
   */
  readonly kfac?: OnnxKfacOptions;
  /** `'softmax-cross-entropy'` (output `[N,C]`, logits or Softmax/LogSoftmax output) or `'mse'`. */
  readonly loss: LossKind;
  /** Model output the loss applies to; default the first output. */
  readonly output?: string;
  /** Linear-algebra device for Grams and Cholesky; default `createDevice({ backend: 'auto' })`. */
  readonly device?: LinalgDevice;
  /**
   * ONNX Runtime module (`import * as ort from 'onnxruntime-web'` or `'onnxruntime-node'`). Default: in Node
   * `onnxruntime-node`, else `onnxruntime-web`; in browsers a global `ort`, else `onnxruntime-web`.
   */
  readonly ort?: OrtRuntime;
  /** Session options, e.g. `{ executionProviders: ['webgpu'] }`; default cpu. */
  readonly sessionOptions?: InferenceSession.SessionOptions;
}

/** Options of one {@link OnnxTrainer.step}. */
export interface StepOptions {
  /** Key of the batch in the fixed partition (the FNGD coefficient cache is keyed by it; KFAC ignores it). */
  readonly batchKey: string | number;
  /** Epoch (0-based); default the trainer's current epoch. */
  readonly epoch?: number;
}

/** A dataset for {@link OnnxTrainer.fit}: full arrays, sample-major. */
export interface Dataset {
  /** One tensor per model input, `[S, ...]`. */
  readonly inputs: Readonly<Record<string, Tensor>>;
  /** Targets `[S]` (class indices) or `[S, ...]`. */
  readonly targets: Tensor;
}

/** Options of {@link OnnxTrainer.fit}. */
export interface FitOptions {
  readonly epochs: number;
  readonly batchSize: number;
  /** Shuffle the *order* of the fixed batches each epoch (seeded); default true. */
  readonly shuffle?: boolean;
  readonly seed?: number;
  /** After each epoch, with the mean training loss; may be async. */
  readonly onEpochEnd?: (epoch: number, info: { loss: number; seconds: number }) => void | Promise<void>;
}

type Feeds = Readonly<Record<string, Tensor>>;

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
  readonly #sessions: { factors: LazySession; gradients: LazySession; forward: LazySession };
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
    this.#sessions = {
      factors: new LazySession(ort, () => buildGraph(an, loss, 'factors').bytes, so),
      gradients: new LazySession(ort, () => buildGraph(an, loss, 'gradients').bytes, so),
      forward: new LazySession(ort, () => buildGraph(an, loss, 'forward').bytes, so),
    };
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
      await t.#sessions.gradients.get();
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
    const n = this.#checkFeeds(feeds);
    const target = this.#checkTargets(targets, n);
    const base = this.#baseFeeds(feeds, target);
    if (this.kfacOptimizer) return this.#kfacStep(this.kfacOptimizer, base, n);
    const opt = this.optimizer as FngdOptimizer;
    const epoch = options?.epoch ?? this.epoch;
    const L = this.#an.layers.length;
    const created: Matrix[] = [];
    let c;
    try {
      c = await opt.coefficients({
        batchKey: options?.batchKey,
        epoch,
        n,
        factors: async () => uploadLayerFactors(this.#an, await this.#sessions.factors.run(base), this.#device, created),
      });
    } finally {
      for (const m of created) m.dispose();
    }
    const alpha = new Float32Array(L * n);
    for (let l = 0; l < L; l++) alpha.set(c.layers === 1 ? c.alpha : c.layer(l), l * n);
    const { grads, loss } = await this.#gradients(base, alpha, n);
    this.#params = opt.step(grads, this.#params, { coefficients: c, ...(Number.isFinite(loss) ? { loss } : {}) });
    return loss;
  }

  /** One KFAC step: the factor pass when the running averages are due, the mean-loss gradient always. */
  async #kfacStep(opt: KfacOptimizer, base: Record<string, Tensor>, n: number): Promise<number> {
    const created: Matrix[] = [];
    try {
      const factors = opt.factorsDue ? uploadLayerFactors(this.#an, await this.#sessions.factors.run(base), this.#device, created) : undefined;
      const { grads, loss } = await this.#gradients(base, new Float32Array(this.#an.layers.length * n).fill(1 / n), n);
      this.#params = await opt.step(grads, this.#params, { ...(factors ? { factors } : {}), ...(Number.isFinite(loss) ? { loss } : {}) });
      return loss;
    } finally {
      for (const m of created) m.dispose();
    }
  }

  /** The gradient graph with weights `alpha` (`[L, n]`, row-major): Σᵢ αₗᵢ∇ℓᵢ per parameter and the mean loss. */
  async #gradients(base: Record<string, Tensor>, alpha: Float32Array, n: number): Promise<{ grads: HostTree; loss: number }> {
    const L = this.#an.layers.length;
    const out = await this.#sessions.gradients.run({ ...base, [NAMES.alpha]: new this.#ort.Tensor('float32', alpha, [L, n]) });
    const grads: Record<string, Float32Array> = {};
    for (const p of this.#an.params) grads[p.name] = floats(out[NAMES.grad(p.name)], p.name).slice();
    return { grads, loss: mean(floats(out[NAMES.losses], 'losses')) };
  }

  /** Mean loss on a batch at the current parameters (no update). */
  async evaluate(feeds: Feeds, targets: Tensor): Promise<number> {
    this.#alive();
    const n = this.#checkFeeds(feeds);
    const target = this.#checkTargets(targets, n);
    const L = this.#an.layers.length;
    const out = await this.#sessions.gradients.run({
      ...this.#baseFeeds(feeds, target),
      [NAMES.alpha]: new this.#ort.Tensor('float32', new Float32Array(L * n), [L, n]),
    });
    return mean(floats(out[NAMES.losses], 'losses'));
  }

  /** The forward pass at the current parameters: every model output. */
  async predict(feeds: Feeds): Promise<Record<string, Tensor>> {
    this.#alive();
    this.#checkFeeds(feeds);
    return this.#sessions.forward.run({ ...feeds, ...this.#paramFeeds() });
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
    const total = this.#checkFeeds(data.inputs);
    this.#checkTargets(data.targets, total);
    const batches = Math.ceil(total / batchSize);
    const rand = mulberry32(options.seed ?? 1);
    const history: number[] = [];
    for (let e = 0; e < epochs; e++) {
      const t0 = performance.now();
      const order = Array.from({ length: batches }, (_, i) => i);
      if (options.shuffle ?? true) for (let i = batches - 1; i > 0; i--) { const j = Math.floor(rand() * (i + 1)); [order[i], order[j]] = [order[j]!, order[i]!]; }
      let sum = 0;
      for (const bIdx of order) {
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
    await Promise.all(Object.values(this.#sessions).map((s) => s.release()));
  }

  #alive(): void {
    if (this.#disposed) throw new DisposedError('the trainer was disposed');
  }

  #paramFeeds(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const p of this.#an.params) out[p.name] = new this.#ort.Tensor('float32', this.#params[p.name]!, p.dims);
    return out;
  }

  #baseFeeds(feeds: Feeds, target: Tensor): Record<string, Tensor> {
    return { ...feeds, ...this.#paramFeeds(), [NAMES.target]: target };
  }

  /** Validates feeds; returns the batch size. */
  #checkFeeds(feeds: Feeds): number {
    if (typeof feeds !== 'object' || feeds === null) throw new FeedError('feeds must be a record of tensors');
    const known = new Set(this.inputNames);
    for (const k of Object.keys(feeds)) if (!known.has(k)) throw new FeedError(`the model has no input '${k}' (inputs: ${this.inputNames.join(', ')})`);
    let n = -1;
    for (const inp of this.#an.inputs) {
      const t = feeds[inp.name];
      if (!t) throw new FeedError(`missing feed for model input '${inp.name}'`);
      if (t.type !== 'float32' || !(t.data instanceof Float32Array)) throw new FeedError(`input '${inp.name}' must be float32, got ${t.type}`);
      const ok = t.dims.length === inp.shape.length && inp.shape.every((d, i) => d === BATCH || d === t.dims[i]);
      if (!ok || (t.dims[0] ?? 0) < 1) throw new FeedError(`input '${inp.name}' must be ${fmtShape(inp.shape)} with N ≥ 1, got [${t.dims.join(',')}]`);
      if (n >= 0 && t.dims[0] !== n) throw new FeedError(`inputs disagree on the batch size (${n} vs ${t.dims[0]})`);
      n = t.dims[0]!;
    }
    return n;
  }

  /** Validates targets and converts them to the float tensor the graphs take. */
  #checkTargets(targets: Tensor, n: number): Tensor {
    if (!targets || typeof targets !== 'object' || !('dims' in targets)) throw new TargetError('targets must be a tensor');
    const out = this.#an.output.shape;
    const want = [n, ...out.slice(1)];
    if (this.#loss === 'softmax-cross-entropy' && (targets.type === 'int64' || targets.type === 'int32')) {
      if (targets.dims.length !== 1 || targets.dims[0] !== n) throw new TargetError(`class-index targets must be [${n}], got [${targets.dims.join(',')}]`);
      const c = out[1]!;
      const hot = new Float32Array(n * c);
      const data = targets.data as BigInt64Array | Int32Array;
      for (let i = 0; i < n; i++) {
        const k = Number(data[i]);
        if (!Number.isInteger(k) || k < 0 || k >= c) throw new TargetError(`target class ${k} of sample ${i} is outside [0, ${c})`);
        hot[i * c + k] = 1;
      }
      return new this.#ort.Tensor('float32', hot, want);
    }
    if (targets.type !== 'float32' || !(targets.data instanceof Float32Array)) {
      throw new TargetError(`targets must be float32${this.#loss === 'softmax-cross-entropy' ? ' [N,C] or int64/int32 class indices [N]' : ''}, got ${targets.type}`);
    }
    if (targets.dims.length !== want.length || want.some((d, i) => d !== targets.dims[i])) {
      throw new TargetError(`targets must be [${want.join(',')}], got [${targets.dims.join(',')}]`);
    }
    if (!targets.data.every(Number.isFinite)) throw new TargetError('targets hold NaN or ±Infinity');
    return targets;
  }
}

/** Throws `InvalidOptionError` for `kfac` options that are not an object, set trainer-owned keys, or come with FNGD options. */
function checkKfacOptions(k: unknown, fngdOptions: Readonly<Record<string, unknown>>): void {
  if (typeof k !== 'object' || k === null || Array.isArray(k)) throw new InvalidOptionError('kfac must be an options object (`{}` for KFAC_DEFAULTS)');
  for (const key of ['device', 'ops', 'layers']) if (key in k) throw new InvalidOptionError(`kfac.${key} is set by the trainer; remove it`);
  const fngdKeys = Object.keys(fngdOptions).filter((key) => fngdOptions[key] !== undefined);
  if (fngdKeys.length > 0) throw new InvalidOptionError(`give FNGD options or \`kfac\`, not both (got ${fngdKeys.join(', ')} beside kfac)`);
}

function mean(x: Float32Array): number {
  let s = 0;
  for (const v of x) s += v;
  return s / x.length;
}

function sliceRows(ort: OrtRuntime, t: Tensor, lo: number, hi: number): Tensor {
  const row = t.dims.slice(1).reduce((a, d) => a * d, 1);
  const dims = [hi - lo, ...t.dims.slice(1)];
  const data = (t.data as Float32Array).subarray(lo * row, hi * row);
  if (t.type === 'float32') return new ort.Tensor('float32', data, dims);
  const Ctor = (t as unknown as { constructor: new (type: string, data: unknown, dims: readonly number[]) => Tensor }).constructor;
  return new Ctor(t.type, data, dims);
}

