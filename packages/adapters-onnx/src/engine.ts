/**
 * The ONNX trainer's optimizer side: FNGD or KFAC (`ifngd`) on a linear-algebra device (created by the trainer
 * unless `options.device` gives one), one step of it on a validated batch (`steps.ts`), and moving it to another
 * device (after a WebGPU device loss).
 * @module
 */
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { fngd, kfac, KfacOptimizer, type FngdOptimizer, type HostTree } from 'ifngd';
import { InvalidOptionError } from './errors.js';
import type { ModelAnalysis } from './analyze.js';
import { kfacLayersOf } from './kfac.js';
import type { TrainerOptions } from './options.js';
import { fngdStep, kfacStep, type StepContext, type StepResult } from './steps.js';

/** A step's context without the device (the engine supplies it). */
export type EngineStepContext = Omit<StepContext, 'device'>;

/** The optimizer of a trainer and the device it runs on. */
export class Engine {
  readonly #an: ModelAnalysis;
  readonly #o: TrainerOptions;
  #opt: FngdOptimizer | KfacOptimizer;
  #device: LinalgDevice;
  #ownsDevice: boolean;

  private constructor(an: ModelAnalysis, o: TrainerOptions, device: LinalgDevice, ownsDevice: boolean) {
    this.#an = an;
    this.#o = o;
    this.#opt = Engine.#optimizer(an, o, device);
    this.#device = device;
    this.#ownsDevice = ownsDevice;
  }

  static #optimizer(an: ModelAnalysis, o: TrainerOptions, device: LinalgDevice): FngdOptimizer | KfacOptimizer {
    return o.kfac === undefined ? fngd({ ...o.fngd, device }) : kfac({ ...o.kfac, device, layers: kfacLayersOf(an) });
  }

  /**
   * Creates the device (`createDevice({ backend: 'auto' })` unless `o.device`) and the optimizer (`ifngd`'s
   * `InvalidArgumentError` for bad values; the device it created is destroyed then).
   */
  static async create(an: ModelAnalysis, o: TrainerOptions): Promise<Engine> {
    const device = o.device ?? (await createDevice({ backend: 'auto' }));
    try {
      return new Engine(an, { ...o, fngd: { ...o.fngd }, ...(o.kfac ? { kfac: { ...o.kfac } } : {}) }, device, !o.device);
    } catch (e) {
      if (!o.device) device.destroy(); // e.g. an invalid FNGD option
      throw e;
    }
  }

  /** The FNGD optimizer; null when training with KFAC. */
  get optimizer(): FngdOptimizer | null {
    return this.#opt instanceof KfacOptimizer ? null : this.#opt;
  }

  /** The KFAC optimizer; null when training with FNGD. */
  get kfacOptimizer(): KfacOptimizer | null {
    return this.#opt instanceof KfacOptimizer ? this.#opt : null;
  }

  /** Starts the optimizer at `params`. */
  init(params: HostTree): void {
    this.#opt.init(params);
  }

  /** One step (not committed: the caller takes the returned parameters). */
  step(cx: EngineStepContext, batchKey: string | number, epoch: number): Promise<StepResult> {
    const full = { ...cx, device: this.#device };
    return this.#opt instanceof KfacOptimizer ? kfacStep(this.#opt, full) : fngdStep(this.#opt, full, batchKey, epoch);
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
  useDevice(device: LinalgDevice, params: HostTree): void {
    if (device === this.#device) return;
    const next = Engine.#optimizer(this.#an, this.#o, device);
    next.init(params);
    next.restore(this.#opt.serialize());
    if (this.#opt instanceof KfacOptimizer) this.#opt.dispose();
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
