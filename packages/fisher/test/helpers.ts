/** Float64 host references, explicit per-sample Jacobians and a leak-tracking device wrapper for the tests. */
import { Matrix, type LinalgDevice } from '@ifngd/linalg-gpu';

export { randn, relError, rng } from '../../linalg-gpu/test/reference.js';

/** `J·Jᵀ` in float64 for J `[n,d]` at `off`. */
export function gram64(j: ArrayLike<number>, n: number, d: number, off = 0): Float64Array {
  const g = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    for (let b = 0; b <= a; b++) {
      let s = 0;
      const oa = off + a * d;
      const ob = off + b * d;
      for (let p = 0; p < d; p++) s += j[oa + p]! * j[ob + p]!;
      g[a * n + b] = s;
      g[b * n + a] = s;
    }
  }
  return g;
}

/** Solves the SPD system `A·x = b` (A n×n, float64) by Cholesky; throws if A is not positive definite. */
export function solveSpd64(a: ArrayLike<number>, n: number, b: ArrayLike<number>): Float64Array {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j]!;
    for (let p = 0; p < j; p++) d -= l[j * n + p]! ** 2;
    if (!(d > 0)) throw new Error(`solveSpd64: pivot ${j + 1} is ${d}`);
    const ljj = Math.sqrt(d);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j]!;
      for (let p = 0; p < j; p++) s -= l[i * n + p]! * l[j * n + p]!;
      l[i * n + j] = s / ljj;
    }
  }
  const y = Float64Array.from(b);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < i; p++) y[i]! -= l[i * n + p]! * y[p]!;
    y[i]! /= l[i * n + i]!;
  }
  for (let i = n - 1; i >= 0; i--) {
    for (let p = i + 1; p < n; p++) y[i]! -= l[p * n + i]! * y[p]!;
    y[i]! /= l[i * n + i]!;
  }
  return y;
}

/** `α = (J·Jᵀ + nλI)⁻¹·1` in float64 (J `[n,d]` at `off`). */
export function alpha64(j: ArrayLike<number>, n: number, d: number, damping: number, off = 0): Float64Array {
  const g = gram64(j, n, d, off);
  for (let i = 0; i < n; i++) g[i * n + i]! += n * damping;
  return solveSpd64(g, n, new Float64Array(n).fill(1));
}

/** The natural-gradient direction through SMW in float64: `Jᵀ·(J·Jᵀ + nλI)⁻¹·1`. */
export function smwDirection64(j: ArrayLike<number>, n: number, d: number, damping: number, off = 0): Float64Array {
  const a = alpha64(j, n, d, damping, off);
  const u = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let p = 0; p < d; p++) u[p]! += a[i]! * j[off + i * d + p]!;
  return u;
}

/** `F + λI` (F = JᵀJ/n, d×d) and `g = Jᵀ1/n`, float64. */
export function fisher64(j: ArrayLike<number>, n: number, d: number, damping: number): { f: Float64Array; g: Float64Array } {
  const f = new Float64Array(d * d);
  const g = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < d; p++) {
      const jp = j[i * d + p]!;
      g[p]! += jp / n;
      for (let q = 0; q < d; q++) f[p * d + q]! += (jp * j[i * d + q]!) / n;
    }
  }
  for (let p = 0; p < d; p++) f[p * d + p]! += damping;
  return { f, g };
}

/** The natural-gradient direction `(F + λI)⁻¹·g` solved directly in d×d, float64. */
export function denseDirection64(j: ArrayLike<number>, n: number, d: number, damping: number): Float64Array {
  const { f, g } = fisher64(j, n, d, damping);
  return solveSpd64(f, d, g);
}

/** Per-sample gradients of a dense layer: row i = vec(δᵢ·aᵢᵀ) (dout×din row-major), then δᵢ with bias. */
export function denseJacobian(a: ArrayLike<number>, dy: ArrayLike<number>, n: number, din: number, dout: number, bias: boolean): { j: Float64Array; d: number } {
  const d = dout * din + (bias ? dout : 0);
  const j = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let o = 0; o < dout; o++) {
      const delta = dy[i * dout + o]!;
      for (let q = 0; q < din; q++) j[i * d + o * din + q] = delta * a[i * din + q]!;
      if (bias) j[i * d + dout * din + o] = delta;
    }
  }
  return { j, d };
}

/** Per-sample gradients of a convolution: row i = vec(Σₜ δᵢₜ·aᵢₜᵀ) (c×k), then Σₜ δᵢₜ with bias. */
export function convJacobian(p: ArrayLike<number>, dy: ArrayLike<number>, n: number, t: number, k: number, c: number, bias: boolean): { j: Float64Array; d: number } {
  const d = c * k + (bias ? c : 0);
  const j = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let s = 0; s < t; s++) {
      for (let o = 0; o < c; o++) {
        const delta = dy[(i * t + s) * c + o]!;
        for (let q = 0; q < k; q++) j[i * d + o * k + q]! += delta * p[(i * t + s) * k + q]!;
        if (bias) j[i * d + c * k + o]! += delta;
      }
    }
  }
  return { j, d };
}

/** Euclidean norm. */
export function norm(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! ** 2;
  return Math.sqrt(s);
}

/** Every matrix a wrapped device created, so a test can assert that only the results it holds are live. */
export interface Tracked {
  readonly dev: LinalgDevice;
  /** Every handle created through `dev`, in order. */
  readonly made: readonly Matrix[];
  /** Handles not yet disposed. */
  live(): Matrix[];
}

/** Wraps a device so that every matrix handle it returns is recorded. */
export function tracked(device: LinalgDevice): Tracked {
  const made: Matrix[] = [];
  const dev = new Proxy(device, {
    get(target, prop) {
      const v: unknown = Reflect.get(target, prop, target);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        const r: unknown = (v as (...a: unknown[]) => unknown).apply(target, args);
        if (r instanceof Matrix) made.push(r);
        return r;
      };
    },
  });
  return { dev, made, live: () => made.filter((m) => !m.isDisposed) };
}
