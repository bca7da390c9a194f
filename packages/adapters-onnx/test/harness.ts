/**
 * Test harness for the trainer's trust tests: an ONNX Runtime that counts (and on demand fails) session runs
 * per training graph, a device whose uploaded matrices are tracked, and bit-exact snapshots of a trainer.
 */
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import type { HostTree } from 'ifngd';
import * as ort from 'onnxruntime-node';
import { expect, vi } from 'vitest';
import { NAMES } from '../src/builder.js';
import type { OnnxTrainer, OrtRuntime } from '../src/index.js';

/** The trainer's graphs (`evaluate`: the inference forward pass with the losses; `forward` either forward pass). */
export type GraphKind = 'factors' | 'gradients' | 'evaluate' | 'forward';

/** An `ort` module whose sessions count their runs and fail on demand. */
export interface SpyRuntime {
  readonly ort: OrtRuntime;
  /** Runs started, per graph. */
  readonly runs: Record<GraphKind, number>;
  /** Sessions created and released. */
  readonly sessions: { created: number; released: number };
  /** The graph whose runs reject (with an `Error` saying "injected"), or null. */
  fail: GraphKind | null;
  /** When set, every run waits for this promise first (to hold calls in flight). */
  gate: Promise<void> | null;
}

/** A fresh {@link SpyRuntime} over onnxruntime-node. */
export function spyRuntime(): SpyRuntime {
  const spy: SpyRuntime = {
    runs: { factors: 0, gradients: 0, evaluate: 0, forward: 0 },
    sessions: { created: 0, released: 0 },
    fail: null,
    gate: null,
    ort: {
      Tensor: ort.Tensor,
      InferenceSession: {
        async create(bytes, options) {
          const s = await ort.InferenceSession.create(bytes, options);
          spy.sessions.created++;
          const out = s.outputNames;
          const kind: GraphKind = out.includes(NAMES.factorInputs(0))
            ? 'factors'
            : out.some((o) => o.startsWith(NAMES.grad('')))
              ? 'gradients'
              : out.includes(NAMES.losses)
                ? 'evaluate'
                : 'forward';
          return new Proxy(s, {
            get(target, prop) {
              if (prop === 'run') {
                return async (...args: Parameters<typeof target.run>) => {
                  spy.runs[kind]++;
                  if (spy.gate) await spy.gate;
                  if (spy.fail === kind) throw new Error(`injected ${kind} session failure`);
                  return target.run(...args);
                };
              }
              if (prop === 'release') {
                return async () => {
                  spy.sessions.released++;
                  await target.release();
                };
              }
              const v: unknown = Reflect.get(target, prop, target);
              return typeof v === 'function' ? v.bind(target) : v;
            },
          });
        },
      },
    },
  };
  return spy;
}

/** Records every matrix `device.matrix` uploads (the adapter's factor uploads); `live()` lists those not disposed. */
export function trackUploads(device: LinalgDevice): { live(): Matrix[]; restore(): void } {
  const made: Matrix[] = [];
  const original = device.matrix.bind(device);
  const spy = vi.spyOn(device, 'matrix').mockImplementation((data, shape) => {
    const m = original(data, shape);
    made.push(m);
    return m;
  });
  return { live: () => made.filter((m) => !m.isDisposed), restore: () => spy.mockRestore() };
}

/** Everything a rejected step must leave as it was. */
export interface Snapshot {
  readonly params: HostTree;
  /** The optimizer's checkpoint (state, counters, FNGD's coefficient cache). */
  readonly state: Uint8Array;
  readonly stats: string;
  readonly epoch: number;
}

/** A bit-exact snapshot of a trainer (FNGD or KFAC). */
export function snapshot(t: OnnxTrainer): Snapshot {
  const opt = t.optimizer ?? t.kfacOptimizer!;
  return { params: t.params(), state: opt.serialize(), stats: JSON.stringify(opt.stats), epoch: t.epoch };
}

const bits = (p: HostTree): Record<string, number[]> =>
  Object.fromEntries(Object.entries(p).map(([k, v]) => [k, Array.from(new Uint32Array((v as Float32Array).slice().buffer))]));

/** Asserts two snapshots are equal bit for bit (parameters compared as their float32 bit patterns). */
export function expectSame(got: Snapshot, want: Snapshot): void {
  expect(bits(got.params)).toEqual(bits(want.params));
  expect(Buffer.from(got.state).equals(Buffer.from(want.state))).toBe(true);
  expect(got.stats).toBe(want.stats);
  expect(got.epoch).toBe(want.epoch);
}
