/**
 * `embedding`: `z[i, t] = E[idᵢₜ]` (E `[V, d]`). Sample i's gradient is sparse: `Σₜ e_{idᵢₜ} δᵢₜᵀ`, nonzero only in
 * the rows of the tokens it uses. Its factors are the token-equality Gram `Gᵢⱼ = Σₜₛ [idᵢₜ = idⱼₛ] δᵢₜ·δⱼₛ`
 * itself (fisher's `gram`), computed on the host in float64 from each sample's Δ summed per token, over the pairs
 * of samples that share a token — never a one-hot matrix, never the `[n, U·d]` per-sample rows. The weighted
 * gradient is one scatter-add into `[V, d]`. KFAC's diagonal block: `(1/n)·Σᵢ (Σ_{t: idᵢₜ = v} δᵢₜₖ)²` per entry
 * (v, k), from the same per-sample token sums (kfac-pytorch's embedding block is Kronecker with a diagonal input
 * factor; the diagonal here is exact for the empirical Fisher's diagonal).
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

/** Per token: the samples using it and their Δ rows summed over the positions holding it (float64). */
function tokenRows(ids: Int32Array, delta: Float32Array, n: number, t: number, d: number): Map<number, Map<number, Float64Array>> {
  const byToken = new Map<number, Map<number, Float64Array>>();
  for (let p = 0; p < n * t; p++) {
    const i = Math.floor(p / t);
    const id = ids[p] as number;
    let rows = byToken.get(id);
    if (!rows) byToken.set(id, (rows = new Map()));
    let r = rows.get(i);
    if (!r) rows.set(i, (r = new Float64Array(d)));
    for (let k = 0; k < d; k++) r[k]! += delta[p * d + k] as number;
  }
  return byToken;
}

/**
 * `Gᵢⱼ = Σₜₛ [idᵢₜ = idⱼₛ] δᵢₜ·δⱼₛ` (float64, returned as float32): each sample's Δ summed per token, then the
 * products of the samples that share a token.
 */
export function tokenGram(ids: Int32Array, delta: Float32Array, n: number, t: number, d: number): Float32Array {
  const g = new Float64Array(n * n);
  for (const rows of tokenRows(ids, delta, n, t, d).values()) {
    const entries = [...rows.entries()];
    for (let a = 0; a < entries.length; a++) {
      const [i, ri] = entries[a] as [number, Float64Array];
      for (let b = a; b < entries.length; b++) {
        const [j, rj] = entries[b] as [number, Float64Array];
        let s = 0;
        for (let k = 0; k < d; k++) s += (ri[k] as number) * (rj[k] as number);
        g[i * n + j]! += s;
        if (i !== j) g[j * n + i]! += s;
      }
    }
  }
  return Float32Array.from(g);
}

/** `(1/n)·Σᵢ (Σ_{t: idᵢₜ = v} δᵢₜ)²` for every token v (`[V, d]`, float64 accumulation, returned as float32). */
export function tokenSecondMoments(ids: Int32Array, delta: Float32Array, n: number, t: number, d: number, vocab: number): Float32Array {
  const m = new Float64Array(vocab * d);
  for (const [v, rows] of tokenRows(ids, delta, n, t, d)) {
    for (const r of rows.values()) for (let k = 0; k < d; k++) m[v * d + k]! += (r[k] as number) ** 2 / n;
  }
  return Float32Array.from(m);
}

/** The ids `[n·T]` and Δ `[n, T, d]` of a group, read to the host. */
async function hostFlat(group: SiteGroup): Promise<{ ids: Int32Array; delta: Float32Array; n: number; t: number; d: number }> {
  const { ids, delta } = tf.tidy(() => {
    const f = flat(group);
    return { ids: tf.reshape(f.ids, [-1]), delta: f.delta };
  });
  const [n, t, d] = delta.shape as [number, number, number];
  try {
    const [hi, hd] = (await Promise.all([ids.data(), delta.data()])) as [Int32Array, Float32Array];
    return { ids: hi, delta: hd, n, t, d };
  } finally {
    tf.dispose([ids, delta]);
  }
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
    // ids and Δ on the host (n·T ids, n·T·d floats): the token-equality Gram in float64, pairs of samples that
    // share a token only — Σᵥ kᵥ²·d for kᵥ samples using token v, at most n²·T·d
    const { ids, delta, n, t, d } = await hostFlat(group);
    return { kind: 'gram', tensors: { gram: tf.tensor2d(tokenGram(ids, delta, n, t, d), [n, n]) } };
  },
  async secondMoments(group) {
    const e = group.params['embeddings'] as Variable;
    const { ids, delta, n, t, d } = await hostFlat(group);
    const [vocab] = e.shape as [number, number];
    return new Map([[e, tf.tensor(tokenSecondMoments(ids, delta, n, t, d, vocab), e.shape, 'float32')]]);
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
