/** Float64 reference implementations and comparison helpers for tests. */

/** Deterministic PRNG (mulberry32) so failures reproduce. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` uniform values in [-1, 1). */
export function randn(count: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: count }, () => 2 * r() - 1);
}

/** Random SPD batch: `M·Mᵀ/cols + diag` per entry, well conditioned. */
export function randomSpd(batch: number, n: number, seed: number, diag = 1): Float32Array {
  const out = new Float32Array(batch * n * n);
  const m = randn(batch * n * n, seed);
  for (let b = 0; b < batch; b++) {
    const o = b * n * n;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let p = 0; p < n; p++) s += m[o + i * n + p]! * m[o + j * n + p]!;
        s /= n;
        if (i === j) s += diag;
        out[o + i * n + j] = s;
        out[o + j * n + i] = s;
      }
    }
  }
  return out;
}

/** Float64 Cholesky of entry `e` of a batch of n×n matrices (lower triangle read) → L, or the info code. */
export function refCholesky(a: ArrayLike<number>, n: number, e = 0, shift = 0): { l: Float64Array; info: number } {
  const l = new Float64Array(n * n);
  const o = e * n * n;
  for (let j = 0; j < n; j++) {
    let d = a[o + j * n + j]! + shift;
    for (let p = 0; p < j; p++) d -= l[j * n + p]! ** 2;
    if (!(d > 0) || !Number.isFinite(d)) return { l, info: j + 1 };
    const s = Math.sqrt(d);
    l[j * n + j] = s;
    for (let i = j + 1; i < n; i++) {
      let v = a[o + i * n + j]!;
      for (let p = 0; p < j; p++) v -= l[i * n + p]! * l[j * n + p]!;
      l[i * n + j] = v / s;
    }
  }
  return { l, info: 0 };
}

/** `alpha·op(A)·op(B) + beta·C` in float64 for one batch entry, with element accessors. */
export function refGemm(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  m: number,
  n: number,
  k: number,
  o: { transA?: boolean; transB?: boolean; alpha?: number; beta?: number; c?: ArrayLike<number> | undefined },
  offA = 0,
  offB = 0,
  offC = 0,
): Float64Array {
  const out = new Float64Array(m * n);
  const alpha = o.alpha ?? 1;
  const beta = o.beta ?? 1;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        const av = o.transA ? a[offA + p * m + i]! : a[offA + i * k + p]!;
        const bv = o.transB ? b[offB + j * k + p]! : b[offB + p * n + j]!;
        s += av * bv;
      }
      out[i * n + j] = alpha * s + (o.c ? beta * o.c[offC + i * n + j]! : 0);
    }
  }
  return out;
}

/** Max-abs error relative to the reference's max-abs (∞-norm style), 0 for equal arrays. */
export function relError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} ≠ ${want.length}`);
  let err = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    if (!Number.isFinite(g)) return Infinity;
    err = Math.max(err, Math.abs(g - w));
    scale = Math.max(scale, Math.abs(w));
  }
  return err / (scale || 1);
}

/** Float64 solve of `L·X = B` or `Lᵀ·X = B` (L lower n×n at `ol`, only its lower triangle read; B n×k at `ob`). */
export function refTriangularSolve(
  l: ArrayLike<number>,
  b: ArrayLike<number>,
  n: number,
  k: number,
  transpose: boolean,
  ol = 0,
  ob = 0,
): Float64Array {
  const x = new Float64Array(n * k);
  for (let c = 0; c < k; c++) {
    for (let s = 0; s < n; s++) {
      const i = transpose ? n - 1 - s : s;
      let v = b[ob + i * k + c]!;
      if (transpose) for (let p = i + 1; p < n; p++) v -= l[ol + p * n + i]! * x[p * k + c]!;
      else for (let p = 0; p < i; p++) v -= l[ol + i * n + p]! * x[p * k + c]!;
      x[i * k + c] = v / l[ol + i * n + i]!;
    }
  }
  return x;
}

/** LAPACK `trtrs` info of L (n×n at `ol`), extended to non-finite diagonals: first bad diagonal, 1-based, or 0. */
export function refTrsmInfo(l: ArrayLike<number>, n: number, ol = 0): number {
  for (let j = 0; j < n; j++) {
    const d = l[ol + j * n + j]!;
    if (d === 0 || !Number.isFinite(d)) return j + 1;
  }
  return 0;
}

/** A well-conditioned random lower-triangular batch: |diagonal| in [1, 2) with random signs, off-diagonal / n. */
export function randomLower(batch: number, n: number, seed: number, upper = 0): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(batch * n * n);
  for (let e = 0; e < batch; e++) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const at = e * n * n + i * n + j;
        if (j < i) out[at] = (2 * r() - 1) / n;
        else if (j === i) out[at] = (1 + r()) * (r() < 0.5 ? -1 : 1);
        else out[at] = upper; // never read
      }
    }
  }
  return out;
}
