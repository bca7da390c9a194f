/**
 * `conv2d-transpose`: `z = conv2dTranspose(x, K)` (NHWC, kernel `[kh, kw, cout, cin]`). A transposed convolution
 * is the adjoint of the convolution of its output with K, so its kernel's gradient is that convolution's with the
 * roles swapped: the patches are unfolded from Δ (`[n, T, kh·kw·cout]`, T = the input's h·w positions) and the
 * "output-gradients" are the inputs x (`[n, T, cin]`). Sample i's gradient `Σₜ P(Δᵢ)ₜ xᵢₜᵀ`: fisher's `conv2d`
 * factors without bias (a bias goes through its own `scale-shift` site). Under KFAC, K is in the diagonal block
 * (its A and G would swap), from the per-sample gradients `P(Δᵢ)ᵀxᵢ` of one batched GEMM.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import type { Conv2dGeometry } from '../model.js';
import { unfoldPatches } from '../patches.js';
import type { RuleContext, SiteGroup, SiteRecord, SiteRule, TensorFactors } from './types.js';
import { meanSquares, perSample, positions } from './weights.js';

/** Unfolded Δ `[n, T, kh·kw·cout]` of a site. */
function deltaPatches(s: SiteRecord, ctx: RuleContext): Tensor {
  const [kh, kw, cout] = (s.params['kernel'] as Variable).shape as [number, number, number, number];
  return unfoldPatches(s.delta, [kh, kw, cout], s.meta as Conv2dGeometry, ctx.filters);
}

/** The transposed-convolution rule. */
export const conv2dTransposeRule: SiteRule = {
  kind: 'conv2d-transpose',
  roles: ['kernel'],
  kronecker: false,
  factors(group, ctx) {
    return tf.tidy(() => {
      const p = group.sites.map((s) => deltaPatches(s, ctx));
      const x = group.sites.map((s) => positions(s.inputs));
      return {
        kind: 'conv2d',
        tensors: { patches: p.length === 1 ? (p[0] as Tensor) : tf.concat(p, 1), outputGrads: x.length === 1 ? (x[0] as Tensor) : tf.concat(x, 1) },
        flags: { bias: false },
      };
    }) as TensorFactors;
  },
  secondMoments(group, ctx) {
    const k = group.params['kernel'] as Variable;
    return new Map([
      [
        k,
        tf.tidy(() => {
          let g: Tensor | null = null;
          for (const s of group.sites) {
            const term = tf.matMul(deltaPatches(s, ctx) as tf.Tensor3D, positions(s.inputs) as tf.Tensor3D, true, false); // [n, K, cin]
            g = g ? tf.add(g, term) : term;
          }
          return meanSquares(g as unknown as Tensor, k.shape);
        }),
      ],
    ]);
  },
  weightedGrads(group: SiteGroup, w, ctx) {
    const k = group.params['kernel'] as Variable;
    const out = new Map<Variable, Tensor>();
    tf.tidy(() => {
      let g: Tensor | null = null;
      for (const s of group.sites) {
        const p = deltaPatches(s, ctx);
        const x = positions(s.inputs);
        const p2 = tf.reshape(p, [-1, p.shape[2] as number]) as tf.Tensor2D;
        const x2 = tf.reshape(tf.mul(x, perSample(w, 3)), [-1, x.shape[2] as number]) as tf.Tensor2D;
        const term = tf.matMul(p2, x2, true, false);
        g = g ? tf.add(g, term) : term;
      }
      out.set(k, tf.keep(tf.reshape(g as unknown as Tensor, k.shape)));
    });
    return out;
  },
};
