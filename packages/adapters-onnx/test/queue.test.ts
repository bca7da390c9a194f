/**
 * No reentrancy surprises: the trainer's asynchronous calls are queued and run in call order, so calls that are
 * not awaited give bit for bit what awaiting them in order gives (FNGD and KFAC; steps, evaluations, fits); a
 * failing call does not block the next; `onEpochEnd` may await calls on its trainer; `dispose()` rejects the
 * queued calls with `DisposedError` and releases the sessions after the running call.
 */
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DisposedError, OnnxTrainer, TargetError, type OnnxTrainerOptions } from '../src/index.js';
import { buildModel } from '../src/internal.js';
import { expectSame, snapshot, spyRuntime } from './harness.js';
import { testModels } from './models.js';
import { rng } from './reference.js';

const model = testModels(8)[0]!; // Gemm(transB, α, β) + Tanh + Gemm → softmax CE; input [4], 3 classes
const bytes = buildModel(model.spec);
const N = 6;

function batch(seed: number) {
  const r = rng(seed);
  return {
    x: new ort.Tensor('float32', Float32Array.from({ length: N * 4 }, () => r(1)), [N, 4]),
    t: new ort.Tensor('int64', BigInt64Array.from({ length: N }, (_, i) => BigInt((i + seed) % 3)), [N]),
  };
}
const batches = [batch(1), batch(2), batch(3)];

let device: LinalgDevice;
beforeAll(async () => {
  device = await createDevice({ backend: 'cpu' });
});
afterAll(() => device.destroy());

const CONFIGS = [
  ['FNGD', { learningRate: 0.3, damping: 0.1, momentum: 0.9 }],
  ['KFAC', { kfac: { learningRate: 0.2, damping: 0.01, factorEvery: 2, inverseEvery: 2 } }],
] as const;

describe.each(CONFIGS)('%s: calls run in call order', (_name, options) => {
  const make = () => OnnxTrainer.create(bytes, { loss: 'softmax-cross-entropy', device, ...(options as Partial<OnnxTrainerOptions>) });

  it('un-awaited steps, an evaluation and a prediction equal awaiting them in order, bit for bit', async () => {
    const [a, b] = [await make(), await make()];
    const pending = [
      a.step({ x: batches[0]!.x }, batches[0]!.t, { batchKey: 0 }),
      a.step({ x: batches[1]!.x }, batches[1]!.t, { batchKey: 1 }),
      a.evaluate({ x: batches[2]!.x }, batches[2]!.t),
      a.step({ x: batches[2]!.x }, batches[2]!.t, { batchKey: 2 }),
      a.predict({ x: batches[0]!.x }),
    ] as const;
    const got = await Promise.all(pending);
    const want = [
      await b.step({ x: batches[0]!.x }, batches[0]!.t, { batchKey: 0 }),
      await b.step({ x: batches[1]!.x }, batches[1]!.t, { batchKey: 1 }),
      await b.evaluate({ x: batches[2]!.x }, batches[2]!.t),
      await b.step({ x: batches[2]!.x }, batches[2]!.t, { batchKey: 2 }),
      await b.predict({ x: batches[0]!.x }),
    ] as const;
    expect(got.slice(0, 4)).toEqual(want.slice(0, 4));
    expect(Array.from(got[4].y!.data as Float32Array)).toEqual(Array.from(want[4].y!.data as Float32Array));
    expectSame(snapshot(a), snapshot(b));
    await Promise.all([a.dispose(), b.dispose()]);
  });

  it('an un-awaited fit followed by an un-awaited step equals awaiting them in order; a failing call does not block the next', async () => {
    const [a, b] = [await make(), await make()];
    const x = new ort.Tensor('float32', Float32Array.from([...(batches[0]!.x.data as Float32Array), ...(batches[1]!.x.data as Float32Array)]), [2 * N, 4]);
    const t = new ort.Tensor('int64', BigInt64Array.from([...(batches[0]!.t.data as BigInt64Array), ...(batches[1]!.t.data as BigInt64Array)]), [2 * N]);
    const fit = a.fit({ inputs: { x }, targets: t }, { epochs: 2, batchSize: 4, seed: 3 });
    const rejected = a.step({ x: batches[2]!.x }, batches[0]!.t.reshape([N, 1]), { batchKey: 9 });
    const step = a.step({ x: batches[2]!.x }, batches[2]!.t, { batchKey: 'after' });
    await expect(rejected).rejects.toBeInstanceOf(TargetError);
    const [hist, loss] = await Promise.all([fit, step]);
    const histB = await b.fit({ inputs: { x }, targets: t }, { epochs: 2, batchSize: 4, seed: 3 });
    expect([hist.epoch, hist.history]).toEqual([histB.epoch, histB.history]); // the logs' seconds differ
    expect(loss).toBe(await b.step({ x: batches[2]!.x }, batches[2]!.t, { batchKey: 'after' }));
    expectSame(snapshot(a), snapshot(b));
    await Promise.all([a.dispose(), b.dispose()]);
  });
});

describe('onEpochEnd and dispose', () => {
  const data = { inputs: { x: batches[0]!.x }, targets: batches[0]!.t };

  it('onEpochEnd may await an evaluation on its trainer: it runs at once, at the epoch-end parameters', async () => {
    const [a, b] = [await OnnxTrainer.create(bytes, { loss: 'softmax-cross-entropy', device }), await OnnxTrainer.create(bytes, { loss: 'softmax-cross-entropy', device })];
    const seen: number[] = [];
    const evaluate = async (t: OnnxTrainer) => (await t.evaluate({ x: batches[1]!.x }, batches[1]!.t)).loss;
    await a.fit(data, { epochs: 2, batchSize: 3, shuffle: false, onEpochEnd: async () => void seen.push(await evaluate(a)) });
    const want: number[] = [];
    for (let e = 0; e < 2; e++) {
      await b.fit(data, { epochs: 1, batchSize: 3, shuffle: false });
      want.push(await evaluate(b));
    }
    expect(seen).toEqual(want);
    expect(seen[1]).not.toBe(seen[0]);
    expectSame(snapshot(a), snapshot(b));
    await Promise.all([a.dispose(), b.dispose()]);
  });

  it('dispose() while calls are queued: the running call completes, the queued ones reject with DisposedError, then the sessions are released', async () => {
    const spy = spyRuntime();
    const a = await OnnxTrainer.create(bytes, { loss: 'softmax-cross-entropy', device, ort: spy.ort });
    const b = await OnnxTrainer.create(bytes, { loss: 'softmax-cross-entropy', device });
    let open!: () => void;
    spy.gate = new Promise((r) => (open = r));
    const running = a.step({ x: batches[0]!.x }, batches[0]!.t, { batchKey: 0 });
    await vi.waitFor(() => expect(spy.runs.factors).toBe(1)); // in flight, held at the gate
    const queued = [a.step({ x: batches[1]!.x }, batches[1]!.t, { batchKey: 1 }), a.evaluate({ x: batches[1]!.x }, batches[1]!.t), a.predict({ x: batches[1]!.x })];
    const disposal = a.dispose();
    expect(a.dispose()).toBe(disposal);
    await expect(a.step({ x: batches[1]!.x }, batches[1]!.t, { batchKey: 1 })).rejects.toBeInstanceOf(DisposedError);
    expect(spy.sessions.released).toBe(0); // the running step still holds them
    open();
    spy.gate = null;
    await expect(running).resolves.toBe(await b.step({ x: batches[0]!.x }, batches[0]!.t, { batchKey: 0 }));
    for (const q of queued) await expect(q).rejects.toBeInstanceOf(DisposedError);
    await disposal;
    expect(spy.sessions.released).toBe(spy.sessions.created);
    expect(a.params()).toEqual(b.params()); // the running step committed, nothing after it ran
    expect(() => a.exportModel()).toThrow(DisposedError);
    await b.dispose();
  });

  it('dispose() from onEpochEnd: the fit stops before its next step with DisposedError', async () => {
    const a = await OnnxTrainer.create(bytes, { loss: 'softmax-cross-entropy', device });
    const epochs: number[] = [];
    const fit = a.fit(data, { epochs: 3, batchSize: 3, onEpochEnd: async (e) => { epochs.push(e); await a.dispose(); } });
    await expect(fit).rejects.toBeInstanceOf(DisposedError);
    expect(epochs).toEqual([0]);
    expect(a.optimizer!.stats.steps).toBe(2);
  });
});
