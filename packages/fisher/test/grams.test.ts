/** Grams from layer factors equal the Gram of explicitly built per-sample gradients. */
import { createDevice, type LinalgDevice, type Matrix } from '@ifngd/linalg-gpu';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../linalg-gpu/test/devices.js';
import {
  conv2dGram,
  conv2dGramCost,
  conv2dGramMethod,
  denseGram,
  jacobianGram,
  layerGram,
  stackGrams,
  sumGrams,
} from '../src/index.js';
import { convJacobian, denseJacobian, gram64, randn, relError, tracked } from './helpers.js';

describe.each(await backends())('%s', (backend) => {
  let dev: LinalgDevice;
  beforeAll(async () => {
    dev = await createDevice({ backend });
  });
  afterAll(() => dev.destroy());

  /** Reads and disposes. */
  async function take(m: Matrix): Promise<Float32Array> {
    try {
      return await dev.read(m);
    } finally {
      m.dispose();
    }
  }

  it('jacobianGram is J·Jᵀ, 2-D and batched', async () => {
    const [l, n, d] = [3, 9, 17];
    const j = randn(l * n * d, 1);
    const jm = dev.matrix(j, [l, n, d]);
    const g = jacobianGram(dev, jm);
    expect(g.shape).toEqual([l, n, n]);
    const got = await take(g);
    for (let b = 0; b < l; b++) {
      expect(relError(got.subarray(b * n * n, (b + 1) * n * n), gram64(j, n, d, b * n * d))).toBeLessThan(1e-5);
    }
    const one = dev.matrix(j.subarray(0, n * d), [n, d]);
    expect(relError(await take(jacobianGram(dev, one)), gram64(j, n, d))).toBeLessThan(1e-5);
    jm.dispose();
    one.dispose();
  });

  for (const bias of [true, false]) {
    it(`denseGram equals jacobianGram of explicit per-sample gradients (bias ${bias})`, async () => {
      for (const [n, din, dout] of [[1, 3, 2], [7, 5, 4], [64, 33, 10]] as const) {
        const a = randn(n * din, n + din);
        const dy = randn(n * dout, n * dout + 7);
        const { j, d } = denseJacobian(a, dy, n, din, dout, bias);
        const am = dev.matrix(a, [n, din]);
        const dm = dev.matrix(dy, [n, dout]);
        const jm = dev.matrix(Float32Array.from(j), [n, d]);
        const got = await take(bias ? denseGram(dev, am, dm) : denseGram(dev, am, dm, { bias: false }));
        const viaJ = await take(jacobianGram(dev, jm));
        const ref = gram64(j, n, d);
        expect(relError(got, ref)).toBeLessThan(1e-5);
        expect(relError(got, viaJ)).toBeLessThan(1e-5);
        [am, dm, jm].forEach((m) => m.dispose());
      }
    });
  }

  for (const method of ['per-sample', 'double-sum'] as const) {
    for (const bias of [true, false]) {
      it(`conv2dGram (${method}, bias ${bias}) equals jacobianGram of explicit per-sample gradients`, async () => {
        for (const [n, t, k, c] of [[1, 4, 3, 2], [7, 9, 12, 5], [16, 6, 18, 8]] as const) {
          const p = randn(n * t * k, 11 + n);
          const dy = randn(n * t * c, 23 + t);
          const { j, d } = convJacobian(p, dy, n, t, k, c, bias);
          const pm = dev.matrix(p, [n, t, k]);
          const dm = dev.matrix(dy, [n, t, c]);
          const jm = dev.matrix(Float32Array.from(j), [n, d]);
          const got = await take(conv2dGram(dev, pm, dm, { bias, method }));
          const viaJ = await take(jacobianGram(dev, jm));
          expect(relError(got, gram64(j, n, d))).toBeLessThan(1e-5);
          expect(relError(got, viaJ)).toBeLessThan(1e-5);
          [pm, dm, jm].forEach((m) => m.dispose());
        }
      });
    }
  }

  it('conv2dGram property: both methods agree with the explicit Gram on random shapes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          n: fc.integer({ min: 1, max: 6 }),
          t: fc.integer({ min: 1, max: 5 }),
          k: fc.integer({ min: 1, max: 6 }),
          c: fc.integer({ min: 1, max: 4 }),
          bias: fc.boolean(),
          seed: fc.integer({ min: 0, max: 1e6 }),
        }),
        async ({ n, t, k, c, bias, seed }) => {
          const p = randn(n * t * k, seed);
          const dy = randn(n * t * c, seed + 1);
          const ref = gram64(convJacobian(p, dy, n, t, k, c, bias).j, n, c * k + (bias ? c : 0));
          const pm = dev.matrix(p, [n, t, k]);
          const dm = dev.matrix(dy, [n, t, c]);
          try {
            for (const method of ['per-sample', 'double-sum'] as const) {
              expect(relError(await take(conv2dGram(dev, pm, dm, { bias, method })), ref)).toBeLessThan(1e-5);
            }
          } finally {
            pm.dispose();
            dm.dispose();
          }
        },
      ),
      { numRuns: 15, seed: 4242 },
    );
  });

  it('conv2dGram method rule: double sum only for few positions, and only when it fits', () => {
    expect(conv2dGramMethod(128, 1, 576, 64)).toBe('double-sum'); // 1×1 feature map
    expect(conv2dGramMethod(128, 784, 9, 32)).toBe('per-sample'); // 28×28 map
    expect(conv2dGramMethod(128, 4, 576, 128)).toBe('double-sum');
    // the double sum's (nT)² intermediate must fit the device
    expect(conv2dGramMethod(128, 4, 576, 128, 1000)).toBe('per-sample');
    const { perSample, doubleSum } = conv2dGramCost(64, 16, 288, 64);
    expect(perSample).toBeGreaterThan(0);
    expect(doubleSum).toBeGreaterThan(0);
  });

  it('layerGram dispatches on the factor kind', async () => {
    const [n, din, dout] = [5, 4, 3];
    const a = dev.matrix(randn(n * din, 1), [n, din]);
    const dy = dev.matrix(randn(n * dout, 2), [n, dout]);
    const p = dev.matrix(randn(n * 2 * din, 3), [n, 2, din]);
    const dc = dev.matrix(randn(n * 2 * dout, 4), [n, 2, dout]);
    const pairs: [Matrix, Matrix][] = [
      [layerGram(dev, { kind: 'dense', inputs: a, outputGrads: dy }), denseGram(dev, a, dy)],
      [layerGram(dev, { kind: 'dense', inputs: a, outputGrads: dy, bias: false }), denseGram(dev, a, dy, { bias: false })],
      [layerGram(dev, { kind: 'conv2d', patches: p, outputGrads: dc }), conv2dGram(dev, p, dc)],
      [layerGram(dev, { kind: 'conv2d', patches: p, outputGrads: dc, bias: false }), conv2dGram(dev, p, dc, { bias: false })],
      [layerGram(dev, { kind: 'jacobian', jacobian: a }), jacobianGram(dev, a)],
    ];
    for (const [x, y] of pairs) expect(await take(x)).toEqual(await take(y));
    [a, dy, p, dc].forEach((m) => m.dispose());
  });

  it('sumGrams is the Gram of the layers side by side; stackGrams batches them exactly', async () => {
    const n = 6;
    const dims = [3, 8, 5];
    const js = dims.map((d, l) => randn(n * d, 100 + l));
    const mats = js.map((j, l) => dev.matrix(j, [n, dims[l]!]));
    const grams = mats.map((m) => jacobianGram(dev, m));
    // global: J = [J₁ J₂ J₃]
    const dTot = dims.reduce((s, d) => s + d, 0);
    const whole = new Float64Array(n * dTot);
    for (let i = 0; i < n; i++) {
      let off = 0;
      dims.forEach((d, l) => {
        for (let p = 0; p < d; p++) whole[i * dTot + off + p] = js[l]![i * d + p]!;
        off += d;
      });
    }
    expect(relError(await take(sumGrams(dev, grams)), gram64(whole, n, dTot))).toBeLessThan(1e-5);
    const single = sumGrams(dev, [grams[0]!]);
    expect(await take(single)).toEqual(await dev.read(grams[0]!));
    expect(grams[0]!.isDisposed).toBe(false);

    const stacked = stackGrams(dev, grams);
    expect(stacked.shape).toEqual([3, n, n]);
    const got = await take(stacked);
    for (let l = 0; l < 3; l++) expect(got.subarray(l * n * n, (l + 1) * n * n)).toEqual(await dev.read(grams[l]!));
    // batched inputs concatenate along the batch
    const two = stackGrams(dev, [stackGrams(dev, grams.slice(0, 2)), grams[2]!]);
    expect(await take(two)).toEqual(got);
    [...mats, ...grams].forEach((m) => m.dispose());
  });

  it('leaves no intermediate alive: only the returned Gram is live', async () => {
    const t = tracked(dev);
    const [n, tt, k, c] = [4, 3, 5, 2];
    const inputs = [
      t.dev.matrix(randn(n * k, 1), [n, k]),
      t.dev.matrix(randn(n * c, 2), [n, c]),
      t.dev.matrix(randn(n * tt * k, 3), [n, tt, k]),
      t.dev.matrix(randn(n * tt * c, 4), [n, tt, c]),
    ] as const;
    const [a, dy, p, dc] = inputs;
    const results = [
      jacobianGram(t.dev, a),
      denseGram(t.dev, a, dy),
      denseGram(t.dev, a, dy, { bias: false }),
      conv2dGram(t.dev, p, dc, { method: 'per-sample' }),
      conv2dGram(t.dev, p, dc, { method: 'per-sample', bias: false }),
      conv2dGram(t.dev, p, dc, { method: 'double-sum' }),
      layerGram(t.dev, { kind: 'dense', inputs: a, outputGrads: dy }),
    ];
    results.push(sumGrams(t.dev, results.slice(0, 3)), stackGrams(t.dev, results.slice(0, 3)));
    for (const r of results) await t.dev.read(r);
    expect(new Set(t.live())).toEqual(new Set([...inputs, ...results]));
    results.forEach((r) => r.dispose());
    inputs.forEach((r) => r.dispose());
    expect(t.live()).toEqual([]);
  });

  it('a failure midway (a Gram of another device) leaks nothing', async () => {
    const other = await createDevice({ backend: 'cpu' });
    const t = tracked(dev);
    const mine = [t.dev.matrix([2, 1, 1, 2], [2, 2]), t.dev.matrix([1, 0, 0, 1], [2, 2])];
    const foreign = other.matrix([1, 0, 0, 1], [2, 2]);
    expect(() => sumGrams(t.dev, [...mine, foreign])).toThrow(expect.objectContaining({ code: 'DEVICE_MISMATCH' }));
    expect(() => stackGrams(t.dev, [...mine, foreign])).toThrow(expect.objectContaining({ code: 'DEVICE_MISMATCH' }));
    expect(new Set(t.live())).toEqual(new Set(mine));
    mine.forEach((m) => m.dispose());
    other.destroy();
  });
});
