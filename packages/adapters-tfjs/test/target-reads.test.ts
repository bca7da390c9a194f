/**
 * `trainBatch` checks its targets' values without a read of its own on FNGD and KFAC: the check runs on the
 * backend and rides on the read the step makes anyway to decide whether it commits. A cached FNGD step reads
 * once; bad values (NaN, class indices out of range) throw the same `TargetError` as before with nothing
 * committed — variables, optimizer state and cache (checkpoint bytes), stats, epoch and plan bit for bit as an
 * undisturbed twin's, `tf.memory().numTensors` unchanged — also where the step itself would have failed or
 * skipped (a new batch's coefficients, `onNonFinite: 'skip'`).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { FngdTrainer, TargetError, type FngdTrainerOptions } from '../src/index.js';
import { classData, mlp, useCpu } from './helpers.js';
import { optionsOf, snapshot, twins, twinView, type Kind } from './twin.js';

beforeAll(useCpu);
afterEach(() => {
  vi.restoreAllMocks();
});

/** Counts the host reads of tfjs tensors during `f`: awaited (`data()`, backend `read`) and synchronous. */
async function countReads<T>(f: () => Promise<T>): Promise<{ result: T; data: number[]; sync: number; backendRead: number; backendReadSync: number }> {
  const data: number[] = [];
  let sync = 0;
  const origData = tf.Tensor.prototype.data;
  const origSync = tf.Tensor.prototype.dataSync;
  vi.spyOn(tf.Tensor.prototype, 'data').mockImplementation(function (this: Tensor) {
    data.push(this.size);
    return origData.call(this);
  } as typeof origData);
  vi.spyOn(tf.Tensor.prototype, 'dataSync').mockImplementation(function (this: Tensor) {
    sync++;
    return origSync.call(this);
  } as typeof origSync);
  const backend = tf.backend();
  const read = vi.spyOn(backend, 'read');
  const readSync = vi.spyOn(backend, 'readSync');
  try {
    const result = await f();
    return { result, data, sync, backendRead: read.mock.calls.length, backendReadSync: readSync.mock.calls.length };
  } finally {
    vi.restoreAllMocks();
  }
}

const fngdOptions = (extra: object = {}): FngdTrainerOptions => ({
  loss: 'softmax-cross-entropy',
  fngd: { learningRate: 0.2, damping: 1, momentum: 0.9, mode: 'global', refresh: 'first-epoch', ...extra },
});

describe('reads per trainBatch', () => {
  it.each([
    ['one-hot targets', false],
    ['int32 class indices', true],
  ] as const)('a cached FNGD step reads once, its target check included (%s)', async (_name, indices) => {
    const [x, y] = classData(12, [6], 3, 4);
    const yt = indices ? tf.tidy(() => tf.cast(tf.argMax(y, 1), 'int32')) : y;
    const tr = await FngdTrainer.create(mlp(6, 5, 3, 21), fngdOptions());
    await tr.trainBatch(x, yt, { batchKey: 'k', epoch: 0 }); // a miss: computes and caches the coefficients
    const tensors = tf.memory().numTensors;
    const r = await countReads(() => tr.trainBatch(x, yt, { batchKey: 'k', epoch: 1 }));
    expect(r.result.fresh).toBe(false);
    expect(tr.stats!.cacheHits).toBe(1);
    // one awaited read: [targets ok, Σℓ, finite(p), finite(p'), ‖d‖, guard factor, capped count]; nothing synchronous
    // (class indices: [ok, first bad sample, its index's high and low 16 bits] in place of [ok])
    expect(r.data).toEqual([indices ? 10 : 7]);
    expect(r.backendRead).toBe(1);
    expect(r.sync).toBe(0);
    expect(r.backendReadSync).toBe(r.backendRead); // the CPU backend's `read` is its `readSync`: nothing else
    expect(tf.memory().numTensors).toBe(tensors);
    tr.dispose();
    tf.dispose([x, y, yt]);
  });

  it('a KFAC step between factor updates reads gradients, parameters, the target check and Σℓ in one read', async () => {
    const [x, y] = classData(12, [6], 3, 4);
    const tr = await FngdTrainer.create(mlp(6, 5, 3, 21), { loss: 'softmax-cross-entropy', kfac: { learningRate: 0.1, damping: 0.1, factorEvery: 2, inverseEvery: 2 } });
    await tr.trainBatch(x, y, { batchKey: 0 }); // factors due
    expect(tr.kfacOptimizer!.factorsDue).toBe(false);
    const params = tr.model.variables.reduce((s, v) => s + v.size, 0);
    const r = await countReads(() => tr.trainBatch(x, y, { batchKey: 0 }));
    expect(r.data).toEqual([2 * params + 2]);
    expect(r.backendRead).toBe(1);
    expect(r.sync).toBe(0);
    tr.dispose();
    tf.dispose([x, y]);
  });

  it('a baseline (tfjs optimizer) still checks the values before its step: two reads', async () => {
    const [x, y] = classData(12, [6], 3, 4);
    const tr = await FngdTrainer.create(mlp(6, 5, 3, 21), optionsOf('adam', 'softmax-cross-entropy'));
    await tr.trainBatch(x, y, { batchKey: 0 });
    const r = await countReads(() => tr.trainBatch(x, y, { batchKey: 0 }));
    expect(r.data).toEqual([1, 1 + tr.model.variables.length]); // targets finite; [loss, finite(g)…]
    tr.dispose();
    tf.dispose([x, y]);
  });
});

type Bad = 'NaN targets' | '+Infinity target' | 'class index 3' | 'class index -1' | 'class index 100000' | 'class index -2147483648';
const BAD: readonly Bad[] = ['NaN targets', '+Infinity target', 'class index 3', 'class index -1', 'class index 100000', 'class index -2147483648'];

/** Bad targets for the 12-sample, 3-class twins, and the `TargetError` message they must throw. */
function badTargets(bad: Bad, n: number): { y: Tensor; message: string } {
  const out = `the model output float32[${n},3]`;
  if (bad === 'NaN targets' || bad === '+Infinity target') {
    const v = bad === 'NaN targets' ? NaN : Infinity;
    const y = tf.tidy(() => tf.add(tf.cast(tf.oneHot(tf.tensor1d(Array.from({ length: n }, (_, i) => i % 3), 'int32'), 3), 'float32'), tf.mul(tf.reshape(tf.oneHot(tf.tensor1d([4], 'int32'), n * 3), [n, 3]), tf.scalar(v))));
    return { y, message: `trainBatch: targets float32[${n},3] do not fit ${out}: targets hold NaN or ±Infinity` };
  }
  const c = Number(bad.slice('class index '.length));
  // the first bad sample is reported: sample 3 here, sample 7 bad too
  const y = tf.tensor1d(Array.from({ length: n }, (_, i) => (i === 3 ? c : i === 7 ? 5 : i % 3)), 'int32');
  return { y, message: `trainBatch: targets int32[${n}] do not fit ${out}: class index ${c} of sample 3 is outside [0, 3)` };
}

describe.each(['fngd', 'fngd-layerwise', 'kfac'] as const)('%s: bad target values through trainBatch', (kind: Kind) => {
  it.each(BAD.flatMap((b) => [[b, 'k'] as const, [b, 'new'] as const]))('%s (batch %s): TargetError, nothing changed vs an undisturbed twin', async (bad, key) => {
    const { a, b, x, y, dispose } = await twins(kind, 'softmax-cross-entropy');
    const n = x.shape[0] as number;
    const t = badTargets(bad, n);
    const want = await snapshot(a);
    expect(await twinView(a)).toEqual(await twinView(b));
    const tensors = tf.memory().numTensors;
    const err = await a.trainBatch(x, t.y, { batchKey: key, epoch: 1 }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(TargetError);
    expect((err as TargetError).message).toBe(t.message);
    expect((err as TargetError).targets).toEqual({ shape: t.y.shape, dtype: t.y.dtype });
    expect((err as TargetError).output).toEqual({ shape: [n, 3], dtype: 'float32' });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(await snapshot(a)).toEqual(want);
    // both continue identically
    await a.trainBatch(x, y, { batchKey: 'k', epoch: 1 });
    await b.trainBatch(x, y, { batchKey: 'k', epoch: 1 });
    expect(await twinView(a)).toEqual(await twinView(b));
    t.y.dispose();
    dispose();
  });
});

describe("FNGD with onNonFinite: 'skip'", () => {
  it.each(['k', 'new'])('NaN targets (batch %s) throw TargetError instead of a counted skip; nothing changes', async (key) => {
    const [x, y] = classData(12, [6], 3, 4);
    const opts = fngdOptions({ onNonFinite: 'skip' });
    const a = await FngdTrainer.create(mlp(6, 5, 3, 21), opts);
    const b = await FngdTrainer.create(mlp(6, 5, 3, 21), opts);
    for (const t of [a, b]) await t.trainBatch(x, y, { batchKey: 'k', epoch: 0 });
    const want = await snapshot(a);
    const bad = badTargets('NaN targets', 12);
    const tensors = tf.memory().numTensors;
    await expect(a.trainBatch(x, bad.y, { batchKey: key, epoch: 1 })).rejects.toThrow(bad.message);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(await snapshot(a)).toEqual(want);
    expect(a.stats!.skippedSteps).toBe(0);
    for (const t of [a, b]) await t.trainBatch(x, y, { batchKey: 'k', epoch: 1 });
    expect(await twinView(a)).toEqual(await twinView(b));
    a.dispose();
    b.dispose();
    tf.dispose([x, y, bad.y]);
  });
});
