/**
 * Options are validated at creation (and at `step`/`fit`): `InvalidOptionError` naming the key and the value —
 * unknown keys included — before any session or device exists; a bad `learningRate` is `ifngd`'s
 * `InvalidArgumentError` (the core validates optimizer values). Bad `fit`/`step` options change nothing.
 */
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { InvalidArgumentError } from 'ifngd';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionError, OnnxTrainer } from '../src/index.js';
import { buildModel } from '../src/internal.js';
import { expectSame, snapshot, spyRuntime } from './harness.js';
import { testModels } from './models.js';
import { rng } from './reference.js';

const model = testModels(2)[0]!; // input [4], 3 classes
const bytes = buildModel(model.spec);
const N = 4;
const r = rng(9);
const x = new ort.Tensor('float32', Float32Array.from({ length: N * 4 }, () => r(1)), [N, 4]);
const labels = new ort.Tensor('int64', BigInt64Array.from([0n, 1n, 2n, 1n]), [N]);

let device: LinalgDevice;
beforeAll(async () => {
  device = await createDevice({ backend: 'cpu' });
});
afterAll(() => device.destroy());

const CE = 'softmax-cross-entropy';

describe('OnnxTrainer.create', () => {
  it.each([
    ['an unknown key (a typo)', { loss: CE, lr: 0.1 }, 'lr', 0.1],
    ['`ops` (set by the trainer)', { loss: CE, ops: {} }, 'ops', {}],
    ['`layers` at the top level', { loss: CE, layers: [] }, 'layers', []],
    ['a bad loss', { loss: 'hinge' }, 'loss', 'hinge'],
    ['a missing loss', {}, 'loss', undefined],
    ['an empty output name', { loss: CE, output: '' }, 'output', ''],
    ['an output that is not a string', { loss: CE, output: 3 }, 'output', 3],
    ['a device that is not one', { loss: CE, device: {} }, 'device', {}],
    ['sessionOptions not an object', { loss: CE, sessionOptions: 'webgpu' }, 'sessionOptions', 'webgpu'],
    ['an ort that is not a runtime', { loss: CE, ort: { InferenceSession: {} } }, 'ort', { InferenceSession: {} }],
    ['kfac not an object', { loss: CE, kfac: true }, 'kfac', true],
    ['kfac.layers', { loss: CE, kfac: { layers: [] } }, 'kfac.layers', []],
    ['kfac beside an FNGD option', { loss: CE, kfac: {}, damping: 0.1 }, 'damping', 0.1],
  ])('%s → InvalidOptionError naming key and value, before any session', async (_name, options, key, value) => {
    const spy = spyRuntime();
    const err = await OnnxTrainer.create(bytes, { device, ort: spy.ort, ...(options as object) } as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidOptionError);
    const e = err as InvalidOptionError;
    expect(e.key).toBe(key);
    expect(e.value).toEqual(value);
    expect(e.message).toContain(key);
    expect(spy.sessions.created).toBe(0);
  });

  it.each([null, 'mse', [], 7])('options %j → InvalidOptionError', async (options) => {
    const err = await OnnxTrainer.create(bytes, options as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as InvalidOptionError).key).toBe('options');
  });

  it.each([0, -0.1, NaN, Infinity, -Infinity])('learningRate %s → ifngd InvalidArgumentError (FNGD and KFAC), before any session', async (lr) => {
    const spy = spyRuntime();
    await expect(OnnxTrainer.create(bytes, { loss: CE, device, ort: spy.ort, learningRate: lr })).rejects.toThrow(InvalidArgumentError);
    await expect(OnnxTrainer.create(bytes, { loss: CE, device, ort: spy.ort, kfac: { learningRate: lr } })).rejects.toThrow(InvalidArgumentError);
    expect(spy.sessions.created).toBe(0);
  });

  it('every FNGD option is accepted at the top level', async () => {
    const t = await OnnxTrainer.create(bytes, {
      loss: CE,
      device,
      learningRate: 0.1,
      damping: 0.5,
      mode: 'layerwise',
      refresh: 'first-epoch',
      momentum: 0.5,
      weightDecay: 0.001,
      clipNorm: 10,
      guard: { factor: 2 },
      adaptiveDamping: {},
      onNonFinite: 'skip',
      maxJitterRetries: 2,
      output: 'y',
      sessionOptions: { executionProviders: ['cpu'] },
    });
    expect(t.optimizer!.mode).toBe('layerwise');
    await t.dispose();
  });
});

describe('step and fit options', () => {
  it.each([
    ['fit: an unknown key', (t: OnnxTrainer) => t.fit({ inputs: { x }, targets: labels }, { epochs: 1, batchSize: 2, epoch: 3 } as never), 'fit.epoch', 3],
    ['fit: batchSize 0', (t: OnnxTrainer) => t.fit({ inputs: { x }, targets: labels }, { epochs: 1, batchSize: 0 }), 'fit.batchSize', 0],
    ['fit: epochs 1.5', (t: OnnxTrainer) => t.fit({ inputs: { x }, targets: labels }, { epochs: 1.5, batchSize: 2 }), 'fit.epochs', 1.5],
    ['fit: shuffle "yes"', (t: OnnxTrainer) => t.fit({ inputs: { x }, targets: labels }, { epochs: 1, batchSize: 2, shuffle: 'yes' as never }), 'fit.shuffle', 'yes'],
    ['fit: seed 0.5', (t: OnnxTrainer) => t.fit({ inputs: { x }, targets: labels }, { epochs: 1, batchSize: 2, seed: 0.5 }), 'fit.seed', 0.5],
    ['fit: onEpochEnd not a function', (t: OnnxTrainer) => t.fit({ inputs: { x }, targets: labels }, { epochs: 1, batchSize: 2, onEpochEnd: 1 as never }), 'fit.onEpochEnd', 1],
    ['fit: no dataset', (t: OnnxTrainer) => t.fit(null as never, { epochs: 1, batchSize: 2 }), 'fit.data', null],
    ['step: an unknown key', (t: OnnxTrainer) => t.step({ x }, labels, { batchKey: 1, bachKey: 2 } as never), 'step.bachKey', 2],
    ['step: options not an object', (t: OnnxTrainer) => t.step({ x }, labels, 1 as never), 'step', 1],
  ])('%s → InvalidOptionError naming key and value; nothing ran, nothing changed', async (_name, call, key, value) => {
    const spy = spyRuntime();
    const t = await OnnxTrainer.create(bytes, { loss: CE, device, ort: spy.ort });
    await t.step({ x }, labels, { batchKey: 0 });
    const before = snapshot(t);
    const runs = { ...spy.runs };
    const err = await call(t).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as InvalidOptionError).key).toBe(key);
    expect((err as InvalidOptionError).value).toEqual(value);
    expect(spy.runs).toEqual(runs);
    expectSame(snapshot(t), before);
    await t.dispose();
  });
});
