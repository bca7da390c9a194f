/** The benchmark's data sources: each --data form, its name, and every refusal. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setBackend } from '../src/backend.js';
import { loadData, split } from '../src/data.js';
import { buildModel, describeModel, modelInputs, patchSide } from '../src/models.js';
import { runName } from '../src/tuned.js';
import * as tf from '@tensorflow/tfjs-core';

const dir = mkdtempSync(join(tmpdir(), 'data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(async () => {
  await setBackend('wasm');
});

function idx(count: number, side: number): [Uint8Array, Uint8Array] {
  const images = new Uint8Array(16 + count * side * side);
  const iv = new DataView(images.buffer);
  [0x803, count, side, side].forEach((v, i) => iv.setUint32(4 * i, v));
  images.fill(200, 16);
  const labels = new Uint8Array(8 + count);
  const lv = new DataView(labels.buffer);
  [0x801, count].forEach((v, i) => lv.setUint32(4 * i, v));
  for (let n = 0; n < count; n++) labels[8 + n] = n % 3;
  return [images, labels];
}

describe('--data', () => {
  it('mnist is the shipped digits, unflipped, and names no file differently', () => {
    const d = loadData('mnist');
    expect(d).toMatchObject({ source: 'mnist', flips: false, count: 10000, shape: [28, 28, 1], classes: 10 });
    expect(runName('classifier', 'resnet', 128, d.source)).toBe('classifier-resnet-b128');
  });

  it('idx: names the pool by directory and file stem, so two sets in one directory differ', () => {
    const fashion = join(dir, 'fashion');
    mkdirSync(fashion);
    const [im, lb] = idx(12, 8);
    writeFileSync(join(fashion, 'train-images-idx3-ubyte'), im);
    writeFileSync(join(fashion, 'train-labels-idx1-ubyte'), lb);
    writeFileSync(join(fashion, 't10k-images-idx3-ubyte'), im);
    const train = loadData(`idx:${join(fashion, 'train-images-idx3-ubyte')},${join(fashion, 'train-labels-idx1-ubyte')}`);
    expect(train).toMatchObject({ source: 'idx-fashion-train', flips: false, count: 12, shape: [8, 8, 1], classes: 3 });
    const test = loadData(`idx:${join(fashion, 't10k-images-idx3-ubyte')},${join(fashion, 'train-labels-idx1-ubyte')}`);
    expect(test.source).toBe('idx-fashion-t10k');
    expect(runName('classifier', 'mlp', 64, train.source)).toBe('classifier-idx-fashion-train-b64');
    // models follow the data's shape and classes
    const m = buildModel('classifier', 'mlp', 'glorot-uniform', 1, train);
    expect(m.inputs[0]!.shape).toEqual([null, 64]);
    expect(m.outputs[0]!.shape).toEqual([null, 3]);
    m.dispose();
    expect(describeModel('classifier', 'vit', train)).toContain('16 patches 2×2');
  });

  it('refuses malformed specs, naming the forms', () => {
    expect(() => loadData('idx:only-one-file')).toThrow(/--data idx:IMAGES,LABELS needs the image file and the label file/);
    expect(() => loadData('idx:a,b,c')).toThrow(/needs the image file and the label file/);
    expect(() => loadData('cifar100')).toThrow(/--data cifar100:DIR needs the directory/);
    expect(() => loadData('svhn:x')).toThrow(/--data must be one of: mnist, idx:IMAGES,LABELS, cifar10:DIR, cifar100:DIR \(got svhn:x\)/);
    expect(() => loadData(`idx:${join(dir, 'none')},${join(dir, 'none')}`)).toThrow(/no such file/);
  });

  it('refuses a pool smaller than a run takes, and a transformer on images its grid cannot cut', () => {
    expect(() => split(loadData('mnist'), 9000, 2000)).toThrow(/the data hold 10000 images, fewer than the 9000 train \+ 2000 test a run takes/);
    expect(() => patchSide({ shape: [30, 30, 3], classes: 10 })).toThrow(/--model vit needs square images whose side 4 divides, got 30×30/);
    expect(() => patchSide({ shape: [32, 28, 1], classes: 10 })).toThrow(/got 32×28/);
    expect(patchSide({ shape: [32, 32, 3], classes: 10 })).toBe(8);
    const x = tf.zeros([2, 32 * 32 * 3]);
    const t = modelInputs('vit', x, { shape: [32, 32, 3], classes: 10 });
    expect(t.shape).toEqual([2, 16, 8 * 8 * 3 + 16]);
    tf.dispose([x, t]);
  });
});
