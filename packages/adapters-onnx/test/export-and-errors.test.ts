/** Export round trip through a plain InferenceSession, and every bad input → typed error with nothing changed. */
import { createDevice } from '@ifngd/linalg-gpu';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { FeedError, InvalidOptionError, MalformedModelError, OnnxTrainer, TargetError, UnsupportedOpError } from '../src/index.js';
import { buildModel } from '../src/internal.js';
import { testModels } from './models.js';
import { rng } from './reference.js';

const cnn = testModels(9)[4]!;
const N = 5;
const r = rng(21);
const x = new ort.Tensor('float32', Float32Array.from({ length: N * 128 }, () => r(1)), [N, 2, 8, 8]);
const labels = new ort.Tensor('int64', BigInt64Array.from([0n, 1n, 2n, 1n, 0n]), [N]);

function hasSubsequence(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

describe('export', () => {
  it('a plain InferenceSession of the exported model matches the trainer forward pass; unknown fields survive', async () => {
    // append an unknown top-level field (number 1000, varint 42) as a newer writer might
    const unknown = new Uint8Array([0xc0, 0x3e, 0x2a]);
    const base = buildModel(cnn.spec);
    const bytes = new Uint8Array(base.length + unknown.length);
    bytes.set(base);
    bytes.set(unknown, base.length);
    const device = await createDevice({ backend: 'cpu' });
    const trainer = await OnnxTrainer.create(bytes, { loss: 'softmax-cross-entropy', device, learningRate: 0.3, damping: 0.1 });
    const before = (await (await ort.InferenceSession.create(bytes)).run({ x })).y!.data as Float32Array;
    for (let e = 0; e < 3; e++) await trainer.step({ x }, labels, { batchKey: 0, epoch: e });
    const exported = trainer.exportModel();
    expect(hasSubsequence(exported, unknown)).toBe(true);
    const plain = await ort.InferenceSession.create(exported);
    const got = (await plain.run({ x })).y!.data as Float32Array;
    const want = (await trainer.predict({ x })).y!.data as Float32Array;
    // same graph and weights; ORT may pre-pack constant weights, so allow float32 rounding only
    expect(got.length).toBe(want.length);
    for (let i = 0; i < got.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-5 * (1 + Math.abs(want[i]!)));
    expect(Array.from(got)).not.toEqual(Array.from(before));
    await trainer.dispose();
  });
});

describe('bad inputs → typed errors, nothing changed', () => {
  it('malformed bytes', async () => {
    await expect(OnnxTrainer.create(new Uint8Array([0xff, 0xff, 0xff, 0x07, 1]), { loss: 'mse' })).rejects.toBeInstanceOf(MalformedModelError);
    await expect(OnnxTrainer.create(new Uint8Array(), { loss: 'mse' })).rejects.toBeInstanceOf(MalformedModelError);
    await expect(OnnxTrainer.create(new TextEncoder().encode('definitely not onnx'), { loss: 'mse' })).rejects.toBeInstanceOf(MalformedModelError);
  });

  it('unsupported ops: every op type and node name, before anything runs', async () => {
    const bytes = buildModel({
      inputs: [{ name: 'x', shape: ['N', 3] }],
      outputs: ['y'],
      nodes: [
        { op: 'Gemm', inputs: ['x', 'w'], outputs: ['h'], name: 'dense' },
        { op: 'Softsign', inputs: ['h'], outputs: ['a'], name: 'softsign' },
        { op: 'Cos', inputs: ['a'], outputs: ['c'], name: 'cosine' },
        { op: 'FusedThing', inputs: ['c'], outputs: ['y'], name: 'custom', domain: 'com.example' },
      ],
      initializers: [{ name: 'w', dims: [3, 2], data: [1, 2, 3, 4, 5, 6] }],
    });
    const err = await OnnxTrainer.create(bytes, { loss: 'mse' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedOpError);
    const e = err as UnsupportedOpError;
    expect(e.nodes.map((n) => n.name)).toEqual(['softsign', 'cosine', 'custom']);
    expect(e.opTypes).toEqual(['Softsign', 'Cos', 'com.example::FusedThing']);
    expect(e.message).toContain("Cos 'cosine'");
    expect(e.message).toMatch(/SUPPORTED_OPS, and "Supported ops" in docs\/guides\/onnx-trainer.md/);
  });

  it('invalid options', async () => {
    const bytes = buildModel(cnn.spec);
    await expect(OnnxTrainer.create(bytes, { loss: 'hinge' as never })).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(OnnxTrainer.create(bytes, { loss: 'mse', output: 'nope' })).rejects.toBeInstanceOf(InvalidOptionError);
  });

  it('bad feeds and targets leave parameters, optimizer state and cache unchanged', async () => {
    const device = await createDevice({ backend: 'cpu' });
    const make = () => OnnxTrainer.create(buildModel(cnn.spec), { loss: 'softmax-cross-entropy', device, learningRate: 0.3, damping: 0.1, momentum: 0.9 });
    const trainer = await make();
    const reference = await make();
    await trainer.step({ x }, labels, { batchKey: 0 });
    await reference.step({ x }, labels, { batchKey: 0 });
    const params = trainer.params();
    const stats = JSON.stringify(trainer.optimizer!.stats);
    const checkpoint = trainer.optimizer!.serialize();
    const bad: [() => Promise<unknown>, new (...a: never[]) => Error][] = [
      [() => trainer.step({}, labels, { batchKey: 1 }), FeedError],
      [() => trainer.step({ x, image: x }, labels, { batchKey: 1 }), FeedError],
      [() => trainer.step({ image: x }, labels, { batchKey: 1 }), FeedError],
      [() => trainer.step({ x: new ort.Tensor('float32', new Float32Array(N * 64), [N, 1, 8, 8]) }, labels, { batchKey: 1 }), FeedError],
      [() => trainer.step({ x: new ort.Tensor('int32', new Int32Array(N * 128), [N, 2, 8, 8]) }, labels, { batchKey: 1 }), FeedError],
      [() => trainer.step({ x }, new ort.Tensor('int64', BigInt64Array.from([0n, 1n]), [2]), { batchKey: 1 }), TargetError],
      [() => trainer.step({ x }, new ort.Tensor('int64', BigInt64Array.from([0n, 1n, 2n, 3n, 0n]), [N]), { batchKey: 1 }), TargetError],
      [() => trainer.step({ x }, new ort.Tensor('float32', new Float32Array(N * 4), [N, 4]), { batchKey: 1 }), TargetError],
      [() => trainer.step({ x }, new ort.Tensor('uint8', new Uint8Array(N * 3), [N, 3]), { batchKey: 1 }), TargetError],
      [() => trainer.step({ x }, new ort.Tensor('float32', new Float32Array(N * 3).fill(NaN), [N, 3]), { batchKey: 1 }), TargetError],
    ];
    for (const [call, type] of bad) {
      await expect(call()).rejects.toBeInstanceOf(type);
      expect(trainer.params()).toEqual(params);
      expect(JSON.stringify(trainer.optimizer!.stats)).toBe(stats);
      expect(trainer.optimizer!.serialize()).toEqual(checkpoint);
    }
    // and training continues exactly as if nothing had happened
    await trainer.step({ x }, labels, { batchKey: 0, epoch: 1 });
    await reference.step({ x }, labels, { batchKey: 0, epoch: 1 });
    expect(trainer.params()).toEqual(reference.params());
    await trainer.dispose();
    await reference.dispose();
  });
});
