/** The IDX and CIFAR readers: files written here byte by byte, gzipped or not, and every malformed case refused. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { cifarFiles, DataFormatError, parseCifar, parseIdx, readCifar, readIdx, takeDigits } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'formats-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function idxImages(count: number, rows: number, cols: number, pixel: (n: number, p: number) => number): Uint8Array {
  const b = new Uint8Array(16 + count * rows * cols);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0x803);
  v.setUint32(4, count);
  v.setUint32(8, rows);
  v.setUint32(12, cols);
  for (let n = 0; n < count; n++) for (let p = 0; p < rows * cols; p++) b[16 + n * rows * cols + p] = pixel(n, p);
  return b;
}

function idxLabels(labels: number[]): Uint8Array {
  const b = new Uint8Array(8 + labels.length);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0x801);
  v.setUint32(4, labels.length);
  b.set(labels, 8);
  return b;
}

describe('IDX', () => {
  const images = idxImages(3, 4, 5, (n, p) => (n * 20 + p) % 256);
  const labels = idxLabels([7, 0, 3]);

  it('reads images as floats in [0, 1], row-major, with their labels, from plain and gzipped files', () => {
    writeFileSync(join(dir, 'a-images-idx3-ubyte'), images);
    writeFileSync(join(dir, 'a-labels-idx1-ubyte.gz'), gzipSync(labels));
    const got = readIdx(join(dir, 'a-images-idx3-ubyte'), join(dir, 'a-labels-idx1-ubyte.gz'));
    expect(got.count).toBe(3);
    expect(got.shape).toEqual([4, 5, 1]);
    expect(got.classes).toBe(8);
    expect(Array.from(got.labels)).toEqual([7, 0, 3]);
    for (let n = 0; n < 3; n++) for (let p = 0; p < 20; p++) expect(got.images[n * 20 + p]).toBeCloseTo(((n * 20 + p) % 256) / 255, 7);
    // a subset keeps the shape and classes
    const sub = takeDigits(got, [2, 0]);
    expect(sub.shape).toEqual([4, 5, 1]);
    expect(Array.from(sub.labels)).toEqual([3, 7]);
    expect(Array.from(sub.images.subarray(0, 20))).toEqual(Array.from(got.images.subarray(40, 60)));
  });

  it('refuses a wrong magic, a count mismatch, truncated data and a missing file, naming the file', () => {
    const swapped = (): unknown => parseIdx(labels, images, ['img', 'lab']);
    expect(swapped).toThrow(DataFormatError);
    expect(swapped).toThrow(/img: IDX magic 0x00000801, expected 0x00000803/);
    expect(() => parseIdx(images, idxLabels([1, 2]), ['img', 'lab'])).toThrow(/lab: 2 labels for the 3 images of img/);
    expect(() => parseIdx(images.subarray(0, images.length - 1), labels, ['img', 'lab'])).toThrow(/img: 59 pixel bytes, expected 3·4·5 = 60/);
    expect(() => parseIdx(images.subarray(0, 10), labels, ['img', 'lab'])).toThrow(/too short for an IDX header/);
    expect(() => readIdx(join(dir, 'nothing'), join(dir, 'nothing'))).toThrow(/nothing: no such file/);
  });
});

/** A CIFAR record: label byte(s), then the 32×32 image's red, green and blue planes. */
function cifarRecord(labels: number[], pixel: (c: number, p: number) => number): Uint8Array {
  const b = new Uint8Array(labels.length + 3072);
  b.set(labels, 0);
  for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) b[labels.length + c * 1024 + p] = pixel(c, p);
  return b;
}

describe('CIFAR', () => {
  it('turns channel-major records into channels-last images; CIFAR-100 takes the fine label', () => {
    const r0 = cifarRecord([4], (c, p) => (c * 50 + p) % 256);
    const r1 = cifarRecord([9], (c, p) => (255 - c - p) & 255);
    const got = parseCifar([Uint8Array.of(...r0, ...r1)], 'cifar10');
    expect(got.count).toBe(2);
    expect(got.shape).toEqual([32, 32, 3]);
    expect(got.classes).toBe(10);
    expect(Array.from(got.labels)).toEqual([4, 9]);
    for (const p of [0, 1, 33, 1023]) for (let c = 0; c < 3; c++) expect(got.images[p * 3 + c]).toBeCloseTo(((c * 50 + p) % 256) / 255, 7);
    expect(got.images[3072 + 5 * 3 + 2]).toBeCloseTo(((255 - 2 - 5) & 255) / 255, 7);
    const hundred = parseCifar([cifarRecord([3, 71], () => 0)], 'cifar100');
    expect(Array.from(hundred.labels)).toEqual([71]);
    expect(hundred.classes).toBe(100);
  });

  it('reads a directory as the archive unpacks it, training files first', () => {
    const files = cifarFiles('cifar10');
    files.forEach((f, i) => writeFileSync(join(dir, f), cifarRecord([i], () => i)));
    const got = readCifar(dir, 'cifar10');
    expect(Array.from(got.labels)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(got.images[5 * 3072]).toBeCloseTo(5 / 255, 7);
  });

  it('refuses partial records and out-of-range labels', () => {
    expect(() => parseCifar([new Uint8Array(3000)], 'cifar10', ['x.bin'])).toThrow(/x.bin: 3000 bytes is not a whole number of cifar10 records \(3073 bytes each\)/);
    expect(() => parseCifar([cifarRecord([10], () => 0)], 'cifar10')).toThrow(/label 10 is not below 10/);
    expect(() => readCifar(join(dir, 'absent'), 'cifar100')).toThrow(DataFormatError);
  });
});
