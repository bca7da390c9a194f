/**
 * The ONNX trainer's optimizer side: FNGD or KFAC (`ifngd`) on a linear-algebra device (created by the trainer
 * unless `options.device` gives one), and one step of it on a validated batch (`steps.ts`).
 * @module
 */
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { fngd, kfac, KfacOptimizer, type FngdOptimizer, type HostTree } from 'ifngd';
import type { ModelAnalysis } from './analyze.js';
import { kfacLayersOf } from './kfac.js';
import type { TrainerOptions } from './options.js';
import { fngdStep, kfacStep, type StepContext, type StepResult } from './steps.js';

/** A step's context without the device (the engine supplies it). */
export type EngineStepContext = Omit<StepContext, 'device'>;

/** The optimizer of a trainer and the device it runs on. */
export class Engine {
  readonly #opt: FngdOptimizer | KfacOptimizer;
  readonly #device: LinalgDevice;
  readonly #ownsDevice: boolean;

  private constructor(opt: FngdOptimizer | KfacOptimizer, device: LinalgDevice, ownsDevice: boolean) {
    this.#opt = opt;
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
      const opt = o.kfac === undefined ? fngd({ ...o.fngd, device }) : kfac({ ...o.kfac, device, layers: kfacLayersOf(an) });
      return new Engine(opt, device, !o.device);
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

  /** Destroys the device when the trainer created it. */
  releaseDevice(): void {
    if (this.#ownsDevice) this.#device.destroy();
  }
}
