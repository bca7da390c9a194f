/**
 * `embedding`: `z[i, t] = E[idᵢₜ]` (E `[V, d]`). Sample i's gradient is sparse: `Σₜ e_{idᵢₜ} δᵢₜᵀ`, nonzero only in
 * the rows of the tokens it uses. The factors are those per-sample gradients restricted to the U distinct tokens
 * of the batch (`[n, U·d]`, fisher's `jacobian`), built with one scatter-add — never a one-hot matrix; so the
 * Gram is `Gᵢⱼ = Σₜₛ [idᵢₜ = idⱼₛ] δᵢₜ·δⱼₛ` exactly. The weighted gradient is one scatter-add into `[V, d]`.
 * KFAC leaves E to its plain gradient.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import type { SiteGroup, SiteRule } from './types.js';
import { perSample } from './weights.js';

/**
 * Rows of `x` (`[N, d]`) summed by segment id (`[N]` int32) into `[segments, d]`: a scatter-add, O(N·d).
 * (tfjs-backend-cpu's `unsortedSegmentSum` runs one masked pass per segment — O(segments·N·d) — and
 * tfjs-backend-wasm registers none.)
 */
export function segmentSum(x: Tensor, ids: Tensor, segments: number): Tensor {
  return tf.scatterND(tf.expandDims(tf.cast(ids, 'int32'), 1), x, [segments, x.shape[1] as number]);
}

/** All sites' ids `[n, T]` (int32) and Δ `[n, T, d]`, positions side by side. */
function flat(group: SiteGroup): { ids: Tensor; delta: Tensor } {
  const ids = group.sites.map((s) => tf.reshape(tf.cast(s.inputs, 'int32'), [s.inputs.shape[0] as number, -1]));
  const d = group.sites.map((s) => {
    const dim = s.delta.shape[s.delta.rank - 1] as number;
    return tf.reshape(s.delta, [s.delta.shape[0] as number, -1, dim]);
  });
  return { ids: ids.length === 1 ? (ids[0] as Tensor) : tf.concat(ids, 1), delta: d.length === 1 ? (d[0] as Tensor) : tf.concat(d, 1) };
}

/** The embedding rule. */
export const embeddingRule: SiteRule = {
  kind: 'embedding',
  roles: ['embeddings'],
  kronecker: false,
  async factors(group) {
    // the batch's distinct tokens, on the host (n·T ids; tfjs-webgpu has no Unique kernel)
    const flatIds = tf.tidy(() => tf.reshape(flat(group).ids, [-1]));
    let host: Int32Array;
    try {
      host = (await flatIds.data()) as Int32Array;
    } finally {
      flatIds.dispose();
    }
    const local = new Map<number, number>();
    const index = Int32Array.from(host, (id) => {
      let k = local.get(id);
      if (k === undefined) local.set(id, (k = local.size));
      return k;
    });
    const u = local.size;
    return tf.tidy(() => {
      const { delta } = flat(group);
      const [n, t, d] = delta.shape as [number, number, number];
      const segment = Int32Array.from(index, (k, p) => Math.floor(p / t) * u + k); // sample·U + local token
      const rows = segmentSum(tf.reshape(delta, [n * t, d]), tf.tensor1d(segment, 'int32'), n * u); // [n·U, d]
      return { kind: 'jacobian', tensors: { jacobian: tf.reshape(rows, [n, u * d]) } };
    }) as unknown as ReturnType<SiteRule['factors']>;
  },
  weightedGrads(group, w) {
    const e = group.params['embeddings'] as Variable;
    const out = new Map<Variable, Tensor>();
    tf.tidy(() => {
      const { ids, delta } = flat(group);
      const d = delta.shape[2] as number;
      const wd = tf.reshape(tf.mul(delta, perSample(w, 3)), [-1, d]);
      out.set(e, tf.keep(segmentSum(wd, tf.reshape(ids, [-1]), e.shape[0] as number)));
    });
    return out;
  },
};
