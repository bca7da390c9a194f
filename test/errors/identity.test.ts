/**
 * One definition per error concept across the stack: every package re-exports the same class, so `instanceof`
 * does not depend on which package a caller imported it from, and every error is an `IfngdError`.
 */
import { describe, expect, it } from 'vitest';
import * as linalg from '@ifngd/linalg-gpu';
import * as fisher from '@ifngd/fisher';
import * as core from 'ifngd';
import * as tfjs from '@ifngd/adapters-tfjs';
import * as onnx from '@ifngd/adapters-onnx';

const packages = { linalg, fisher, core, tfjs, onnx } as Record<string, Record<string, unknown>>;

/** Each concept and the packages that export it. */
const concepts: Record<string, readonly string[]> = {
  IfngdError: ['linalg', 'fisher', 'core', 'tfjs', 'onnx'],
  ShapeError: ['linalg', 'core', 'tfjs', 'onnx'],
  InvalidArgumentError: ['linalg', 'core', 'tfjs', 'onnx'],
  DisposedError: ['linalg', 'core', 'tfjs', 'onnx'],
  DeviceLostError: ['linalg', 'core', 'tfjs', 'onnx'],
  NonFiniteError: ['fisher', 'core', 'tfjs', 'onnx'],
  FactorizationError: ['fisher', 'core'],
  UnsupportedModelError: ['core', 'tfjs', 'onnx'],
  InvalidOptionError: ['core', 'tfjs', 'onnx'],
  TargetError: ['core', 'tfjs', 'onnx'],
};

describe('error classes: one definition per concept', () => {
  for (const [name, where] of Object.entries(concepts)) {
    it(`${name} is the same class in ${where.join(', ')}`, () => {
      const classes = where.map((p) => packages[p]![name]);
      for (const c of classes) expect(typeof c).toBe('function');
      expect(new Set(classes).size).toBe(1);
    });
  }

  it('every exported error class of every package extends the one IfngdError', () => {
    let checked = 0;
    for (const [p, mod] of Object.entries(packages)) {
      for (const [name, value] of Object.entries(mod)) {
        if (typeof value !== 'function' || !/^[A-Z]\w*Error$/.test(name)) continue;
        const proto = (value as { prototype: unknown }).prototype;
        expect(proto instanceof linalg.IfngdError || value === linalg.IfngdError, `${p}.${name}`).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(30);
  });

  it('an error thrown by the bottom layer is caught by the concept imported from the top', async () => {
    const device = await linalg.createDevice({ backend: 'cpu' });
    try {
      const a = device.matrix(new Float32Array(6), [2, 3]);
      const b = device.matrix(new Float32Array(6), [2, 3]);
      let caught: unknown = null;
      try {
        device.gemm(a, b);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(tfjs.ShapeError);
      expect(caught).toBeInstanceOf(onnx.ShapeError);
      expect(caught).toBeInstanceOf(core.IfngdError);
      expect((caught as linalg.ShapeError).code).toBe('SHAPE');
      a.dispose();
      b.dispose();
    } finally {
      device.destroy();
    }
  });

  it('codes stay distinct per concept', () => {
    expect(new core.NonFiniteError('x').code).toBe('NON_FINITE');
    expect(new core.NonFiniteError('x').entries).toEqual([]);
    expect(new onnx.DisposedError('x').code).toBe('DISPOSED');
    expect(new tfjs.UnsupportedModelError('x').code).toBe('UNSUPPORTED_MODEL');
    expect(new core.InvalidArgumentError('x').code).toBe('INVALID_ARGUMENT');
    expect(new tfjs.InvalidOptionError('x', { key: 'k', value: 1 }).key).toBe('k');
    expect(new onnx.TargetError('x', { targets: { shape: [2], dtype: 'int32' } }).code).toBe('INVALID_TARGET');
  });
});
