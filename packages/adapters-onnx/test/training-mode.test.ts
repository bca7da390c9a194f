/**
 * BatchNormalization and Dropout in training mode, as the trainer runs them. BatchNormalization: the running statistics each committed step moves
 * (PyTorch's rule, checked against a float64 reference of the batch statistics), inference (predict, evaluate, the
 * exported model) on them, a rejected step leaving them as they were, and the models refused. The backward pass and
 * the per-sample definition are checked op by op in `gradients.test.ts`.
 */
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { NonFiniteError } from 'ifngd';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeedError, OnnxTrainer, UnsupportedOpError } from '../src/index.js';
import { buildModel, type ModelSpec } from '../src/internal.js';
import { decodeModel } from '../src/proto.js';
import { testModels } from './models.js';
import { losses64, rng, run64, type T64 } from './reference.js';

const model = testModels().find((m) => m.name.startsWith('Conv + BatchNormalization (training mode'))!;
const spec = model.spec;
const N = 5;

function batch(seed: number, n = N): { x: ort.Tensor; y: ort.Tensor; x64: T64 } {
  const r = rng(seed);
  const data = Float32Array.from({ length: n * 2 * 5 * 5 }, () => r(1));
  return {
    x: new ort.Tensor('float32', data, [n, 2, 5, 5]),
    y: new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 3)), [n]),
    x64: { data: Float64Array.from(data), dims: [n, 2, 5, 5] },
  };
}

const initial = (name: string) => Float64Array.from(spec.initializers.find((t) => t.name === name)!.data as ArrayLike<number>);

let device: LinalgDevice;
beforeAll(async () => {
  device = await createDevice({ backend: 'cpu' });
});
afterAll(() => device.destroy());

describe('BatchNormalization in training mode', () => {
  it("a committed step moves the running statistics by the node's momentum towards the batch's, the variance unbiased (PyTorch's rule)", async () => {
    const trainer = await OnnxTrainer.create(buildModel(spec), { loss: model.loss, device, optimizer: 'sgd' });
    expect(Object.keys(trainer.runningStatistics())).toEqual(['bn_mean', 'bn_var']);
    const b = batch(1);
    await trainer.step({ x: b.x }, b.y, { batchKey: 0 });
    // the batch statistics of the BatchNorm's input (the Conv's output) at the parameters before the step, float64
    const a1 = run64(spec, { x: b.x64 })['a1']!;
    const [c, inner] = [a1.dims[1]!, a1.dims[2]! * a1.dims[3]!];
    const k = N * inner;
    const m = 0.8; // the node's momentum
    const got = trainer.runningStatistics();
    for (let ch = 0; ch < c; ch++) {
      const vals: number[] = [];
      for (let i = 0; i < N; i++) for (let j = 0; j < inner; j++) vals.push(a1.data[(i * c + ch) * inner + j]!);
      const mu = vals.reduce((s, v) => s + v, 0) / k;
      const unbiased = vals.reduce((s, v) => s + (v - mu) ** 2, 0) / (k - 1);
      expect(got['bn_mean']![ch]!).toBeCloseTo(m * initial('bn_mean')[ch]! + (1 - m) * mu, 5);
      expect(got['bn_var']![ch]!).toBeCloseTo(m * initial('bn_var')[ch]! + (1 - m) * unbiased, 5);
    }
    await trainer.dispose();
  });

  it('predict, evaluate and the exported model use the running statistics; the training export keeps the nodes, carrying them', async () => {
    const trainer = await OnnxTrainer.create(buildModel(spec), { loss: model.loss, device });
    for (let s = 0; s < 3; s++) {
      const b = batch(10 + s);
      await trainer.step({ x: b.x }, b.y, { batchKey: s });
    }
    const b = batch(20, 4);
    const stats = trainer.runningStatistics();
    const params = trainer.params();
    // float64 reference: the node in inference mode, at the trained parameters and running statistics
    const inference: ModelSpec = { ...spec, nodes: spec.nodes.map((n) => (n.op === 'BatchNormalization' ? { ...n, outputs: n.outputs.slice(0, 1), attrs: { epsilon: { f: 1e-3 } } } : n)) };
    const values: Record<string, T64> = { x: b.x64 };
    for (const [name, v] of Object.entries({ ...params, ...stats })) values[name] = { data: Float64Array.from(v as Float32Array), dims: [...spec.initializers.find((t) => t.name === name)!.dims] };
    const target = Float64Array.from({ length: 4 * 3 }, (_, j) => (j % 3 === Math.floor(j / 3) % 3 ? 1 : 0));
    const want = losses64(inference, values, 'softmax-cross-entropy', target);
    const ev = await trainer.evaluate({ x: b.x }, b.y);
    expect(ev.loss).toBeCloseTo(want.reduce((s, v) => s + v, 0) / 4, 5);
    const yRef = run64(inference, values)['y']!.data;
    const predicted = (await trainer.predict({ x: b.x })).y!.data as Float32Array;
    predicted.forEach((v, i) => expect(v).toBeCloseTo(yRef[i]!, 5));

    const exported = await ort.InferenceSession.create(trainer.exportModel());
    const plain = (await exported.run({ x: b.x })).y!.data as Float32Array;
    plain.forEach((v, i) => expect(Math.abs(v - predicted[i]!)).toBeLessThan(1e-5));
    const node = decodeModel(trainer.exportModel()).graph!.node.find((n) => n.opType === 'BatchNormalization')!;
    expect(node.attribute.find((a) => a.name === 'training_mode')).toBeUndefined();
    expect(node.output).toHaveLength(1);

    // the training export: the node as it came, the trained values in it; a trainer on it goes on from there
    const training = decodeModel(trainer.exportModel({ mode: 'training' }));
    expect(training.graph!.node.find((n) => n.opType === 'BatchNormalization')!.attribute.find((a) => a.name === 'training_mode')?.i).toBe(1n);
    const next = await OnnxTrainer.create(trainer.exportModel({ mode: 'training' }), { loss: model.loss, device });
    expect(next.runningStatistics()).toEqual(stats);
    expect(next.params()).toEqual(params);
    expect(Array.from((await next.predict({ x: b.x })).y!.data as Float32Array)).toEqual(Array.from(predicted));
    await expect(Promise.resolve().then(() => trainer.exportModel({ mode: 'eval' as never }))).rejects.toThrow(/mode must be 'inference' or 'training'/);
    await Promise.all([trainer.dispose(), next.dispose()]);
  });

  it('a step that throws leaves the running statistics as they were; the next step moves them as in an undisturbed twin', async () => {
    const [trainer, twin] = await Promise.all([0, 1].map(() => OnnxTrainer.create(buildModel(spec), { loss: model.loss, device })));
    const b = batch(3);
    await Promise.all([trainer!, twin!].map((t) => t.step({ x: b.x }, b.y, { batchKey: 0 })));
    const before = trainer!.runningStatistics();
    const nan = new ort.Tensor('float32', new Float32Array(N * 50).fill(NaN), [N, 2, 5, 5]);
    await expect(trainer!.step({ x: nan }, b.y, { batchKey: 1 })).rejects.toThrow(NonFiniteError);
    expect(trainer!.runningStatistics()).toEqual(before);
    const c = batch(4);
    await Promise.all([trainer!, twin!].map((t) => t.step({ x: c.x }, c.y, { batchKey: 2 })));
    expect(trainer!.runningStatistics()).toEqual(twin!.runningStatistics());
    await Promise.all([trainer!.dispose(), twin!.dispose()]);
  });

  it('refuses, naming the node: running-statistics outputs that are read, running statistics that are not initializers of its own, a γ another node reads', async () => {
    const bn = spec.nodes.findIndex((n) => n.op === 'BatchNormalization');
    const variant = (edit: (s: { nodes: ModelSpec['nodes'][number][]; outputs: string[] }) => void): Uint8Array => {
      const s = { ...spec, nodes: [...spec.nodes], outputs: [...spec.outputs] };
      edit(s);
      return buildModel(s);
    };
    const cases: [string, Uint8Array, RegExp][] = [
      ['its running mean read', variant((s) => void s.outputs.push('bn_mean_out')), /running-statistics output 'bn_mean_out' is read/],
      [
        'its running variance computed',
        variant((s) => {
          s.nodes.splice(bn, 1, { op: 'Mul', inputs: ['bn_var', 'bn_var'], outputs: ['bn_var2'] }, { ...spec.nodes[bn]!, inputs: ['a1', 'bn_scale', 'bn_bias', 'bn_mean', 'bn_var2'] });
        }),
        /running mean and variance must be float initializers no other node reads/,
      ],
      [
        'γ read by another node',
        variant((s) => {
          s.nodes.push({ op: 'Mul', inputs: ['y', 'bn_scale'], outputs: ['y2'] });
          s.outputs.splice(0, 1, 'y2');
        }),
        /scale or bias 'bn_scale' is read by other nodes too/,
      ],
    ];
    for (const [what, bytes, reason] of cases) {
      const err = await OnnxTrainer.create(bytes, { loss: model.loss, device }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, what).toBeInstanceOf(UnsupportedOpError);
      expect((err as Error).message, what).toMatch(reason);
      expect((err as Error).message, what).toMatch(/BatchNormalization/);
    }
  });
});

describe('Dropout in training mode', () => {
  const drop = testModels().find((m) => m.name.includes('Dropout (training mode'))!;
  const data = (seed: number, fill?: number) => {
    const r = rng(seed);
    return {
      x: new ort.Tensor('float32', Float32Array.from({ length: N * 4 }, () => fill ?? r(1)), [N, 4]),
      y: new ort.Tensor('int64', BigInt64Array.from({ length: N }, (_, i) => BigInt(i % 3)), [N]),
    };
  };

  it('a step that throws draws no mask: the next steps match an undisturbed twin bit for bit', async () => {
    const [trainer, twin] = await Promise.all([0, 1].map(() => OnnxTrainer.create(buildModel(drop.spec), { loss: drop.loss, device })));
    const a = data(1);
    await Promise.all([trainer!, twin!].map((t) => t.step({ x: a.x }, a.y, { batchKey: 0 })));
    await expect(trainer!.step({ x: data(2, NaN).x }, a.y, { batchKey: 1 })).rejects.toThrow(NonFiniteError);
    for (let s = 0; s < 3; s++) {
      const b = data(10 + s);
      const [l1, l2] = await Promise.all([trainer!, twin!].map((t) => t.step({ x: b.x }, b.y, { batchKey: 2 + s })));
      expect(l1).toBe(l2);
    }
    expect(trainer!.params()).toEqual(twin!.params());
    await Promise.all([trainer!.dispose(), twin!.dispose()]);
  });

  it('predict and evaluate run it as an Identity: the same twice, and equal to the model without the Dropout', async () => {
    const trainer = await OnnxTrainer.create(buildModel(drop.spec), { loss: drop.loss, device });
    const without: ModelSpec = {
      ...drop.spec,
      nodes: drop.spec.nodes.map((n) => (n.op === 'Dropout' ? { op: 'Identity', inputs: [n.inputs[0]!], outputs: [n.outputs[0]!] } : n)),
    };
    const plain = await OnnxTrainer.create(buildModel(without), { loss: drop.loss, device });
    const b = data(5);
    const p1 = (await trainer.predict({ x: b.x })).y!.data as Float32Array;
    expect(Array.from((await trainer.predict({ x: b.x })).y!.data as Float32Array)).toEqual(Array.from(p1));
    expect(Array.from((await plain.predict({ x: b.x })).y!.data as Float32Array)).toEqual(Array.from(p1));
    expect((await trainer.evaluate({ x: b.x }, b.y)).loss).toBe((await plain.evaluate({ x: b.x }, b.y)).loss);
    await Promise.all([trainer.dispose(), plain.dispose()]);
  });
});

describe("KFAC's adaptive mode on a model with BatchNormalization", () => {
  it.each(['factors', 'gauss-newton'] as const)("trains (quadraticModel '%s'); the loss and the products it takes at other parameters change neither the parameters nor the running statistics", async (quadraticModel) => {
    const [trainer, still] = await Promise.all([
      OnnxTrainer.create(buildModel(spec), { loss: model.loss, device, kfac: { damping: 0.1, adaptive: { interval: 1, quadraticModel } } }),
      OnnxTrainer.create(buildModel(spec), { loss: model.loss, device, optimizer: { kind: 'sgd', learningRate: 1e-30 } }),
    ]);
    const b = batch(30);
    const first = await trainer.step({ x: b.x }, b.y, { batchKey: 0 });
    await still.step({ x: b.x }, b.y, { batchKey: 0 });
    // the running statistics moved by the step's own batch statistics (at the parameters before the step)
    expect(trainer.runningStatistics()).toEqual(still.runningStatistics());
    let last = first;
    for (let s = 1; s < 15; s++) last = await trainer.step({ x: b.x }, b.y, { batchKey: 0 });
    expect(last).toBeLessThan(0.5 * first);
    const stats = trainer.kfacOptimizer!.stats.adaptive!;
    expect(stats.rho).not.toBeNull();
    expect(stats.learningRate).toBeGreaterThan(0);
    await Promise.all([trainer.dispose(), still.dispose()]);
  });
});

describe('BatchNormalization in training mode: refusals and skipped steps', () => {
  it('a batch whose channels hold one value each is refused before anything runs (FeedError), as PyTorch refuses it', async () => {
    const dense = testModels().find((m) => m.name.startsWith('Gemm + BatchNormalization over [N, C]'))!;
    const trainer = await OnnxTrainer.create(buildModel(dense.spec), { loss: dense.loss, device });
    const before = trainer.runningStatistics();
    const x = new ort.Tensor('float32', new Float32Array([0.1, 0.2, 0.3]), [1, 3]);
    const t = new ort.Tensor('float32', new Float32Array([0, 1]), [1, 2]);
    await expect(trainer.step({ x }, t, { batchKey: 0 })).rejects.toThrow(FeedError);
    await expect(trainer.step({ x }, t, { batchKey: 0 })).rejects.toThrow(/needs more than one value per channel; a batch of 1 gives 1/);
    expect(trainer.runningStatistics()).toEqual(before);
    await trainer.dispose();
  });

  it("a step skipped under onNonFinite: 'skip' moves neither the parameters nor the running statistics", async () => {
    const trainer = await OnnxTrainer.create(buildModel(spec), { loss: model.loss, device, kfac: { onNonFinite: 'skip' } });
    const before = { params: trainer.params(), stats: trainer.runningStatistics() };
    const nan = new ort.Tensor('float32', new Float32Array(N * 50).fill(NaN), [N, 2, 5, 5]);
    await trainer.step({ x: nan }, batch(1).y, { batchKey: 0 });
    expect(trainer.kfacOptimizer!.stats.skippedSteps).toBe(1);
    expect(trainer.params()).toEqual(before.params);
    expect(trainer.runningStatistics()).toEqual(before.stats);
    await trainer.dispose();
  });
});
