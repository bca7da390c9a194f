/**
 * The trainer's optimizer side: which step implementation runs — FNGD (`fngd-step.ts`), KFAC (`kfac-step.ts`)
 * or a tfjs optimizer (`baseline-step.ts`) — on which linear-algebra device (and whether the trainer created
 * it), the optimizer's checkpoint bytes, moving it to another device, and the release of what it holds.
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { LinalgDevice } from '@ifngd/linalg-gpu';
import { NonFiniteError, type BatchKey, type FngdOptimizer, type HostTree, type KfacOptimizer } from 'ifngd';
import { baselineStep } from './baseline-step.js';
import { linalgDeviceForTf } from './device.js';
import { forwardCouplesSamples } from './coupling.js';
import { AdapterArgumentError, UnsupportedModelError } from './errors.js';
import { FngdStep } from './fngd-step.js';
import { KfacStep } from './kfac-step.js';
import type { StepContext } from './step-context.js';
import type { TargetValueCheck } from './targets.js';
import type { BatchResult, FngdTrainerOptions } from './trainer-types.js';
import { collectTensors, type TfTree } from './tree-ops.js';

/** One step implementation of a trainer and the linalg device it runs on. */
export class StepEngine {
  /** The tfjs baseline optimizer (null for FNGD and KFAC). */
  readonly tfOptimizer: tf.Optimizer | null;
  readonly #c: StepContext;
  readonly #options: FngdTrainerOptions;
  #fngd: FngdStep | null = null;
  #kfac: KfacStep | null = null;
  #device: LinalgDevice | null;
  #ownsDevice: boolean;
  #couplingChecked = false;

  private constructor(c: StepContext, options: FngdTrainerOptions, device: LinalgDevice | null, ownsDevice: boolean) {
    this.#c = c;
    this.#options = { ...options, ...(options.fngd ? { fngd: { ...options.fngd } } : {}), ...(options.kfac ? { kfac: { ...options.kfac } } : {}) };
    this.#device = device;
    this.#ownsDevice = ownsDevice;
    this.tfOptimizer = options.optimizer ?? null;
    if (options.kfac !== undefined && device) {
      const taps = c.model.taps;
      if (!taps) throw new AdapterArgumentError('FngdTrainer.create: KFAC needs the model\'s layers: a tf.LayersModel, or a FunctionModel with `taps`');
      this.#kfac = this.#newKfac(device);
    } else if (options.optimizer === undefined && device) {
      this.#fngd = new FngdStep(c, device, this.#options.fngd, this.#options.perSample);
    }
  }

  #newKfac(device: LinalgDevice): KfacStep {
    return new KfacStep({ ...this.#c, taps: this.#c.model.taps ?? [], device }, this.#options.kfac ?? {});
  }

  /**
   * Chooses the step (KFAC with `options.kfac`, the tfjs `options.optimizer`, else FNGD), creates the linalg
   * device unless `options.device` gives one, and starts the optimizer at the variables. A throw releases
   * everything created here (and the context's patch filters).
   */
  static async create(c: StepContext, options: FngdTrainerOptions): Promise<StepEngine> {
    const owns = options.optimizer === undefined && !options.device;
    const device = options.optimizer !== undefined ? null : (options.device ?? (await linalgDeviceForTf()));
    let engine: StepEngine;
    try {
      engine = new StepEngine(c, options, device, owns);
    } catch (e) {
      if (owns) device?.destroy(); // e.g. an invalid FNGD option
      c.filters.dispose();
      throw e;
    }
    try {
      // an awaited read on every backend (`NonFiniteError` for NaN/±Infinity parameters)
      await engine.#fngd?.init();
      await engine.#kfac?.init();
    } catch (e) {
      engine.dispose();
      c.filters.dispose();
      throw e;
    }
    return engine;
  }

  /** `'fngd'`, `'kfac'`, or null for a tfjs-optimizer baseline (which has no optimizer state of its own). */
  get kind(): 'fngd' | 'kfac' | null {
    return this.#kfac ? 'kfac' : this.#fngd ? 'fngd' : null;
  }

  /** The FNGD optimizer (null for KFAC and for a baseline). */
  get optimizer(): FngdOptimizer<TfTree, Tensor> | null {
    return this.#fngd?.optimizer ?? null;
  }

  /** The KFAC optimizer (null unless training with KFAC). */
  get kfacOptimizer(): KfacOptimizer<HostTree> | null {
    return this.#kfac?.optimizer ?? null;
  }

  /**
   * One step on a batch of targets whose shapes are checked. Their values are checked already unless `check` is
   * given (FNGD and KFAC only: the step reads it with its own scalars and throws its `TargetError` before
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
      const r = await this.#step(x, y, batchKey, epoch, check);
      model.commitState?.(); // moving statistics of the step's training forward, once it committed
      return r;
    } catch (e) {
      model.discardState?.();
      throw e;
    }
  }

  #step(x: Tensor, y: Tensor, batchKey: BatchKey, epoch: number, check: TargetValueCheck | null): Promise<BatchResult> {
    const n = x.shape[0] as number;
    if (this.tfOptimizer) {
      if (check) throw new AdapterArgumentError('step: a tfjs-optimizer step takes checked targets only');
      return baselineStep(this.tfOptimizer, this.#c, x, y);
    }
    if (this.#kfac) return this.#kfac.run(x, y, n, check);
    return (this.#fngd as FngdStep).run(x, y, batchKey, epoch, n, check);
  }

  /** The optimizer's checkpoint (`ifngd`'s formats; a baseline: empty). Synchronous reads: see {@link StepEngine.prefetch}. */
  serialize(): Uint8Array {
    if (this.#kfac) return this.#kfac.optimizer.serialize();
    return this.#fngd ? this.#fngd.optimizer.serialize() : new Uint8Array(0);
  }

  /** Caches the FNGD state's values on the host (an awaited read), so {@link StepEngine.serialize} works on webgpu. */
  async prefetch(): Promise<void> {
    const state = this.#fngd?.optimizer.state;
    if (state) await Promise.all([...collectTensors(state)].map((t) => t.data()));
  }

  /** Restores {@link StepEngine.serialize} output (checked by the caller for its kind). */
  restore(bytes: Uint8Array): void {
    this.#fngd?.restore(bytes);
    this.#kfac?.optimizer.restore(bytes);
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
   * Moves the optimizer to `device` (checked by {@link StepEngine.checkDevice}): a new FNGD or KFAC optimizer on
   * it takes the current one's checkpoint — transformation state, coefficient cache, counters, KFAC's running
   * averages and inverses — and the old one is released; so only device-resident state is dropped (KFAC's
   * device copies of its inverses, uploaded again from the state by the next step). The old device is destroyed
   * when the trainer created it; the new one stays the caller's. A throw leaves the engine as it was.
   */
  async useDevice(device: LinalgDevice): Promise<void> {
    if (device === this.#device) return;
    if (this.#fngd) {
      await this.prefetch();
      const bytes = this.#fngd.optimizer.serialize();
      const next = new FngdStep(this.#c, device, this.#options.fngd, this.#options.perSample);
      try {
        await next.init();
        next.restore(bytes);
      } catch (e) {
        next.dispose();
        throw e;
      }
      this.#fngd.dispose();
      this.#fngd = next;
    } else if (this.#kfac) {
      const bytes = this.#kfac.optimizer.serialize();
      const next = this.#newKfac(device);
      try {
        await next.init();
        next.optimizer.restore(bytes);
      } catch (e) {
        next.dispose();
        throw e;
      }
      this.#kfac.dispose();
      this.#kfac = next;
    }
    if (this.#ownsDevice) this.#device?.destroy();
    this.#device = device;
    this.#ownsDevice = false;
  }

  /** Releases the optimizer state tensors, the KFAC inverses and the device the trainer created. */
  dispose(): void {
    this.#fngd?.dispose();
    this.#kfac?.dispose();
    if (this.#ownsDevice) this.#device?.destroy();
  }
}
