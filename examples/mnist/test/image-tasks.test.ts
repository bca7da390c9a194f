/**
 * The image tasks modelled on the FNGD paper: the shift augmentation against its definition, the transformer's
 * tokens, both models training under the trainer on wasm, and FNGD's coefficient reuse under augmentation
 * (samples named by row, not by their changing pixels).
 */
import * as tf from '@tensorflow/tfjs-core';
import { FngdTrainer } from '@ifngd/adapters-tfjs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { augmentImages, MAX_SHIFT, shiftSeed } from '../src/augment.js';
import { setBackend } from '../src/backend.js';
import { loadAll, split } from '../src/data.js';
import { buildModel, modelInputs, VIT } from '../src/models.js';
import { releaseOptions, trainerOptions } from '../src/optimizers.js';
import { evaluationSet, TrainSet } from '../src/train-set.js';

/** Digits shifted as the image tasks shift them (never flipped). */
const shiftDigits = (images: Float32Array, count: number, seed: number): Float32Array => augmentImages(images, count, seed, { shape: [28, 28, 1], flips: false });

beforeAll(async () => {
  await setBackend('wasm');
});

/** Pixel (y, x) of image n shifted by (dy, dx), from the definition: the source pixel or the zero border. */
function shiftedPixel(images: Float32Array, n: number, y: number, x: number, dy: number, dx: number): number {
  const sy = y - dy;
  const sx = x - dx;
  return sy < 0 || sy >= 28 || sx < 0 || sx >= 28 ? 0 : (images[n * 784 + sy * 28 + sx] as number);
}

describe('shift augmentation', () => {
  it('moves each digit by one whole offset in −2…2 per axis, zero-filled, and keeps the source', () => {
    const all = loadAll();
    const { train } = split(all, 40, 0);
    const copy = train.images.slice();
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), (seed) => {
        const out = shiftDigits(train.images, train.count, seed);
        for (let n = 0; n < train.count; n++) {
          // the offset that reproduces the image exactly (one must: shifting is the only change)
          const match: [number, number][] = [];
          for (let dy = -MAX_SHIFT; dy <= MAX_SHIFT; dy++)
            for (let dx = -MAX_SHIFT; dx <= MAX_SHIFT; dx++) {
              let ok = true;
              for (let p = 0; p < 784 && ok; p++) ok = out[n * 784 + p] === shiftedPixel(train.images, n, Math.floor(p / 28), p % 28, dy, dx);
              if (ok) match.push([dy, dx]);
            }
          expect(match.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 5, seed: 7 },
    );
    expect(train.images).toEqual(copy);
  });

  it('draws every offset, a new draw per epoch and per seed, the same for the same (seed, epoch)', () => {
    const { train } = split(loadAll(), 300, 0);
    const a = shiftDigits(train.images, train.count, shiftSeed(1, 0));
    expect(shiftDigits(train.images, train.count, shiftSeed(1, 0))).toEqual(a);
    expect(shiftDigits(train.images, train.count, shiftSeed(1, 1))).not.toEqual(a);
    expect(shiftDigits(train.images, train.count, shiftSeed(2, 0))).not.toEqual(a);
    // a one-pixel digit shows the offsets: all 25 occur among 2,000 draws
    const dot = new Float32Array(784 * 2000);
    for (let n = 0; n < 2000; n++) dot[n * 784 + 14 * 28 + 14] = 1;
    const seen = new Set<number>();
    const moved = shiftDigits(dot, 2000, 99);
    for (let n = 0; n < 2000; n++) seen.add(moved.subarray(n * 784, (n + 1) * 784).indexOf(1));
    expect(seen.size).toBe(25);
  });
});

describe('flips, where the data allow them', () => {
  const shape = [6, 5, 3] as const;
  const count = 400;
  const images = Float32Array.from({ length: count * 90 }, (_, i) => (i % 997) + 1);
  /** Pixel (y, x, k) of image n shifted by (dy, dx) after an optional mirror, from the definition. */
  const at = (n: number, y: number, x: number, k: number, dy: number, dx: number, flip: boolean): number => {
    const sy = y - dy;
    const fx = x - dx;
    if (sy < 0 || sy >= 6 || fx < 0 || fx >= 5) return 0;
    return images[n * 90 + (sy * 5 + (flip ? 4 - fx : fx)) * 3 + k] as number;
  };
  /** For each image of `out`, the mirror settings under which some shift reproduces it exactly. */
  const explanations = (out: Float32Array): boolean[][] =>
    Array.from({ length: count }, (_, n) => {
      const fits: boolean[] = [];
      for (const flip of [false, true])
        for (let dy = -2; dy <= 2; dy++)
          for (let dx = -2; dx <= 2; dx++) {
            let ok = true;
            for (let y = 0; y < 6 && ok; y++) for (let x = 0; x < 5 && ok; x++) for (let k = 0; k < 3 && ok; k++) ok = out[n * 90 + (y * 5 + x) * 3 + k] === at(n, y, x, k, dy, dx, flip);
            if (ok) fits.push(flip);
          }
      return fits;
    });

  it('mirror left–right before the shift, channels kept together, about half the images', () => {
    const fits = explanations(augmentImages(images, count, 11, { shape, flips: true }));
    expect(fits.every((f) => f.length > 0)).toBe(true);
    const mirrored = fits.filter((f) => !f.includes(false)).length;
    expect(mirrored).toBeGreaterThan(150);
    expect(mirrored).toBeLessThan(250);
  });

  it('never happen where they are off (digits): every image is a shift alone', () => {
    const fits = explanations(augmentImages(images, count, 11, { shape, flips: false }));
    expect(fits.every((f) => f.includes(false))).toBe(true);
  });
});

describe("the transformer's tokens", () => {
  it('are the 7×7 patches in row-major grid order, each followed by its position one-hot', () => {
    const images = Float32Array.from({ length: 2 * 784 }, (_, i) => i);
    const x = tf.tensor2d(images, [2, 784]);
    const t = modelInputs('vit', x);
    expect(t.shape).toEqual([2, VIT.tokens, 49 + VIT.tokens]);
    const v = t.arraySync() as number[][][];
    for (let n = 0; n < 2; n++)
      for (let r = 0; r < 4; r++)
        for (let c = 0; c < 4; c++) {
          const token = v[n]![r * 4 + c]!;
          for (let i = 0; i < 7; i++) for (let j = 0; j < 7; j++) expect(token[i * 7 + j]).toBe(n * 784 + (r * 7 + i) * 28 + c * 7 + j);
          expect(token.slice(49)).toEqual(Array.from({ length: 16 }, (_, p) => (p === r * 4 + c ? 1 : 0)));
        }
    tf.dispose([x, t]);
  });
});

describe('the image tasks train on wasm and reuse coefficients under augmentation', () => {
  for (const kind of ['resnet', 'vit'] as const) {
    it(`${kind}: FNGD reuses every batch's coefficients on newly shifted digits; each optimizer's loss falls`, { timeout: 120_000 }, async () => {
      const { train, test } = split(loadAll(), 256, 128);
      const set = new TrainSet('classifier', kind, train);
      expect(set.identity).toEqual({ sampleIds: 'index' });
      const [xv, yv] = evaluationSet('classifier', kind, test);
      for (const name of ['fngd', 'sgd', 'kfac-adaptive'] as const) {
        const before = tf.memory().numTensors;
        const model = buildModel('classifier', kind, 'glorot-uniform', 3);
        const config = name === 'kfac-adaptive' ? { damping: 1 } : name === 'sgd' ? { learningRate: 0.05 } : { learningRate: 0.05, damping: 1, mode: 'global' as const };
        const options = trainerOptions('classifier', name, config);
        const trainer = await FngdTrainer.create(model, options);
        const logs = [];
        for (let e = 0; e < 3; e++) {
          const inputs = set.epoch(1, e);
          logs.push((await trainer.fit(inputs.x, set.y, { epochs: 1, batchSize: 64, seed: 8, validationData: [xv, yv], ...set.identity })).logs[0]!);
          inputs.release();
        }
        expect(logs.every((l) => Number.isFinite(l.trainLoss) && l.valAccuracy !== undefined)).toBe(true);
        expect(logs[2]!.trainLoss).toBeLessThan(logs[0]!.trainLoss);
        if (name === 'fngd') {
          // 4 batches: coefficients computed in epoch 1 only, reused on the shifted digits after
          expect(logs.map((l) => l.freshBatches)).toEqual([4, 0, 0]);
          // named by their (changed) content instead, every batch of the next epoch would be new
          const inputs = set.epoch(1, 3);
          const byContent = (await trainer.fit(inputs.x, set.y, { epochs: 1, batchSize: 64, seed: 8 })).logs[0]!;
          inputs.release();
          expect(byContent.freshBatches).toBe(4);
        }
        trainer.dispose();
        releaseOptions(options);
        model.dispose();
        // tfjs 4.22's tf.train.momentum keeps its momentum scalar after dispose (alone too): SGD's count is tfjs's
        if (name !== 'sgd') expect(tf.memory().numTensors).toBe(before);
      }
      set.dispose();
      tf.dispose([xv, yv]);
    });
  }
});
