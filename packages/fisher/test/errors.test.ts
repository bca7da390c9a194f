/** Every error path fed its bad input: a typed error, nothing enqueued, inputs untouched. */
import { LinalgError, createDevice, type LinalgDevice, type Matrix } from '@ifngd/linalg-gpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../linalg-gpu/test/devices.js';
import {
  FisherArgumentError,
  FisherError,
  InvalidDampingError,
  ShapeMismatchError,
  conv2dGram,
  denseGram,
  jacobianGram,
  layerGram,
  naturalGradient,
  smwCoefficients,
  solveCoefficients,
  stackGrams,
  sumGrams,
  type LayerFactors,
} from '../src/index.js';
import { randn, tracked, type Tracked } from './helpers.js';

describe.each(await backends())('%s', (backend) => {
  let dev: LinalgDevice;
  beforeAll(async () => {
    dev = await createDevice({ backend });
  });
  afterAll(() => dev.destroy());

  /** Runs `fn` against a tracked device holding `inputs`; asserts it throws `type` and enqueued nothing. */
  async function rejects(
    t: Tracked,
    type: new (...a: never[]) => Error,
    fn: () => unknown,
    message?: RegExp,
  ): Promise<Error> {
    const before = t.made.length;
    let err: unknown;
    try {
      await fn();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(type);
    if (message) expect((err as Error).message).toMatch(message);
    expect(t.made.length).toBe(before);
    return err as Error;
  }

  it.each([0, -1, -1e-30, NaN, Infinity, -Infinity, '0.1', undefined, null])(
    'damping %s → InvalidDampingError, nothing enqueued',
    async (damping) => {
      const t = tracked(dev);
      const j = t.dev.matrix(randn(12, 1), [3, 4]);
      const g = jacobianGram(t.dev, j);
      const bad = damping as number;
      for (const fn of [
        () => smwCoefficients(t.dev, g, bad),
        () => naturalGradient(t.dev, j, bad),
        () => solveCoefficients(t.dev, g, bad),
      ]) {
        const err = await rejects(t, InvalidDampingError, fn, /damping/);
        expect((err as InvalidDampingError).code).toBe('INVALID_DAMPING');
        expect(err).toBeInstanceOf(FisherError);
      }
      j.dispose();
      g.dispose();
    },
  );

  it('damping whose n·λ overflows → InvalidDampingError', async () => {
    const t = tracked(dev);
    const g = t.dev.matrix([1, 0, 0, 1], [2, 2]);
    await rejects(t, InvalidDampingError, () => smwCoefficients(t.dev, g, 1e308), /overflows/);
    g.dispose();
  });

  it('mismatched n between inputs and output-gradients → ShapeMismatchError naming both shapes', async () => {
    const t = tracked(dev);
    const a = t.dev.matrix(randn(12, 1), [3, 4]);
    const dy = t.dev.matrix(randn(10, 2), [5, 2]);
    const p = t.dev.matrix(randn(3 * 2 * 4, 3), [3, 2, 4]);
    const dp = t.dev.matrix(randn(5 * 2 * 2, 4), [5, 2, 2]);
    const dt = t.dev.matrix(randn(3 * 3 * 2, 5), [3, 3, 2]);
    const err = await rejects(t, ShapeMismatchError, () => denseGram(t.dev, a, dy), /\[3,4\].*\[5,2\]/);
    expect((err as ShapeMismatchError).code).toBe('SHAPE_MISMATCH');
    await rejects(t, ShapeMismatchError, () => layerGram(t.dev, { kind: 'dense', inputs: a, outputGrads: dy }), /\[3,4\]/);
    await rejects(t, ShapeMismatchError, () => conv2dGram(t.dev, p, dp), /\[3,2,4\].*\[5,2,2\]/);
    await rejects(t, ShapeMismatchError, () => conv2dGram(t.dev, p, dt), /positions T/);
    await rejects(t, ShapeMismatchError, () => conv2dGram(t.dev, a, dy), /patches must be \[batch, rows, cols\]/);
    [a, dy, p, dp, dt].forEach((m) => m.dispose());
  });

  it('non-square Gram, mismatched Grams → ShapeMismatchError; empty list → FisherArgumentError', async () => {
    const t = tracked(dev);
    const r = t.dev.matrix(randn(6, 1), [2, 3]);
    const g2 = t.dev.matrix([1, 0, 0, 1], [2, 2]);
    const g3 = t.dev.matrix(randn(9, 2), [3, 3]);
    const b2 = t.dev.matrix(randn(8, 3), [2, 2, 2]);
    await rejects(t, ShapeMismatchError, () => smwCoefficients(t.dev, r, 0.1), /square/);
    await rejects(t, ShapeMismatchError, () => solveCoefficients(t.dev, r, 0.1), /square/);
    await rejects(t, ShapeMismatchError, () => sumGrams(t.dev, [g2, g3]), /\[2,2\], \[3,3\]/);
    await rejects(t, ShapeMismatchError, () => sumGrams(t.dev, [g2, b2]), /one shape/);
    await rejects(t, ShapeMismatchError, () => stackGrams(t.dev, [g2, g3]));
    await rejects(t, ShapeMismatchError, () => stackGrams(t.dev, [g2, r]), /square/);
    await rejects(t, FisherArgumentError, () => sumGrams(t.dev, []));
    await rejects(t, FisherArgumentError, () => stackGrams(t.dev, []));
    [r, g2, g3, b2].forEach((m) => m.dispose());
  });

  it('arguments of the wrong kind → FisherArgumentError', async () => {
    const t = tracked(dev);
    const a = t.dev.matrix(randn(6, 1), [2, 3]);
    const g = t.dev.matrix([1, 0, 0, 1], [2, 2]);
    const notMatrix = [[1, 2], [3, 4]] as unknown as Matrix;
    await rejects(t, FisherArgumentError, () => jacobianGram(t.dev, notMatrix), /Matrix/);
    await rejects(t, FisherArgumentError, () => denseGram(t.dev, a, null as unknown as Matrix));
    await rejects(t, FisherArgumentError, () => denseGram(t.dev, a, a, { bias: 1 as unknown as boolean }), /bias/);
    await rejects(t, FisherArgumentError, () => layerGram(t.dev, { kind: 'lstm' } as unknown as LayerFactors), /kind/);
    await rejects(t, FisherArgumentError, () => layerGram(t.dev, null as unknown as LayerFactors), /kind/);
    await rejects(t, FisherArgumentError, () => solveCoefficients(t.dev, g, 0.1, { maxJitterRetries: -1 }), /maxJitterRetries/);
    await rejects(t, FisherArgumentError, () => solveCoefficients(t.dev, g, 0.1, { maxJitterRetries: 1.5 }));
    await rejects(t, FisherArgumentError, () => solveCoefficients(t.dev, g, 0.1, { initialJitter: 0 }), /initialJitter/);
    const p = t.dev.matrix(randn(12, 1), [2, 2, 3]);
    await rejects(t, FisherArgumentError, () => conv2dGram(t.dev, p, p, { method: 'fft' as 'auto' }), /method/);
    [a, g, p].forEach((m) => m.dispose());
  });

  it('n = 0 cannot be constructed: linalg-gpu rejects the shape before fisher sees it', () => {
    expect(() => dev.matrix(new Float32Array(0), [0, 3])).toThrow(LinalgError);
    expect(() => dev.full([0, 1], 1)).toThrow(/positive integer/);
    expect(() => dev.matrix(new Float32Array(0), [0, 2, 2])).toThrow(LinalgError);
  });

  it('disposed inputs surface linalg-gpu DisposedError', async () => {
    const g = dev.matrix([1, 0, 0, 1], [2, 2]);
    g.dispose();
    expect(() => smwCoefficients(dev, g, 0.1)).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    await expect(solveCoefficients(dev, g, 0.1)).rejects.toMatchObject({ code: 'DISPOSED' });
  });
});
