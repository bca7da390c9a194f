/**
 * The ONNX trainer's optimizer side: the registered optimizer the options name (`ifngd`'s optimizer contract —
 * FNGD by default, `kfac`, or any `optimizer: { kind, … }`) on a linear-algebra device (created by the trainer
 * unless `options.device` gives one), one step of it on a validated batch (`capture.ts`), and moving it to another
 * device (after a WebGPU device loss).
 * @module
 */
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { createOptimizer, hostTreeOps, type FngdOptimizer, type HostTree, type KfacOptimizer, type OptimizerEnv, type StepOutcome, type TrainingOptimizer } from 'ifngd';
import { InvalidOptionError } from './errors.js';
import type { ModelAnalysis } from './analyze.js';
import { OnnxCapture, type CaptureContext } from './capture.js';
import { kfacLayersOf } from './kfac.js';
import type { TrainerOptions } from './options.js';
import type { GradientPass } from './passes.js';

/** A step's context without the device (the engine supplies it). */
export type EngineStepContext = Omit<CaptureContext, 'device' | 'batchKey' | 'epoch'>;

/** What the trainer gives an optimizer: its device, host trees, and the model's Kronecker layers. */
export function optimizerEnv(an: ModelAnalysis, device: LinalgDevice): OptimizerEnv<HostTree> {
  const dims = new Map(an.params.map((p) => [p.name, p.dims]));
  // KFAC's layer specs, with each weight's out dimension
  const layers = kfacLayersOf(an).map((l) => {
    const d = dims.get(l.weight) ?? [];
    return { weight: l.weight, bias: l.bias ?? null, layout: l.layout, outputs: (l.layout === 'out-in' ? d[0] : d[d.length - 1]) ?? 1 };
  });
  // Gauss–Newton products: every loss here is named, on one output, and a step's forward is deterministic (its
  // Dropout masks are fed)
  return { device, ops: hostTreeOps, layers, leaves: an.params.map((p) => p.name), plain: [], secondMoments: false, sampledTargets: true, gaussNewton: true };
}

/** The optimizer of a trainer and the device it runs on. */
export class Engine {
  readonly #an: ModelAnalysis;
  readonly #o: TrainerOptions;
  #opt: TrainingOptimizer<HostTree>;
  #device: LinalgDevice;
  #ownsDevice: boolean;

  private constructor(an: ModelAnalysis, o: TrainerOptions, device: LinalgDevice, ownsDevice: boolean) {
    this.#an = an;
    this.#o = o;
    this.#opt = createOptimizer(o.optimizer, optimizerEnv(an, device));
    this.#device = device;
    this.#ownsDevice = ownsDevice;
  }

  /**
   * Creates the device (`createDevice({ backend: 'auto' })` unless `o.device`) and the optimizer (`ifngd`'s
   * `InvalidArgumentError` for bad values; the device it created is destroyed then).
   */
  static async create(an: ModelAnalysis, o: TrainerOptions): Promise<Engine> {
    const device = o.device ?? (await createDevice({ backend: 'auto' }));
    try {
      return new Engine(an, o, device, !o.device);
    } catch (e) {
      if (!o.device) device.destroy(); // e.g. an invalid optimizer option
      throw e;
    }
  }

  /** The optimizer as the contract drives it. */
  get training(): TrainingOptimizer<HostTree> {
    return this.#opt;
  }

  /** The FNGD optimizer; null unless training with FNGD. */
  get optimizer(): FngdOptimizer | null {
    return this.#opt.kind === 'fngd' ? (this.#opt.inner as FngdOptimizer) : null;
  }

  /** The KFAC optimizer; null unless training with KFAC. */
  get kfacOptimizer(): KfacOptimizer | null {
    return this.#opt.kind === 'kfac' ? (this.#opt.inner as KfacOptimizer) : null;
  }

  /** Starts the optimizer at `params`. */
  init(params: HostTree): Promise<void> {
    return this.#opt.init(params);
  }

  /**
   * One step (not committed: the caller takes the returned parameters, and the batch statistics the running ones
   * move towards — empty when the optimizer ran no gradient pass).
   */
  async step(cx: EngineStepContext, batchKey: string | number, epoch: number): Promise<{ outcome: StepOutcome<HostTree>; batchStats: GradientPass['batchStats'] }> {
    const capture = new OnnxCapture({ ...cx, device: this.#device, batchKey, epoch });
    try {
      const outcome = await this.#opt.step(capture);
      return { outcome, batchStats: capture.batchStats };
    } finally {
      capture.dispose();
    }
  }

  /** Throws `InvalidOptionError` (key `device`) unless `device` is a live linalg device (not destroyed, not lost). */
  static checkDevice(device: unknown): asserts device is LinalgDevice {
    const d = device as Partial<LinalgDevice> | null;
    const fail = (why: string): never => {
      throw new InvalidOptionError(`useDevice: ${why}`, { key: 'device', value: device });
    };
    if (typeof d !== 'object' || d === null || typeof d.matrix !== 'function' || typeof d.destroy !== 'function') fail('expected a @ifngd/linalg-gpu device');
    if (d!.destroyed) fail('the device was destroyed');
    if (d!.isLost) fail('the device is lost');
  }

  /**
   * Moves the optimizer to `device` (see {@link Engine.checkDevice}): a new optimizer on it, started at
   * `params`, takes the current one's checkpoint — state, coefficient cache, counters, KFAC's running averages
   * and inverses — so only device-resident state is dropped (KFAC's device copies of its inverses, uploaded again
   * by the next step). The old device is destroyed when the trainer created it. A throw changes nothing.
   */
  async useDevice(device: LinalgDevice, params: HostTree): Promise<void> {
    if (device === this.#device) return;
    const next = createOptimizer(this.#o.optimizer, optimizerEnv(this.#an, device));
    try {
      await next.init(params);
      next.restore(this.#opt.serialize());
    } catch (e) {
      next.dispose();
      throw e;
    }
    this.#opt.dispose();
    this.#opt = next;
    this.releaseDevice();
    this.#device = device;
    this.#ownsDevice = false;
  }

  /** Destroys the device when the trainer created it. */
  releaseDevice(): void {
    if (this.#ownsDevice) this.#device.destroy();
  }
}
