/**
 * The device-loss scenario both adapters' `test/device-loss.test.ts` run: a WebGPU linear-algebra device destroyed
 * between two steps, the next step that needs it throwing a typed `DeviceLostError` with the trainer as before,
 * and `useDevice(fresh)` resuming — on a fresh WebGPU device or on the CPU device — like a twin trained on the CPU
 * device without a loss. Each adapter supplies its trainer through a {@link LossAdapter}. Not a test file itself
 * (vitest includes `*.test.ts` only); type-checked with the repo's tools (`tsconfig.tools.json`).
 */
import { createDevice, DeviceLostError, LinalgDevice } from '@ifngd/linalg-gpu';
import { expect } from 'vitest';
import { WebGpuBackend } from '../../packages/linalg-gpu/src/webgpu/backend.js';

/** A WebGPU device and a `lose()` that destroys its GPUDevice under it (as a driver reset or another owner would). */
export interface LosableDevice {
  readonly device: LinalgDevice;
  lose(): void;
}

/** A WebGPU linear-algebra device the test can lose, on lavapipe in Node — made the way linalg-gpu's own device-loss tests make one. */
export async function losableDevice(): Promise<LosableDevice> {
  const backend = await WebGpuBackend.create({});
  return { device: new LinalgDevice(backend), lose: () => backend.ctx.device.destroy() };
}

/** The optimizers a device-loss test covers. */
export type LossKind = 'fngd' | 'kfac';

/** [kind, where it resumes]: every kind on a fresh WebGPU device and on the CPU device. */
export const RESUME_CASES = [
  ['fngd', 'webgpu'],
  ['fngd', 'cpu'],
  ['kfac', 'webgpu'],
  ['kfac', 'cpu'],
] as const;

/** [batchKey, epoch] of the steps before the loss. */
export const BEFORE: readonly [number, number][] = [[0, 0], [1, 0], [2, 0]];
/** The step that meets the loss: a new batch, so FNGD computes coefficients on the device; KFAC always uses it. */
export const LOST: [number, number] = [3, 0];
/** The steps after the loss (the lost one first), cached and new batches mixed. */
export const AFTER: readonly [number, number][] = [LOST, [0, 1], [1, 1], [4, 0], [2, 1], [3, 1]];

/** What the scenario needs of an adapter's trainer `T` and its snapshot `S`. */
export interface LossAdapter<T, S> {
  /** A trainer of `kind` on `device`, on the same model, weights and options each time. */
  create(kind: LossKind, device: LinalgDevice): Promise<T>;
  /** One training step on batch `key` at `epoch`. */
  step(t: T, key: number, epoch: number): Promise<unknown>;
  /** Everything a failed step must leave as it was: parameters, optimizer checkpoint (state and cache), stats, epoch…. */
  snapshot(t: T): Promise<S> | S;
  /** Asserts two snapshots are equal (as strictly as the adapter's own tests compare them). */
  expectSame(got: S, want: S): void;
  /** The parameters, flat, in a fixed order. */
  params(t: T): number[];
  /** The counters a resumed run and its twin must share exactly. */
  counters(t: T): Record<string, number>;
  /** The optimizer object (FNGD or KFAC): kept by a failed step, replaced by `useDevice`. */
  optimizer(t: T): object | null;
  useDevice(t: T, device: LinalgDevice): Promise<void>;
  dispose(t: T): Promise<void> | void;
  /** Framework resources the adapter tracks (tfjs: `tf.memory().numTensors`); absent when there are none. */
  live?(): number;
}

/** ‖a − b‖ / ‖b‖. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += ((a[i] as number) - (b[i] as number)) ** 2;
    den += (b[i] as number) ** 2;
  }
  return Math.sqrt(num / den);
}

/** Runs `steps` ([batchKey, epoch]) on `t` in order. */
export async function train<T>(adapter: LossAdapter<T, unknown>, t: T, steps: readonly [number, number][]): Promise<void> {
  for (const [k, epoch] of steps) await adapter.step(t, k, epoch);
}

/**
 * The whole scenario for one case: a trainer on a losable WebGPU device and a twin on `cpu` train {@link BEFORE};
 * the device is lost; the {@link LOST} step throws `DeviceLostError` (code `DEVICE_LOST`) with the snapshot, the
 * optimizer object and the tracked resources as before; `useDevice(lost)` is refused ("the device is lost") with
 * nothing changed; `useDevice(fresh)` (a new WebGPU device or `cpu`) changes no state and replaces the optimizer
 * object; both train {@link AFTER} to the same counters and parameters (relative error < 1e-5: the first steps ran
 * in float32 on the GPU) — parameters that did move. The fresh device stays the caller's.
 */
export async function loseAndResume<T, S>(adapter: LossAdapter<T, S>, kind: LossKind, target: 'webgpu' | 'cpu', cpu: LinalgDevice): Promise<void> {
  const lost = await losableDevice();
  const a = await adapter.create(kind, lost.device);
  const twin = await adapter.create(kind, cpu);
  await train(adapter, a, BEFORE);
  await train(adapter, twin, BEFORE);
  lost.lose();

  const before = await adapter.snapshot(a);
  const paramsBefore = adapter.params(a);
  const optimizer = adapter.optimizer(a);
  expect(optimizer).not.toBeNull();
  const resources = adapter.live?.();
  const err = await train(adapter, a, [LOST]).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DeviceLostError);
  expect((err as DeviceLostError).code).toBe('DEVICE_LOST');
  expect(lost.device.isLost).toBe(true);
  adapter.expectSame(await adapter.snapshot(a), before);
  expect(adapter.optimizer(a)).toBe(optimizer);
  expect(adapter.live?.()).toBe(resources);
  // the lost device cannot take the optimizer back
  await expect(adapter.useDevice(a, lost.device)).rejects.toThrow(/the device is lost/);
  adapter.expectSame(await adapter.snapshot(a), before);
  const resourcesIdle = adapter.live?.();

  const fresh = target === 'cpu' ? cpu : (await losableDevice()).device;
  await adapter.useDevice(a, fresh);
  expect(adapter.live?.()).toBe(resourcesIdle); // the old state released, the new in its place
  adapter.expectSame(await adapter.snapshot(a), before); // moving changes no state
  expect(adapter.optimizer(a)).not.toBe(optimizer);
  await train(adapter, a, AFTER);
  await train(adapter, twin, AFTER);
  expect(adapter.counters(a)).toEqual(adapter.counters(twin));
  expect(relErr(adapter.params(a), adapter.params(twin))).toBeLessThan(1e-5); // measured ≈ 1e-7
  expect(relErr(adapter.params(a), paramsBefore)).toBeGreaterThan(1e-3); // it did train on

  await Promise.all([adapter.dispose(a), adapter.dispose(twin)]);
  expect(fresh.destroyed).toBe(false); // the caller's device
  if (fresh !== cpu) fresh.destroy();
  lost.device.destroy();
}

/** A CPU linear-algebra device, destroyed: `useDevice` must refuse it. */
export async function destroyedDevice(): Promise<LinalgDevice> {
  const d = await createDevice({ backend: 'cpu' });
  d.destroy();
  return d;
}
