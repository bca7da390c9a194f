/**
 * The per-sample Gram of a 2-D convolution from unfolded input patches and output-gradients.
 * @module
 */
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import type { GramOptions } from './dense.js';
import { conv2dGramMethod, type Conv2dGramMethod } from './conv-plan.js';
import { FisherArgumentError, ShapeMismatchError } from './errors.js';
import { scoped } from './scope.js';
import { flag, fmt, requireMatrix, requireRank } from './validate.js';

/** Options of {@link conv2dGram}. */
export interface Conv2dGramOptions extends GramOptions {
  /** Algorithm; default `'auto'` (see {@link conv2dGramMethod}). Both are exact. */
  readonly method?: Conv2dGramMethod;
}

/**
 * Per-sample Gram of a convolution: `Gᵢⱼ = ⟨ΔᵢᵀAᵢ, ΔⱼᵀAⱼ⟩ (+ ⟨1ᵀΔᵢ, 1ᵀΔⱼ⟩ with bias)`
 * `= Σₜₛ (aᵢₜ·aⱼₛ + 1)(δᵢₜ·δⱼₛ)`.
 *
 * @param patches `[n,T,k]` unfolded input patches of each sample (T positions, k = c_in·kh·kw).
 * @param outputGrads `[n,T,c]` gradients of the *summed* loss w.r.t. the pre-activations.
 * @returns `[n,n]`.
 */
export function conv2dGram(dev: LinalgDevice, patches: Matrix, outputGrads: Matrix, options: Conv2dGramOptions = {}): Matrix {
  const what = 'conv2dGram';
  requireMatrix(patches, 'patches', what);
  requireMatrix(outputGrads, 'outputGrads', what);
  requireRank(patches, 3, 'patches', what);
  requireRank(outputGrads, 3, 'outputGrads', what);
  const bias = flag(options.bias, true, 'bias', what);
  const method = options.method ?? 'auto';
  if (method !== 'auto' && method !== 'per-sample' && method !== 'double-sum') {
    throw new FisherArgumentError(`${what}: method must be 'auto', 'per-sample' or 'double-sum', got ${String(method)}`);
  }
  const [n, t, k] = [patches.batch, patches.rows, patches.cols];
  const c = outputGrads.cols;
  if (outputGrads.batch !== n || outputGrads.rows !== t) {
    throw new ShapeMismatchError(
      `${what}: patches ${fmt(patches)} and outputGrads ${fmt(outputGrads)} must agree in samples n and positions T`,
    );
  }
  const chosen = method === 'auto' ? conv2dGramMethod(n, t, k, c, dev.info.maxBindingElements) : method;
  return chosen === 'per-sample'
    ? perSampleGram(dev, patches, outputGrads, bias)
    : doubleSumGram(dev, patches, outputGrads, bias);
}

/** Materialises `ΔᵢᵀAᵢ` (`[n,c,k]`, viewed `[n,c·k]`) and the bias gradients `1ᵀΔᵢ`, then their Grams. */
function perSampleGram(dev: LinalgDevice, a: Matrix, d: Matrix, bias: boolean): Matrix {
  const [n, t, k, c] = [a.batch, a.rows, a.cols, d.cols];
  return scoped((s) => {
    const grads = s.tmp(dev.gemm(d, a, { transA: true })); // [n,c,k]
    const flat = s.tmp(dev.reshape(grads, [n, c * k]));
    if (!bias) return dev.gram(flat);
    const weightGram = s.tmp(dev.gram(flat));
    const ones = s.tmp(dev.full([1, t], 1));
    const biasGrads = s.tmp(dev.gemm(ones, d)); // [n,1,c]
    const b = s.tmp(dev.reshape(biasGrads, [n, c]));
    return dev.gemm(b, b, { transB: true, c: weightGram });
  });
}

/** Forms `H = (K + 1)∘D` over all n·T rows (K = A·Aᵀ, D = Δ·Δᵀ) and sums each T×T block of H. */
function doubleSumGram(dev: LinalgDevice, a: Matrix, d: Matrix, bias: boolean): Matrix {
  const [n, t, k, c] = [a.batch, a.rows, a.cols, d.cols];
  const nt = n * t;
  return scoped((s) => {
    // K and D are released as soon as H exists: peak memory 3·(nT)² floats
    const h = s.tmp(
      scoped((inner) => {
        const kk = inner.tmp(dev.gram(inner.tmp(dev.reshape(a, [nt, k]))));
        const dd = inner.tmp(dev.gram(inner.tmp(dev.reshape(d, [nt, c]))));
        return dev.mul(kk, dd, { shiftA: bias ? 1 : 0 }); // [nT,nT]
      }),
    );
    const rowsOfBlocks = s.tmp(dev.reshape(h, [n, t, nt]));
    const onesRow = s.tmp(dev.full([1, t], 1));
    const rowSums = s.tmp(dev.gemm(onesRow, rowsOfBlocks)); // [n,1,nT]: Σₜ H[(i,t),(j,s)]
    const pairs = s.tmp(dev.reshape(rowSums, [n * n, t]));
    const onesCol = s.tmp(dev.full([t, 1], 1));
    const sums = s.tmp(dev.gemm(pairs, onesCol)); // [n²,1]: Σₛ
    return dev.reshape(sums, [n, n]);
  });
}
