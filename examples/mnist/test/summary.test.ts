import { describe, expect, it } from 'vitest';
import { metricAtTime, spread, steadyEpochSeconds, timeToTarget, totalSeconds, type EpochRow } from '../src/summary.js';

const rows = (pairs: [number, number][]): EpochRow[] =>
  pairs.map(([s, loss], i) => ({ epoch: i + 1, seconds: s, trainLoss: loss, testLoss: loss }));

describe('spread', () => {
  it('median of odd and even counts, min, max, ignoring null and non-finite values', () => {
    expect(spread([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3, n: 3 });
    expect(spread([4, 1, 2, 3])).toEqual({ median: 2.5, min: 1, max: 4, n: 4 });
    expect(spread([null, 5, NaN, Infinity])).toEqual({ median: 5, min: 5, max: 5, n: 1 });
    expect(spread([null, NaN])).toBeNull();
    expect(spread([])).toBeNull();
  });
});

describe('timeToTarget', () => {
  const r = rows([
    [2, 100],
    [2, 80],
    [2, 60],
  ]);
  it('interpolates linearly between epoch ends', () => {
    expect(timeToTarget(r, 'testLoss', 70)).toBeCloseTo(5, 12);
    expect(timeToTarget(r, 'testLoss', 60)).toBeCloseTo(6, 12);
  });
  it('counts the whole first epoch when the first epoch already reaches the target', () => {
    expect(timeToTarget(r, 'testLoss', 150)).toBe(2);
  });
  it('returns null when never reached', () => {
    expect(timeToTarget(r, 'testLoss', 10)).toBeNull();
  });
  it('treats accuracy as higher-is-better', () => {
    const acc: EpochRow[] = r.map((x, i) => ({ ...x, testAccuracy: 0.8 + 0.05 * i }));
    expect(timeToTarget(acc, 'testAccuracy', 0.875)).toBeCloseTo(5, 12);
    expect(timeToTarget(acc, 'testAccuracy', 0.95)).toBeNull();
  });
  it('skips over a non-finite epoch', () => {
    const bad = rows([
      [1, NaN],
      [1, 50],
    ]);
    expect(timeToTarget(bad, 'testLoss', 60)).toBe(2);
  });
});

describe('metricAtTime and epoch costs', () => {
  const r = rows([
    [2, 100],
    [4, 80],
  ]);
  it('interpolates the metric; null before the first epoch end or after the last', () => {
    expect(metricAtTime(r, 'testLoss', 4)).toBeCloseTo(90, 12);
    expect(metricAtTime(r, 'testLoss', 2)).toBe(100);
    expect(metricAtTime(r, 'testLoss', 1)).toBeNull();
    expect(metricAtTime(r, 'testLoss', 7)).toBeNull();
  });
  it('total and steady epoch seconds', () => {
    expect(totalSeconds(r)).toBe(6);
    expect(steadyEpochSeconds(r)).toBe(4);
    expect(steadyEpochSeconds(r.slice(0, 1))).toBeNull();
  });
});
