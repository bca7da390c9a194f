/**
 * Every registered optimizer through `OnnxTrainer` (`optimizer: { kind, … }`, `ifngd`'s contract): a step is the
 * optimizer's rule on the gradient graph's mean gradient, each kind trains a small problem, checkpoints continue
 * bit-identically on a new trainer, a device move keeps the trajectory, and the option errors name their key.
 */
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { InvalidArgumentError, type HostTree, type OptimizerSpec } from 'ifngd';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeModel } from '../src/analyze.js';
import { buildGraph, NAMES } from '../src/builder.js';
import { InvalidOptionError, OnnxTrainer } from '../src/index.js';
import { buildModel } from '../src/internal.js';
import { decodeModel, tensorFloats } from '../src/proto.js';
import { testModels } from './models.js';
import { rng } from './reference.js';

const m = testModels(4)[0]!; // Gemm(transB, α, β) + Tanh + Gemm → softmax cross-entropy
const bytes = buildModel(m.spec);
let device: LinalgDevice;
beforeAll(async () => {
  device = await createDevice({ backend: 'cpu' });
});
afterAll(() => device.destroy());

/** A learnable rule: the class is the index of the largest of the first three inputs. */
function data(n: number, seed: number): { x: ort.Tensor; t: ort.Tensor } {
  const r = rng(seed);
  const xs = Float32Array.from({ length: n * 4 }, () => r(1));
  const t = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    const row = Array.from(xs.subarray(i * 4, i * 4 + 3));
    t[i * 3 + row.indexOf(Math.max(...row))] = 1;
  }
  return { x: new ort.Tensor('float32', xs, [n, 4]), t: new ort.Tensor('float32', t, [n, 3]) };
}

/** The mean-loss gradient at the model's initial parameters, from the gradient graph run directly. */
async function meanGradient(b: { x: ort.Tensor; t: ort.Tensor }): Promise<{ params: HostTree; grads: HostTree }> {
  const an = analyzeModel(decodeModel(bytes));
  const s = await ort.InferenceSession.create(buildGraph(an, m.loss, 'gradients').bytes);
  const params: HostTree = Object.fromEntries(an.params.map((p) => [p.name, tensorFloats(an.initializers.get(p.name)!)]));
  const n = b.x.dims[0]!;
  const out = await s.run({
    x: b.x,
    [NAMES.target]: b.t,
    ...Object.fromEntries(an.params.map((q) => [q.name, new ort.Tensor('float32', params[q.name] as Float32Array, q.dims)])),
    [NAMES.alpha]: new ort.Tensor('float32', new Float32Array(an.layers.length * n).fill(1 / n), [an.layers.length, n]),
  });
  await s.release();
  return { params, grads: Object.fromEntries(an.params.map((q) => [q.name, out[NAMES.grad(q.name)]!.data as Float32Array])) };
}

describe('registered optimizers in the ONNX trainer', () => {
  it('an sgd step is θ − η·(mean gradient of the gradient graph)', async () => {
    const b = data(10, 1);
    const tr = await OnnxTrainer.create(bytes, { loss: m.loss, device, optimizer: { kind: 'sgd', learningRate: 0.5 } });
    expect(tr.optimizer).toBeNull();
    expect(tr.kfacOptimizer).toBeNull();
    expect(tr.trainingOptimizer.kind).toBe('sgd');
    await tr.step({ x: b.x }, b.t, { batchKey: 'b' });
    const { params, grads } = await meanGradient(b);
    const got = tr.params();
    for (const k of Object.keys(params)) {
      const want = params[k]!.map((p, i) => p - 0.5 * grads[k]![i]!);
      got[k]!.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 6));
    }
    expect(tr.trainingOptimizer.stats).toEqual({ steps: 1, skippedSteps: 0 });
    await tr.dispose();
  });

  it.each<[string, OptimizerSpec]>([
    ['sgd', { kind: 'sgd', learningRate: 0.3, momentum: 0.9 }],
    ['adam', { kind: 'adam', learningRate: 0.03 }],
    ['adamw', { kind: 'adamw', learningRate: 0.03 }],
    ['muon', { kind: 'muon', learningRate: 0.05, adam: { learningRate: 0.03 } }],
    ['shampoo', { kind: 'shampoo', learningRate: 0.03, blockSize: 4, preconditionFrequency: 5 }],
  ])('%s trains: the loss falls', async (_name, spec) => {
    const tr = await OnnxTrainer.create(bytes, { loss: m.loss, device, optimizer: spec });
    const b = data(48, 5);
    const h = (await tr.fit({ inputs: { x: b.x }, targets: b.t }, { epochs: 12, batchSize: 12, seed: 2 })).history.loss;
    expect(h.at(-1)!).toBeLessThan(0.7 * h[0]!);
    expect((tr.trainingOptimizer.stats as { steps: number }).steps).toBe(48);
    await tr.dispose();
  });

  it('a checkpoint continues bit-identically on a new trainer; another kind is refused', async () => {
    const spec: OptimizerSpec = { kind: 'muon', outputLayer: 'muon' };
    const b = data(12, 3);
    const a = await OnnxTrainer.create(bytes, { loss: m.loss, device, optimizer: spec });
    await a.step({ x: b.x }, b.t, { batchKey: 0 });
    const c = await OnnxTrainer.create(a.exportModel(), { loss: m.loss, device, optimizer: spec });
    c.trainingOptimizer.restore(a.trainingOptimizer.serialize());
    await a.step({ x: b.x }, b.t, { batchKey: 0 });
    await c.step({ x: b.x }, b.t, { batchKey: 0 });
    expect(c.params()).toEqual(a.params());
    const f = await OnnxTrainer.create(bytes, { loss: m.loss, device });
    expect(() => c.trainingOptimizer.restore(f.optimizer!.serialize())).toThrow(/not a muon checkpoint/);
    await Promise.all([a.dispose(), c.dispose(), f.dispose()]);
  });

  it('useDevice keeps the trajectory (adamw)', async () => {
    const b = data(12, 4);
    const a = await OnnxTrainer.create(bytes, { loss: m.loss, device, optimizer: 'adamw' });
    const twin = await OnnxTrainer.create(bytes, { loss: m.loss, device, optimizer: 'adamw' });
    for (const t of [a, twin]) await t.step({ x: b.x }, b.t, { batchKey: 0 });
    const other = await createDevice({ backend: 'cpu' });
    await a.useDevice(other);
    for (const t of [a, twin]) await t.step({ x: b.x }, b.t, { batchKey: 0 });
    expect(a.params()).toEqual(twin.params());
    await Promise.all([a.dispose(), twin.dispose()]);
    other.destroy();
  });

  it('option errors name their key and build nothing', async () => {
    const key = async (o: object): Promise<string | undefined> => {
      try {
        await OnnxTrainer.create(bytes, { loss: m.loss, device, ...o } as never);
      } catch (e) {
        expect(e).toBeInstanceOf(InvalidOptionError);
        return (e as InvalidOptionError).key;
      }
      return undefined;
    };
    expect(await key({ optimizer: 'adamw', kfac: {} })).toBe('kfac');
    expect(await key({ optimizer: 'adamw', learningRate: 0.1 })).toBe('learningRate');
    expect(await key({ optimizer: { kind: 'lion' } })).toBe('optimizer');
    expect(await key({ optimizer: { kind: 'adamw', betas: [0.9, 0.99] } })).toBe('betas');
    // another optimizer is named by `optimizer`, never by a kind inside FNGD's or KFAC's options
    expect(await key({ kind: 'sgd' })).toBe('kind');
    expect(await key({ kfac: { kind: 'adamw' } })).toBe('kfac.kind');
    await expect(OnnxTrainer.create(bytes, { loss: m.loss, device, optimizer: { kind: 'adam', beta1: 2 } })).rejects.toThrow(InvalidArgumentError);
  });
});
