/**
 * The trainer's optimizer side: the registered optimizer the options name (`ifngd`'s optimizer contract — FNGD
 * by default, `kfac`, or `optimizer: { kind, … }`) driven through one capture of the batch (`step-capture.ts`),
 * or a tfjs optimizer (`baseline-step.ts`); the linear-algebra device (and whether the trainer created it), the
 * optimizer's checkpoint bytes, moving it to another device, and the release of what it holds. Nothing here
 * branches on the optimizer's kind: its definition says whether it takes the backend's tensors or host arrays.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import type { LinalgDevice } from '@ifngd/linalg-gpu';
import { createOptimizer, hostTreeOps, type BatchKey, type FngdOptimizer, type HostTree, type KfacOptimizer, type OptimizerEnv, type ResolvedOptimizer, type TreeOps, type TrainingOptimizer } from 'ifngd';
import { baselineStep } from './baseline-step.js';
import { linalgDeviceForTf } from './device.js';
import { forwardCouplesSamples } from './coupling.js';
import { AdapterArgumentError, UnsupportedModelError } from './errors.js';
import type { StepContext } from './step-context.js';
import { gaussNewtonAvailable } from './gauss-newton.js';
import { readHost } from './read-host.js';
import { TfStepCapture, type StepCaptureContext } from './step-capture.js';
import type { TargetValueCheck } from './targets.js';
import type { BatchResult } from './trainer-types.js';
import { collectTensors, disposeReleased, makeTree, tfTreeOps, type ShapeMap, type TfTree } from './tree-ops.js';

/** The optimizer a trainer runs: a registered one (resolved from the options), or a tfjs optimizer. */
export type EngineChoice = { readonly resolved: ResolvedOptimizer; readonly perSample: 'share' | 'exact' } | { readonly tf: tf.Optimizer };

/** One optimizer of a trainer and the linalg device it runs on. */
export class StepEngine {
  /** The tfjs baseline optimizer (null for a registered optimizer). */
  readonly tfOptimizer: tf.Optimizer | null;
  readonly #c: StepContext;
  readonly #choice: EngineChoice;
  #opt: TrainingOptimizer<any> | null = null;
  #capture: StepCaptureContext | null = null;
  #device: LinalgDevice | null;
  #ownsDevice: boolean;
  #couplingChecked = false;
  readonly #sampling: StepCaptureContext['sampling'];

  private constructor(c: StepContext, choice: EngineChoice, device: LinalgDevice | null, ownsDevice: boolean, sampling: StepCaptureContext['sampling']) {
    this.#c = c;
    this.#sampling = sampling;
    this.#choice = choice;
    this.#device = device;
    this.#ownsDevice = ownsDevice;
    this.tfOptimizer = 'tf' in choice ? choice.tf : null;
    if (device && 'resolved' in choice) [this.#opt, this.#capture] = this.#make(device);
  }

  /** A new optimizer on `device` (from the options) and the context of its captures. */
  #make(device: LinalgDevice): [TrainingOptimizer<any>, StepCaptureContext] {
    const choice = this.#choice as Extract<EngineChoice, { resolved: ResolvedOptimizer }>;
    const { variables, names, model } = this.#c;
    const shapes: Record<string, readonly number[]> = {};
    names.forEach((n, i) => (shapes[n] = (variables[i] as Variable).shape));
    const backendOps = tfTreeOps(shapes as ShapeMap);
    const trees = choice.resolved.definition.trees === 'any' ? 'backend' : 'host';
    // host trees with the variables' shapes in their spec (the checkpoint's model fingerprint covers them)
    const hostOps: TreeOps<HostTree> = {
      ...hostTreeOps,
      spec: (t) =>
        hostTreeOps.spec(t).map((l) => {
          const shape = shapes[l.name];
          return shape ? { ...l, shape } : l;
        }),
    };
    const byVar = new Map(variables.map((v, i) => [v, names[i] as string]));
    const name = (v: Variable): string => {
      const n = byVar.get(v);
      if (n === undefined) throw new AdapterArgumentError(`tapped variable '${v.name}' is not among the model's variables`);
      return n;
    };
    const taps = model.taps ?? [];
    const env: OptimizerEnv<any> = {
      device,
      ops: trees === 'backend' ? backendOps : hostOps,
      // tfjs kernels are [in, out] (Conv2D [kh, kw, cin, cout], patches unfolded in that order)
      layers: taps.map((t) => ({ weight: name(t.kernel), bias: t.bias ? name(t.bias) : null, layout: 'in-out' as const, outputs: t.kernel.shape[t.kernel.shape.length - 1] as number })),
      leaves: [...names],
      plain: (model.plain ?? []).map(name),
      secondMoments: true,
      sampledTargets: this.#sampling !== null,
      gaussNewton: gaussNewtonAvailable(this.#c.model, this.#sampling),
    };
    const opt = createOptimizer(choice.resolved, env);
    return [opt, { ...this.#c, device, taps, exact: choice.perSample === 'exact', trees, ops: backendOps, sampling: this.#sampling }];
  }

  /**
   * Creates the linalg device unless `device` is given (none for a tfjs optimizer) and the optimizer, and starts
   * it at the variables. A throw releases everything created here (and the context's patch filters).
   */
  static async create(c: StepContext, choice: EngineChoice, device?: LinalgDevice, sampling: StepCaptureContext['sampling'] = null): Promise<StepEngine> {
    const registered = 'resolved' in choice;
    const owns = registered && !device;
    const dev = registered ? (device ?? (await linalgDeviceForTf())) : null;
    let engine: StepEngine;
    try {
      engine = new StepEngine(c, choice, dev, owns, sampling);
    } catch (e) {
      if (owns) dev?.destroy(); // e.g. an invalid optimizer option
      c.filters.dispose();
      throw e;
    }
    try {
      await engine.#init(); // an awaited read on every backend (`NonFiniteError` for NaN/±Infinity parameters)
    } catch (e) {
      engine.dispose();
      c.filters.dispose();
      throw e;
    }
    return engine;
  }

  /** Starts the optimizer at the variables' values. */
  async #init(opt = this.#opt, cx = this.#capture): Promise<void> {
    if (!opt || !cx) return;
    const { names, variables } = this.#c;
    if (cx.trees === 'backend') await opt.init(makeTree(Object.fromEntries(names.map((n, i) => [n, variables[i] as Variable]))));
    else {
      const values = await readHost(variables);
      await opt.init(Object.fromEntries(names.map((n, i) => [n, values[i] as Float32Array])));
    }
  }

  /** The registered kind, or null for a tfjs-optimizer baseline (which has no optimizer state of its own). */
  get kind(): string | null {
    return this.#opt?.kind ?? null;
  }

  /** The optimizer as the contract drives it (null for a tfjs optimizer). */
  get training(): TrainingOptimizer<any> | null {
    return this.#opt;
  }

  /** The FNGD optimizer (null unless training with FNGD). */
  get optimizer(): FngdOptimizer<TfTree, Tensor> | null {
    return this.#opt?.kind === 'fngd' ? (this.#opt.inner as FngdOptimizer<TfTree, Tensor>) : null;
  }

  /** The KFAC optimizer (null unless training with KFAC). */
  get kfacOptimizer(): KfacOptimizer<HostTree> | null {
    return this.#opt?.kind === 'kfac' ? (this.#opt.inner as KfacOptimizer<HostTree>) : null;
  }

  /**
   * One step on a batch of targets whose shapes are checked. Their values are checked already unless `check` is
   * given (registered optimizers only: the step reads it with its own scalars and throws its `TargetError` before
   * committing anything); a baseline's targets must be checked before (it mutates as it applies).
   */
  async step(x: Tensor, y: Tensor, batchKey: BatchKey, epoch: number, check: TargetValueCheck | null = null): Promise<BatchResult> {
    const model = this.#c.model;
    if (this.#c.checkCoupling && !this.#couplingChecked && model.couplesSamples !== true) {
      // before anything changes: a forward whose samples interact would train silently wrong
      const couples = await forwardCouplesSamples(model, x);
      if (couples === true) {
        throw new UnsupportedModelError(
          "FNGD: the model's forward couples the samples of a batch (sample 0's output changed when the other samples changed), " +
            'so its per-sample gradients are not what the capture measures; declare `couplesSamples: true` on the FunctionModel ' +
            '(each sample then gets its share of the batch gradient, as the BatchNormalization block does), or make the forward per-sample',
        );
      }
      if (couples !== 'later') this.#couplingChecked = true;
    }
    try {
      const { result, skipped } = await this.#step(x, y, batchKey, epoch, check);
      // moving statistics of the step's training forward, once it committed; a skipped step (`onNonFinite: 'skip'`,
      // whose forward may have overflowed) keeps the old ones
      if (skipped) model.discardState?.();
      else model.commitState?.();
      return result;
    } catch (e) {
      model.discardState?.();
      throw e;
    }
  }

  async #step(x: Tensor, y: Tensor, batchKey: BatchKey, epoch: number, check: TargetValueCheck | null): Promise<{ result: BatchResult; skipped: boolean }> {
    const opt = this.#opt;
    const cx = this.#capture;
    if (!opt || !cx) {
      if (check) throw new AdapterArgumentError('step: a tfjs-optimizer step takes checked targets only');
      return { result: await baselineStep(this.tfOptimizer as tf.Optimizer, this.#c, x, y), skipped: false };
    }
    const { names, variables } = this.#c;
    const before = collectTensors(opt.state);
    const capture = new TfStepCapture(cx, x, y, batchKey, epoch, check);
    try {
      const r = await opt.step(capture);
      // --- commit: the variables, last (nothing below throws) ---
      const skipped = r.params === capture.params;
      if (!skipped) {
        names.forEach((name, i) => {
          const v = variables[i] as Variable;
          const next = (r.params as Record<string, Tensor | Float32Array>)[name];
          if (next instanceof tf.Tensor) v.assign(next);
          else {
            const t = tf.tensor(next as Float32Array, v.shape, 'float32');
            v.assign(t);
            t.dispose();
          }
        });
      }
      return { result: { loss: r.loss, fresh: r.fresh }, skipped };
    } finally {
      const after = collectTensors(opt.state);
      capture.release(after);
      disposeReleased(before, after);
    }
  }

  /** Drops cached per-batch state of batches not in `keys` (an adopted plan). */
  retain(keys: Iterable<BatchKey>): void {
    this.#opt?.retain?.(keys);
  }

  /** The optimizer's checkpoint (`ifngd`'s formats; a baseline: empty). Synchronous reads: see {@link StepEngine.prefetch}. */
  serialize(): Uint8Array {
    return this.#opt ? this.#opt.serialize() : new Uint8Array(0);
  }

  /** Caches the optimizer state's tensor values on the host (an awaited read), so {@link StepEngine.serialize} works on webgpu. */
  async prefetch(): Promise<void> {
    const state = this.#opt?.state;
    if (state) await Promise.all([...collectTensors(state)].map((t) => t.data()));
  }

  /** Restores {@link StepEngine.serialize} output (checked by the caller for its kind), releasing the state tensors it replaces. */
  restore(bytes: Uint8Array): void {
    const opt = this.#opt;
    if (!opt) return;
    const before = collectTensors(opt.state);
    opt.restore(bytes);
    disposeReleased(before, collectTensors(opt.state));
  }

  /**
   * Throws `AdapterArgumentError` unless `device` can take the optimizer: a baseline has none; the device must be
   * a live `LinalgDevice` (not destroyed, not lost).
   */
  checkDevice(device: LinalgDevice): void {
    if (this.kind === null) throw new AdapterArgumentError('useDevice: a tfjs-optimizer trainer uses no linear-algebra device');
    const d = device as Partial<LinalgDevice> | null;
    if (typeof d !== 'object' || d === null || typeof d.matrix !== 'function' || typeof d.destroy !== 'function') {
      throw new AdapterArgumentError(`useDevice: expected a LinalgDevice, got ${d === null ? 'null' : typeof d}`);
    }
    if (device.destroyed) throw new AdapterArgumentError('useDevice: the device was destroyed');
    if (device.isLost) throw new AdapterArgumentError('useDevice: the device is lost');
  }

  /**
   * Moves the optimizer to `device` (checked by {@link StepEngine.checkDevice}): a new optimizer on it takes the
   * current one's checkpoint — transformation state, coefficient cache, counters, KFAC's running averages and
   * inverses — and the old one is released; so only device-resident state is dropped (KFAC's device copies of
   * its inverses, uploaded again from the state by the next step). The old device is destroyed when the trainer
   * created it; the new one stays the caller's. A throw leaves the engine as it was.
   */
  async useDevice(device: LinalgDevice): Promise<void> {
    if (device === this.#device || !this.#opt) return;
    await this.prefetch();
    const bytes = this.#opt.serialize();
    const [next, cx] = this.#make(device);
    try {
      await this.#init(next, cx);
      const fresh = collectTensors(next.state);
      next.restore(bytes);
      disposeReleased(fresh, collectTensors(next.state)); // the state init made, replaced by the checkpoint's
    } catch (e) {
      StepEngine.#release(next);
      throw e;
    }
    StepEngine.#release(this.#opt);
    this.#opt = next;
    this.#capture = cx;
    if (this.#ownsDevice) this.#device?.destroy();
    this.#device = device;
    this.#ownsDevice = false;
  }

  /** Releases an optimizer's state tensors (never variables) and its device-resident state. */
  static #release(opt: TrainingOptimizer<any>): void {
    for (const t of collectTensors(opt.state)) if (!(t instanceof tf.Variable) && !t.isDisposed) t.dispose();
    opt.dispose();
  }

  /** Releases the optimizer state tensors, the KFAC inverses and the device the trainer created. */
  dispose(): void {
    if (this.#opt) StepEngine.#release(this.#opt);
    if (this.#ownsDevice) this.#device?.destroy();
  }
}
