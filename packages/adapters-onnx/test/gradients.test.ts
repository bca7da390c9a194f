/**
 * The generated backward graph against central finite differences of a float64 reference, for every
 * supported op; plus the per-layer factors against the weighted gradients they must reproduce.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { analyzeModel } from '../src/analyze.js';
import { buildGraph, NAMES } from '../src/builder.js';
import { transposedWeight } from '../src/ops/index.js';
import { SUPPORTED_OPS } from '../src/index.js';
import { buildModel } from '../src/internal.js';
import { decodeModel } from '../src/proto.js';
import { testModels } from './models.js';
import { fd, fdShare, losses64, rng, type T64 } from './reference.js';

const N = 3;

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string, rtol = 3e-3, atol = 3e-4): void {
  expect(got.length, what).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / (atol + rtol * Math.abs(want[i]!)));
  expect(worst, `${what}: worst error / tolerance`).toBeLessThanOrEqual(1);
}

describe('backward graph vs float64 finite differences', () => {
  const models = testModels();
  it('covers every supported op', () => {
    const used = new Set(models.flatMap((m) => m.spec.nodes.map((n) => n.op)));
    const untested = SUPPORTED_OPS.filter((op) => !used.has(op) && op !== 'Constant');
    expect(untested).toEqual([]);
  });

  for (const m of models) {
    it(m.name, async () => {
      const an = analyzeModel(decodeModel(buildModel(m.spec)));
      const L = an.layers.length;
      const r = rng(11);
      const count = N * m.input.dims.reduce((a, b) => a * b, 1);
      // token ids for a model over an embedding, else floats
      const x = m.input.ids ? Float32Array.from({ length: count }, (_, i) => (i * 7 + 3) % m.input.ids!) : Float32Array.from({ length: count }, () => r(1));
      const d = m.out.reduce((a, b) => a * b, 1);
      const target = new Float32Array(N * d);
      for (let i = 0; i < N; i++) {
        if (m.loss === 'mse') for (let j = 0; j < d; j++) target[i * d + j] = r(1);
        else target[i * d + (i % d)] = 1;
      }
      const alpha = Float32Array.from({ length: L * N }, () => 0.5 + r(0.4));
      const params: Record<string, Float64Array> = {};
      const feeds: Record<string, ort.Tensor> = {
        [m.input.name]: m.input.ids ? new ort.Tensor('int64', BigInt64Array.from(x, (v) => BigInt(v)), [N, ...m.input.dims]) : new ort.Tensor('float32', x, [N, ...m.input.dims]),
        [NAMES.target]: new ort.Tensor('float32', target, [N, ...m.out]),
      };
      for (const p of an.params) {
        const t = m.spec.initializers.find((i) => i.name === p.name)!;
        params[p.name] = Float64Array.from(t.data as ArrayLike<number>);
        feeds[p.name] = new ort.Tensor('float32', Float32Array.from(t.data as ArrayLike<number>), [...p.dims]);
      }
      // a Dropout's mask, as the trainer would draw it: every third unit dropped
      const x64: T64 = { data: Float64Array.from(x), dims: [N, ...m.input.dims] };
      const masks: Record<string, T64> = {};
      an.dropouts.forEach((d) => {
        const size = N * d.shape.slice(1).reduce((a, v) => a * v, 1);
        const mask = Float32Array.from({ length: size }, (_, i) => (i % 3 === 1 ? 0 : 1 / (1 - d.ratio)));
        feeds[d.mask] = new ort.Tensor('float32', mask, [N, ...d.shape.slice(1)]);
        const node = an.nodes.find((n) => n.input[1] === d.mask)!;
        masks[`dropout-mask:${node.output[0]}`] = { data: Float64Array.from(mask), dims: [N, ...d.shape.slice(1)] };
      });
      const grad = await ort.InferenceSession.create(buildGraph(an, m.loss, 'gradients').bytes);
      const out = await grad.run({ ...feeds, [NAMES.alpha]: new ort.Tensor('float32', alpha, [L, N]) });
      const lossesAt = (p: Record<string, Float64Array>, copies: Record<string, T64[]> = {}) => {
        const values: Record<string, T64> = { [m.input.name]: x64, ...masks };
        for (const q of an.params) values[q.name] = { data: p[q.name]!, dims: [...q.dims] };
        return losses64(m.spec, values, m.loss, Float64Array.from(target), copies);
      };
      // Σᵢ wᵢ·(sample i's gradient) of a parameter: ∇(Σwᵢℓᵢ), or each sample's share where samples interact
      const weightedGrad = (name: string, w: ArrayLike<number>): Float64Array => {
        if (!m.coupled) return fd(params, name, (q) => lossesAt(q).reduce((s, v, i) => s + w[i]! * v, 0));
        const dims = [...an.params.find((q) => q.name === name)!.dims];
        return fdShare(params, name, w, (copies) => lossesAt(params, copies).reduce((s, v) => s + v, 0), dims);
      };
      const sample0 = Array.from({ length: N }, (_, i) => (i === 0 ? 1 : 0));
      expectClose(out[NAMES.losses]!.data as Float32Array, lossesAt(params), 'per-sample losses', 1e-4, 1e-5);
      for (const p of an.params) {
        const ref = weightedGrad(p.name, alpha.subarray(p.layer * N, (p.layer + 1) * N));
        expectClose(out[NAMES.grad(p.name)]!.data as Float32Array, ref, `Σαᵢ∇ℓᵢ of ${p.name}`);
      }

      // factors: Σᵢ αᵢ (per-sample gradient from A, Δ) must equal the weighted gradient
      const fac = await ort.InferenceSession.create(buildGraph(an, m.loss, 'factors').bytes);
      const fo = await fac.run(feeds);
      expectClose(fo[NAMES.losses]!.data as Float32Array, out[NAMES.losses]!.data as Float32Array, 'losses (factors graph)', 1e-5, 1e-6);
      an.layers.forEach((layer, l) => {
        const A = fo[NAMES.factorInputs(l)]!;
        const D = fo[NAMES.factorOutputGrads(l)]!;
        const w = alpha.subarray(l * N, (l + 1) * N);
        if (layer.kind === 'embedding') {
          // the per-sample Gram [N, N] against explicit per-sample gradients (float64 finite differences of each ℓᵢ)
          expect(A.dims).toEqual([N, N]);
          const g = Array.from({ length: N }, (_, i) => fd(params, layer.weight, (q) => lossesAt(q)[i]!));
          const want = Array.from({ length: N * N }, (_, k) => g[Math.floor(k / N)]!.reduce((s, v, j) => s + v * g[k % N]![j]!, 0));
          expectClose(A.data as Float32Array, want, `the per-sample Gram of ${layer.weight}`, 3e-3, 3e-4);
          return;
        }
        if (layer.kind === 'scale-shift' || layer.kind === 'grouped-conv' || layer.kind === 'batch-norm') {
          // explicit per-sample gradients [N, size] (weight, then bias): Σᵢ αᵢ Jᵢ is the weighted gradient, and each
          // row is sample i's
          const J = A.data as Float32Array;
          const size = J.length / N;
          expect(A.dims).toEqual([N, size]);
          const gw = Array.from({ length: size }, (_, j) => w.reduce((t, wi, i) => t + wi * J[i * size + j]!, 0));
          const leaves = [layer.weight, ...(layer.bias ? [layer.bias] : [])];
          const weighted = leaves.flatMap((p) => Array.from(out[NAMES.grad(p)]!.data as Float32Array));
          expectClose(gw, weighted, `per-sample gradients of layer ${l} reproduce its gradient`, 1e-3, 1e-5);
          const row0 = leaves.flatMap((p) => Array.from(weightedGrad(p, sample0)));
          expectClose(J.subarray(0, size), row0, `sample 0's gradient of ${leaves.join(', ')}`);
          return;
        }
        // 3-D factors (conv2d, dense over positions, embeddings' one-hot patches): [N, T, k]
        const [T, k] = A.dims.length === 3 ? [A.dims[1]!, A.dims[2]!] : [1, A.dims[1]!];
        const c = D.dims[D.dims.length - 1]!;
        const a = A.data as Float32Array;
        const dd = D.data as Float32Array;
        const gw = new Float64Array(c * k); // [c, k]
        const gb = new Float64Array(c);
        for (let i = 0; i < N; i++) for (let t = 0; t < T; t++) for (let o = 0; o < c; o++) {
          const dv = w[i]! * dd[(i * T + t) * c + o]!;
          gb[o]! += dv;
          for (let q = 0; q < k; q++) gw[o * k + q]! += dv * a[(i * T + t) * k + q]!;
        }
        const wGrad = out[NAMES.grad(layer.weight)]!.data as Float32Array;
        // weight layout: Conv [c,k…], Gemm transB and a MatMul's weight read transposed [c,k], otherwise [k,c]
        const transB = layer.node.attribute.some((x) => x.name === 'transB' && x.i === 1n) || transposedWeight(layer.node);
        const layout = (g: Float64Array) => (layer.kind === 'conv2d' || transB ? Array.from(g) : Array.from({ length: c * k }, (_, j) => g[(j % c) * k + Math.floor(j / c)]!));
        expectClose(layout(gw), wGrad, `factors of layer ${l} reproduce the weight gradient`, 1e-3, 1e-5);
        // and sample by sample: sample 0's factors give its own gradient (float64 finite differences of ℓ₀)
        const g0 = new Float64Array(c * k);
        for (let t = 0; t < T; t++) for (let o = 0; o < c; o++) for (let q = 0; q < k; q++) g0[o * k + q]! += dd[t * c + o]! * a[t * k + q]!;
        expectClose(layout(g0), weightedGrad(layer.weight, sample0), `sample 0's gradient of ${layer.weight} from its factors`, 3e-3, 3e-4);
        if (layer.bias) expectClose(gb, out[NAMES.grad(layer.bias)]!.data as Float32Array, `factors of layer ${l} reproduce the bias gradient`, 1e-3, 1e-5);
      });
      await grad.release();
      await fac.release();
    });
  }
});
