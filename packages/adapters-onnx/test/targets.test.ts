/**
 * Targets are validated against the model output and the loss before anything runs: the accepted forms work
 * (class indices equal their one-hot encoding bit for bit), every other form is a `TargetError` naming both
 * dtypes and shapes — from `step`, `evaluate` and `fit` — with no session run and nothing changed.
 */
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnnxTrainer, TargetError } from '../src/index.js';
import { buildModel } from '../src/internal.js';
import { expectSame, snapshot, spyRuntime } from './harness.js';
import { testModels } from './models.js';
import { rng } from './reference.js';

const [ce, mse] = testModels(5); // CE: input [4] → [N,3]; MSE: input [3] → [N,2]
const N = 5;
const r = rng(3);
const xCe = new ort.Tensor('float32', Float32Array.from({ length: N * 4 }, () => r(1)), [N, 4]);
const xMse = new ort.Tensor('float32', Float32Array.from({ length: N * 3 }, () => r(1)), [N, 3]);
const f32 = (dims: number[], fill: (i: number) => number = () => 0) => new ort.Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => fill(i)), dims);
const i64 = (v: number[], dims = [v.length]) => new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), dims);
const i32 = (v: number[], dims = [v.length]) => new ort.Tensor('int32', Int32Array.from(v), dims);
const LABELS = [0, 2, 1, 1, 0];
const oneHot = f32([N, 3], (i) => (LABELS[Math.floor(i / 3)] === i % 3 ? 1 : 0));

let device: LinalgDevice;
beforeAll(async () => {
  device = await createDevice({ backend: 'cpu' });
});
afterAll(() => device.destroy());

describe('accepted targets', () => {
  it('softmax CE: int64 and int32 class indices [n] give the same step as their one-hot float32 [n,C], bit for bit; probabilities work', async () => {
    const make = () => OnnxTrainer.create(buildModel(ce!.spec), { loss: 'softmax-cross-entropy', device, learningRate: 0.3, damping: 0.1 });
    const [a, b, c] = await Promise.all([make(), make(), make()]);
    const la = await a.step({ x: xCe }, i64(LABELS), { batchKey: 0 });
    const lb = await b.step({ x: xCe }, i32(LABELS), { batchKey: 0 });
    const lc = await c.step({ x: xCe }, oneHot, { batchKey: 0 });
    expect([la, lb]).toEqual([lc, lc]);
    expectSame(snapshot(a), snapshot(c));
    expectSame(snapshot(b), snapshot(c));
    const probs = f32([N, 3], (i) => [0.2, 0.5, 0.3][i % 3]!);
    expect(Number.isFinite(await a.step({ x: xCe }, probs, { batchKey: 1 }))).toBe(true);
    await Promise.all([a.dispose(), b.dispose(), c.dispose()]);
  });

  it('MSE: float32 shaped like the output', async () => {
    const t = await OnnxTrainer.create(buildModel(mse!.spec), { loss: 'mse', device });
    expect(Number.isFinite(await t.step({ x: xMse }, f32([N, 2], (i) => i / 10), { batchKey: 0 }))).toBe(true);
    await t.dispose();
  });
});

type Case = readonly [name: string, targets: unknown, got: string];

const ceRejected: Case[] = [
  ['int64 index = C (out of range)', i64([0, 1, 3, 1, 0]), 'int64 [5]'],
  ['int64 index −1', i64([0, -1, 2, 1, 0]), 'int64 [5]'],
  ['int32 index 7', i32([0, 7, 2, 1, 0]), 'int32 [5]'],
  ['int64 index 2⁶³−1', new ort.Tensor('int64', BigInt64Array.from([0n, 9223372036854775807n, 0n, 0n, 0n]), [5]), 'int64 [5]'],
  ['int64 [n−1] (n mismatch)', i64([0, 1, 2, 1]), 'int64 [4]'],
  ['int64 [n,1] (wrong rank)', i64(LABELS, [N, 1]), 'int64 [5,1]'],
  ['int64 scalar', i64([1], []), 'int64 []'],
  ['float32 [n] (float indices)', f32([N], (i) => LABELS[i]!), 'float32 [5]'],
  ['float32 [n] non-integer', f32([N], () => 0.5), 'float32 [5]'],
  ['float32 [n,1]', f32([N, 1]), 'float32 [5,1]'],
  ["float32 [n,C'] C'=4", f32([N, 4]), 'float32 [5,4]'],
  ['float32 [n+1,C]', f32([N + 1, 3]), 'float32 [6,3]'],
  ['float32 [n,C,1]', f32([N, 3, 1]), 'float32 [5,3,1]'],
  ['float32 NaN', f32([N, 3], (i) => (i === 7 ? NaN : 0)), 'float32 [5,3]'],
  ['float32 +Infinity', f32([N, 3], (i) => (i === 2 ? Infinity : 0)), 'float32 [5,3]'],
  ['float32 negative probability', f32([N, 3], (i) => (i === 4 ? -0.5 : 0)), 'float32 [5,3]'],
  ['float64 [n,C]', new ort.Tensor('float64', new Float64Array(N * 3), [N, 3]), 'float64 [5,3]'],
  ['uint8 [n]', new ort.Tensor('uint8', Uint8Array.from(LABELS), [N]), 'uint8 [5]'],
  ['data shorter than dims', { type: 'float32', dims: [N, 3], data: new Float32Array(14) }, 'float32 [5,3]'],
];

const mseRejected: Case[] = [
  ['int64 [n]', i64(LABELS), 'int64 [5]'],
  ['int32 [n,2]', i32(Array(10).fill(0), [N, 2]), 'int32 [5,2]'],
  ['float32 [n]', f32([N]), 'float32 [5]'],
  ['float32 [n,1]', f32([N, 1]), 'float32 [5,1]'],
  ['float32 [n,3]', f32([N, 3]), 'float32 [5,3]'],
  ['float32 [n−1,2]', f32([N - 1, 2]), 'float32 [4,2]'],
  ['float32 NaN', f32([N, 2], (i) => (i === 9 ? NaN : 0)), 'float32 [5,2]'],
  ['float32 −Infinity', f32([N, 2], (i) => (i === 0 ? -Infinity : 0)), 'float32 [5,2]'],
  ['float64 [n,2]', new ort.Tensor('float64', new Float64Array(N * 2), [N, 2]), 'float64 [5,2]'],
];

describe.each([
  ['softmax-cross-entropy', ce!, xCe, '[5,3]', ceRejected],
  ['mse', mse!, xMse, '[5,2]', mseRejected],
] as const)('rejected targets under %s', (loss, model, x, outDims, cases) => {
  it.each(cases)('%s → TargetError naming both; nothing ran, nothing changed (step, evaluate, fit)', async (_name, targets, got) => {
    const spy = spyRuntime();
    const t = await OnnxTrainer.create(buildModel(model.spec), { loss, device, ort: spy.ort, learningRate: 0.3, damping: 0.1 });
    await t.step({ x }, loss === 'mse' ? f32([N, 2]) : oneHot, { batchKey: 0 }); // sessions exist, state non-trivial
    const before = snapshot(t);
    const runs = { ...spy.runs };
    const calls = [
      () => t.step({ x }, targets as ort.Tensor, { batchKey: 1 }),
      () => t.evaluate({ x }, targets as ort.Tensor),
      () => t.fit({ inputs: { x }, targets: targets as ort.Tensor }, { epochs: 1, batchSize: 2 }),
    ];
    for (const call of calls) {
      const err = await call().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TargetError);
      const e = err as TargetError;
      expect(e.code).toBe('INVALID_TARGET');
      expect(e.message).toContain(`targets ${got}`);
      expect(e.message).toContain(`float32 ${outDims}`);
      expect(e.message).toContain(loss);
      expect(e.output).toEqual({ dtype: 'float32', shape: JSON.parse(outDims) });
      expect(`${e.targets!.dtype} [${e.targets!.shape.join(',')}]`).toBe(got);
      expect(spy.runs).toEqual(runs);
      expectSame(snapshot(t), before);
    }
    await t.dispose();
  });

  it('not a tensor → TargetError naming the output', async () => {
    const t = await OnnxTrainer.create(buildModel(model.spec), { loss, device });
    for (const bad of [null, undefined, {}, [1, 2], 'labels']) {
      const err = await t.step({ x }, bad as never, { batchKey: 0 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TargetError);
      expect((err as Error).message).toContain(`float32 ${outDims}`);
    }
    await t.dispose();
  });
});
