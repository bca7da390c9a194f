/**
 * The ONNX capture's Gauss–Newton products (`StepCapture.gaussNewton`, KFAC's adaptive `quadraticModel:
 * 'gauss-newton'`) against a float64 reference: the loss's exact Hessian at the logits (softmax cross-entropy's
 * scaled by the target row's mass, mean squared error's 2/d) and the logits' directional derivatives by float64
 * central differences of the reference interpreter. Models: plain logits, a fused Softmax, a LogSoftmax output (the
 * reference reads its input), MSE; a Dropout model's under a given mask, against the reference with the mask as a
 * constant factor. A vector not shaped as the parameters is refused.
 */
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { InvalidArgumentError, type HostTree } from 'ifngd';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeModel } from '../src/analyze.js';
import { OnnxCapture } from '../src/capture.js';
import { OnnxTrainer } from '../src/index.js';
import { buildModel, type ModelSpec } from '../src/internal.js';
import { Passes } from '../src/passes.js';
import { decodeModel, tensorFloats } from '../src/proto.js';
import { testModels, type TestModel } from './models.js';
import { registerGaussNewtonProbe, vectorsLike, type ProbeRecord } from '../../../test/shared/gauss-newton-probe.js';
import { rng, run64, type T64 } from './reference.js';

let device: LinalgDevice;
let seen: ProbeRecord;
beforeAll(async () => {
  device = await createDevice({ backend: 'cpu' });
  seen = registerGaussNewtonProbe('onnx-gauss-newton-probe', 4242);
});
afterAll(() => device.destroy());

const N = 6;

/** A batch for `m`: inputs in [−1, 1]; targets: class probabilities whose rows do not sum to 1, or values. */
function batchOf(m: TestModel, seed: number): { x: ort.Tensor; x64: T64; y: ort.Tensor; y64: Float64Array } {
  const r = rng(seed);
  const dims = [N, ...m.input.dims];
  const x = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r(1));
  const d = m.out.reduce((a, b) => a * b, 1);
  const y = Float32Array.from({ length: N * d }, () => (m.loss === 'mse' ? r(1) : 0.2 + 0.5 * Math.abs(r(1))));
  return { x: new ort.Tensor('float32', x, dims), x64: { data: Float64Array.from(x), dims }, y: new ort.Tensor('float32', y, [N, ...m.out]), y64: Float64Array.from(y) };
}

/** The tensor whose Hessian the reference takes: the logits (a (Log)Softmax output's input), or the MSE output. */
function logitsName(spec: ModelSpec, loss: TestModel['loss']): string {
  const out = spec.outputs[0]!;
  const producer = spec.nodes.find((n) => n.outputs.includes(out))!;
  return loss === 'softmax-cross-entropy' && (producer.op === 'Softmax' || producer.op === 'LogSoftmax') ? producer.inputs[0]! : out;
}

/** Float64 reference `(1/n)Σᵢ (Jᵢuₐ)ᵀHᵢ(Jᵢuᵦ)`. */
function reference(m: TestModel, x64: T64, y64: Float64Array, vectors: readonly HostTree[]): number[] {
  const name = logitsName(m.spec, m.loss);
  const dimsOf = new Map(m.spec.initializers.map((t) => [t.name, [...t.dims]]));
  const base = Object.fromEntries(m.spec.initializers.map((t) => [t.name, Float64Array.from(t.data as ArrayLike<number>)]));
  const logits = (u: HostTree | null, h: number): Float64Array => {
    const values: Record<string, T64> = { [m.input.name]: x64 };
    if (u) for (const [k, v] of Object.entries(u)) values[k] = { data: base[k]!.map((p, i) => p + h * ((v as Float32Array)[i] as number)), dims: dimsOf.get(k)! };
    return run64(m.spec, values)[name]!.data;
  };
  const z = logits(null, 0);
  const d = z.length / N;
  const h = 1e-6;
  const jv = vectors.map((u) => {
    const up = logits(u, h);
    const down = logits(u, -h);
    return up.map((v, i) => (v - down[i]!) / (2 * h));
  });
  const c: number[] = [];
  for (const a of jv) {
    for (const b of jv) {
      let s = 0;
      for (let i = 0; i < N; i++) {
        const row = z.subarray(i * d, (i + 1) * d);
        if (m.loss === 'mse') {
          for (let j = 0; j < d; j++) s += (2 / d) * a[i * d + j]! * b[i * d + j]!;
          continue;
        }
        const mx = Math.max(...row);
        const e = Array.from(row, (v) => Math.exp(v - mx));
        const p = e.map((v) => v / e.reduce((t, w) => t + w, 0));
        const mass = y64.subarray(i * d, (i + 1) * d).reduce((t, v) => t + v, 0);
        // explicit H = mass·(diag(p) − ppᵀ)
        for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) s += a[i * d + j]! * mass * ((j === k ? p[j]! : 0) - p[j]! * p[k]!) * b[i * d + k]!;
      }
      c.push(s / N);
    }
  }
  return c;
}

describe('the ONNX trainer’s Gauss–Newton products', () => {
  const models = testModels();
  const cases: [string, TestModel][] = [
    ['logits', models[0]!],
    ['MSE', models[1]!],
    ['a fused Softmax', models[2]!],
    ['a LogSoftmax output', models[3]!],
  ];

  it.each(cases)('match a float64 reference (%s)', async (_, m) => {
    expect(m.spec.nodes.some((n) => n.op === 'Dropout' || n.op === 'BatchNormalization')).toBe(false);
    const trainer = await OnnxTrainer.create(buildModel(m.spec), { loss: m.loss, device, optimizer: { kind: 'onnx-gauss-newton-probe' } as never });
    expect(seen.env).toBe(true);
    const b = batchOf(m, 11);
    await trainer.step({ [m.input.name]: b.x }, b.y, { batchKey: 0 });
    const want = reference(m, b.x64, b.y64, seen.vectors);
    const scale = Math.max(...want.map(Math.abs));
    expect(scale).toBeGreaterThan(1e-3);
    expect(seen.products).toHaveLength(4);
    seen.products!.forEach((v, i) => expect(Math.abs(v - want[i]!) / scale).toBeLessThan(5e-5));
    await trainer.dispose();
  });

  it("a Dropout model: the products are those of the function the step's masks define (the reference multiplies by the mask)", async () => {
    const m = models.find((x) => x.spec.nodes.some((n) => n.op === 'Dropout'))!;
    const an = analyzeModel(decodeModel(buildModel(m.spec)));
    const passes = new Passes(an, m.loss, ort as never, {});
    const b = batchOf(m, 12);
    const d = an.dropouts[0]!;
    const dims = [N, ...d.shape.slice(1)];
    // one unit in three dropped, the others scaled by 1/(1 − ratio), as the trainer's masks are
    const mask = Float32Array.from({ length: dims.reduce((a, v) => a * v, 1) }, (_, i) => (i % 3 === 1 ? 0 : 1 / (1 - d.ratio)));
    const masks = { [d.mask]: new ort.Tensor('float32', mask, dims) };
    const params: HostTree = Object.fromEntries(an.params.map((p) => [p.name, tensorFloats(an.initializers.get(p.name)!)]));
    const capture = new OnnxCapture({
      passes,
      device,
      layers: an.layers.length,
      kronecker: [],
      params,
      base: {},
      n: N,
      batchKey: 0,
      epoch: 0,
      sampledBase: async () => ({}),
      loss: m.loss,
      target: b.y,
      logitsAt: (p) => passes.trainLogits({ [m.input.name]: b.x }, p, masks),
    });
    const vectors = vectorsLike(params, 2, 99);
    const got = await capture.gaussNewton(vectors);
    expect(got).toHaveLength(4);
    const masked: TestModel = {
      ...m,
      spec: {
        ...m.spec,
        nodes: m.spec.nodes.map((n) => (n.op === 'Dropout' ? { op: 'Mul', inputs: [n.inputs[0]!, 'ifngd_test_mask'], outputs: [n.outputs[0]!] } : n)),
        initializers: [...m.spec.initializers, { name: 'ifngd_test_mask', dims, data: Array.from(mask) }],
      },
    };
    const want = reference(masked, b.x64, b.y64, vectors);
    const scale = Math.max(...want.map(Math.abs));
    got.forEach((v, i) => expect(Math.abs(v - want[i]!) / scale).toBeLessThan(5e-5));
    // and not those of the model without its Dropout (the mask matters)
    const plain: TestModel = { ...m, spec: { ...m.spec, nodes: m.spec.nodes.map((n) => (n.op === 'Dropout' ? { op: 'Identity', inputs: [n.inputs[0]!], outputs: [n.outputs[0]!] } : n)) } };
    const unmasked = reference(plain, b.x64, b.y64, vectors);
    expect(Math.max(...got.map((v, i) => Math.abs(v - unmasked[i]!))) / scale).toBeGreaterThan(1e-2);
    capture.dispose();
    await passes.release();
  });

  it('a vector not shaped as the parameters (a leaf missing, or one too many) is refused: InvalidArgumentError, nothing changed', async () => {
    const m = models[0]!;
    const trainer = await OnnxTrainer.create(buildModel(m.spec), { loss: m.loss, device, optimizer: { kind: 'onnx-gauss-newton-probe' } as never });
    const b = batchOf(m, 13);
    const params = trainer.params();
    const epoch = trainer.epoch;
    const live = device.stats().liveStorages;
    try {
      seen.malformed = 'missing';
      await expect(trainer.step({ [m.input.name]: b.x }, b.y, { batchKey: 0 })).rejects.toThrow(InvalidArgumentError);
      await expect(trainer.step({ [m.input.name]: b.x }, b.y, { batchKey: 0 })).rejects.toThrow(/gaussNewton: vector 0 must hold '.+' as a Float32Array/);
      seen.malformed = 'extra';
      await expect(trainer.step({ [m.input.name]: b.x }, b.y, { batchKey: 0 })).rejects.toThrow(/gaussNewton: vector 0 must hold the parameters' leaves only/);
    } finally {
      seen.malformed = null;
    }
    // the refused steps left the parameters, the epoch and the device's live storages as they were
    expect(trainer.params()).toEqual(params);
    expect(trainer.epoch).toBe(epoch);
    expect(device.stats().liveStorages).toBe(live);
    await trainer.dispose();
  });
});
