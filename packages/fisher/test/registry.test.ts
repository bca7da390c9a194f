/**
 * The factor-kind registry: a new kind is one object and one registration; it flows through `layerGram` and
 * `factorSamples` like the built-ins; a taken name, a malformed kind or an unknown kind is a typed error that
 * registers nothing and enqueues nothing.
 */
import { createDevice, type LinalgDevice, type Matrix } from '@ifngd/linalg-gpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../linalg-gpu/test/devices.js';
import { factorKindOf, factorKinds, factorSamples, FisherArgumentError, layerGram, registerFactorKind, ShapeMismatchError, type FactorKind, type LayerFactors } from '../src/index.js';
import { gram64, randn, relError } from './helpers.js';

/** Per-sample gradients given as two blocks `[n, d₁]`, `[n, d₂]` (a test kind: its Gram is the sum of both Grams). */
interface SplitFactors {
  readonly kind: 'split-test';
  readonly left: Matrix;
  readonly right: Matrix;
}

const splitKind: FactorKind<SplitFactors> = {
  kind: 'split-test',
  samples(f) {
    if (f.left.rows !== f.right.rows) throw new ShapeMismatchError('split-test: blocks disagree in n');
    return f.left.rows;
  },
  gram(dev, f) {
    const a = dev.gram(f.left);
    const b = dev.gram(f.right);
    try {
      return dev.add(a, b);
    } finally {
      a.dispose();
      b.dispose();
    }
  },
};

describe.each(await backends())('%s', (backend) => {
  let dev: LinalgDevice;
  beforeAll(async () => {
    dev = await createDevice({ backend });
  });
  afterAll(() => dev.destroy());

  it('the built-in gram kind passes a precomputed Gram through (a copy)', async () => {
    const g = dev.matrix([2, 1, 1, 3], [2, 2]);
    const out = layerGram(dev, { kind: 'gram', gram: g });
    expect(out).not.toBe(g);
    expect(Array.from(await dev.read(out))).toEqual([2, 1, 1, 3]);
    out.dispose();
    g.dispose();
  });

  it('a registered kind builds its Gram through layerGram (float64 reference on non-tile shapes)', async () => {
    if (!factorKinds().includes('split-test')) registerFactorKind(splitKind);
    const [n, d1, d2] = [7, 5, 11];
    const l = randn(n * d1, 3);
    const r = randn(n * d2, 4);
    const left = dev.matrix(l, [n, d1]);
    const right = dev.matrix(r, [n, d2]);
    const f = { kind: 'split-test', left, right } as unknown as LayerFactors;
    expect(factorSamples(f)).toBe(n);
    const g = layerGram(dev, f);
    const got = await dev.read(g);
    const joined = new Float32Array(n * (d1 + d2));
    for (let i = 0; i < n; i++) {
      joined.set(l.subarray(i * d1, (i + 1) * d1), i * (d1 + d2));
      joined.set(r.subarray(i * d2, (i + 1) * d2), i * (d1 + d2) + d1);
    }
    expect(relError(got, gram64(joined, n, d1 + d2))).toBeLessThan(1e-5);
    [g, left, right].forEach((m) => m.dispose());
  });

  it('a taken name, a malformed kind and an unknown kind are FisherArgumentErrors; a bad shape is refused before any work', () => {
    expect(() => registerFactorKind({ ...splitKind, kind: 'dense' } as unknown as FactorKind)).toThrow(/already registered/);
    expect(() => registerFactorKind({ kind: 'x' } as unknown as FactorKind)).toThrow(FisherArgumentError);
    expect(() => factorKindOf({ kind: 'nope' })).toThrow(/registered factor kind \('dense', 'conv2d', 'jacobian'.*registerFactorKind/);
    if (!factorKinds().includes('split-test')) registerFactorKind(splitKind);
    const a = dev.matrix(randn(6, 1), [2, 3]);
    const b = dev.matrix(randn(9, 1), [3, 3]);
    const before = dev.stats().liveStorages;
    expect(() => layerGram(dev, { kind: 'split-test', left: a, right: b } as unknown as LayerFactors)).toThrow(ShapeMismatchError);
    expect(() => layerGram(dev, { kind: 'gram', gram: a })).toThrow(/must be square/);
    expect(dev.stats().liveStorages).toBe(before);
    a.dispose();
    b.dispose();
  });
});
