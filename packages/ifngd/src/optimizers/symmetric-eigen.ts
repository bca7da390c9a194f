/**
 * The symmetric eigendecomposition Shampoo's inverse roots are taken from, in float64 on the host: Householder
 * reduction to a tridiagonal matrix, then the implicit QL iteration with Wilkinson shifts. The eigenvectors are kept
 * as rows (each rotation of the QL sweep touches two contiguous rows). About 9n³ flops.
 * @module
 */
import { InvalidArgumentError } from '../errors.js';

/** `A = Vᵀ diag(values) V`: `vectors` holds the eigenvectors as rows (n × n, row-major). */
export interface SymmetricEigen {
  readonly values: Float64Array;
  readonly vectors: Float64Array;
}

/** The eigendecomposition of the symmetric `a` (n × n, row-major; only its lower triangle is read). */
export function symmetricEigen(a: ArrayLike<number>, n: number): SymmetricEigen {
  if (!(Number.isInteger(n) && n >= 1) || a.length !== n * n) throw new InvalidArgumentError(`symmetricEigen: expected an n × n matrix, got ${a.length} values for n = ${n}`);
  const w = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) w[i * n + j] = w[j * n + i] = a[i * n + j] as number;
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  const v = tridiagonalize(w, n, d, e);
  ql(d, e, v, n);
  return { values: d, vectors: v };
}

/**
 * Householder tridiagonalization of `w` (overwritten): `d` the diagonal, `e[i]` the entry (i, i+1). Returns `Vᵀ`
 * (the accumulated reflections, as rows) with `w = Vᵀ T V`.
 */
function tridiagonalize(w: Float64Array, n: number, d: Float64Array, e: Float64Array): Float64Array {
  // Q accumulates H₀H₁…; stored transposed (qt = Qᵀ) so that its rows are the final basis vectors.
  const qt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) qt[i * n + i] = 1;
  const v = new Float64Array(n);
  const p = new Float64Array(n);
  for (let k = 0; k < n - 2; k++) {
    // the reflection that zeroes w[k+2:, k]
    // the entries below the subdiagonal, summed directly (norm² − x0² would round tiny ones away)
    let tail = 0;
    for (let i = k + 2; i < n; i++) tail += (w[i * n + k] as number) ** 2;
    const x0 = w[(k + 1) * n + k] as number;
    d[k] = w[k * n + k] as number;
    if (tail === 0) {
      e[k] = x0;
      continue;
    }
    const norm = Math.sqrt(x0 * x0 + tail);
    const alpha = x0 > 0 ? -norm : norm;
    v.fill(0, 0, k + 1);
    v[k + 1] = x0 - alpha;
    for (let i = k + 2; i < n; i++) v[i] = w[i * n + k] as number;
    const vv = (v[k + 1] as number) ** 2 + tail;
    const beta = 2 / vv;
    e[k] = alpha;
    // trailing block A ← HAH with H = I − βvvᵀ: p = βAv, q = p − (β/2)(pᵀv)v, A ← A − vqᵀ − qvᵀ
    let pv = 0;
    for (let i = k + 1; i < n; i++) {
      let s = 0;
      const row = i * n;
      for (let j = k + 1; j < n; j++) s += (w[row + j] as number) * (v[j] as number);
      p[i] = beta * s;
      pv += (p[i] as number) * (v[i] as number);
    }
    const half = 0.5 * beta * pv;
    for (let i = k + 1; i < n; i++) p[i] = (p[i] as number) - half * (v[i] as number);
    for (let i = k + 1; i < n; i++) {
      const row = i * n;
      const vi = v[i] as number;
      const qi = p[i] as number;
      for (let j = k + 1; j < n; j++) w[row + j] = (w[row + j] as number) - vi * (p[j] as number) - qi * (v[j] as number);
    }
    // Qᵀ ← HQᵀ: rows k+1.. of Qᵀ change by −βv(vᵀQᵀ)
    for (let j = 0; j < n; j++) p[j] = 0;
    for (let i = k + 1; i < n; i++) {
      const vi = v[i] as number;
      const row = i * n;
      for (let j = 0; j < n; j++) p[j] = (p[j] as number) + vi * (qt[row + j] as number);
    }
    for (let i = k + 1; i < n; i++) {
      const s = beta * (v[i] as number);
      const row = i * n;
      for (let j = 0; j < n; j++) qt[row + j] = (qt[row + j] as number) - s * (p[j] as number);
    }
  }
  if (n >= 2) {
    d[n - 2] = w[(n - 2) * n + n - 2] as number;
    e[n - 2] = w[(n - 1) * n + n - 2] as number;
  }
  d[n - 1] = w[(n - 1) * n + n - 1] as number;
  e[n - 1] = 0;
  return qt;
}

/**
 * The implicit QL iteration with Wilkinson shifts on the tridiagonal (d, e): `d` becomes the eigenvalues, the rows
 * of `vt` (the basis the tridiagonal is in) the eigenvectors.
 */
function ql(d: Float64Array, e: Float64Array, vt: Float64Array, n: number): void {
  // an off-diagonal entry below ε·‖T‖ is zero (a test relative to its neighbours alone never passes between
  // eigenvalues that are zero, as a rank-deficient Gram's are)
  let norm = 0;
  for (let i = 0; i < n; i++) norm = Math.max(norm, Math.abs(d[i] as number) + Math.abs(e[i] as number));
  const tiny = Number.EPSILON * norm;
  for (let l = 0; l < n; l++) {
    for (let iter = 0; ; iter++) {
      let m = l;
      for (; m < n - 1; m++) {
        const dd = Math.abs(d[m] as number) + Math.abs(d[m + 1] as number);
        if (Math.abs(e[m] as number) <= Number.EPSILON * dd || Math.abs(e[m] as number) <= tiny) break;
      }
      if (m === l) break;
      if (iter >= 60) throw new InvalidArgumentError('symmetricEigen: the QL iteration did not converge (a matrix with non-finite values?)');
      let g = ((d[l + 1] as number) - (d[l] as number)) / (2 * (e[l] as number));
      let r = Math.hypot(g, 1);
      g = (d[m] as number) - (d[l] as number) + (e[l] as number) / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let p = 0;
      let i = m - 1;
      for (; i >= l; i--) {
        const f = s * (e[i] as number);
        const b = c * (e[i] as number);
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          d[i + 1] = (d[i + 1] as number) - p;
          e[m] = 0;
          break;
        }
        s = f / r;
        c = g / r;
        g = (d[i + 1] as number) - p;
        r = ((d[i] as number) - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        // rotate basis rows i and i+1
        const ri = i * n;
        const rj = (i + 1) * n;
        for (let k = 0; k < n; k++) {
          const x = vt[rj + k] as number;
          const y = vt[ri + k] as number;
          vt[rj + k] = s * y + c * x;
          vt[ri + k] = c * y - s * x;
        }
      }
      if (r === 0 && i >= l) continue;
      d[l] = (d[l] as number) - p;
      e[l] = g;
      e[m] = 0;
    }
  }
}

/**
 * `(scale·A + εI)^(−1/p)` of the symmetric positive semi-definite `a` (n × n, row-major), float64. As the reference
 * does, a negative least eigenvalue (round-off) shifts every eigenvalue up by its magnitude before ε is added.
 */
export function inverseRoot(a: ArrayLike<number>, n: number, p: number, epsilon: number, scale = 1): Float64Array {
  const { values, vectors } = symmetricEigen(a, n);
  let least = 0;
  for (const x of values) least = Math.min(least, scale * x);
  const root = Float64Array.from(values, (x) => (scale * x - least + epsilon) ** (-1 / p));
  const out = new Float64Array(n * n);
  // Vᵀ diag(s) V with V's rows the eigenvectors: out[i][j] = Σₖ s_k V[k][i] V[k][j]
  const row = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const sk = root[k] as number;
    const base = k * n;
    for (let j = 0; j < n; j++) row[j] = sk * (vectors[base + j] as number);
    for (let i = 0; i < n; i++) {
      const vi = vectors[base + i] as number;
      if (vi === 0) continue;
      const o = i * n;
      for (let j = 0; j < n; j++) out[o + j] = (out[o + j] as number) + vi * (row[j] as number);
    }
  }
  return out;
}
