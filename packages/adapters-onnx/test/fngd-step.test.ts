/** The first FNGD step of the trainer against a float64 reference built from finite-difference per-sample gradients. */
import { createDevice } from '@ifngd/linalg-gpu';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { OnnxTrainer } from '../src/index.js';
import { buildModel } from '../src/internal.js';
import { testModels, type TestModel } from './models.js';
import { losses64, rng, type T64 } from './reference.js';

const N = 6;

function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((r, i) => [...r, b[i]!]);
  for (let c = 0; c < n; c++) {
    const p = m.reduce((best, r, i) => (i >= c && Math.abs(r[c]!) > Math.abs(m[best]![c]!) ? i : best), c);
    [m[c], m[p]] = [m[p]!, m[c]!];
    for (let i = 0; i < n; i++) if (i !== c) { const f = m[i]![c]! / m[c]![c]!; for (let j = c; j <= n; j++) m[i]![j]! -= f * m[c]![j]!; }
  }
  return m.map((r, i) => r[n]! / r[i]!);
}

async function check(m: TestModel, mode: 'global' | 'layerwise') {
  const lr = 0.5;
  const damping = 0.05;
  const device = await createDevice({ backend: 'cpu' });
  const trainer = await OnnxTrainer.create(buildModel(m.spec), { loss: m.loss, device, learningRate: lr, damping, mode });
  const r = rng(5);
  const xs = Float32Array.from({ length: N * m.input.dims.reduce((a, b) => a * b, 1) }, () => r(1));
  const d = m.out.reduce((a, b) => a * b, 1);
  const t = new Float32Array(N * d);
  for (let i = 0; i < N; i++) if (m.loss === 'mse') for (let j = 0; j < d; j++) t[i * d + j] = r(1); else t[i * d + ((i * 7) % d)] = 1;
  const before = trainer.params();
  const loss = await trainer.step({ x: new ort.Tensor('float32', xs, [N, ...m.input.dims]) }, new ort.Tensor('float32', t, [N, ...m.out]), { batchKey: 'b0' });
  const after = trainer.params();

  // float64 reference: J by central differences of the per-sample losses
  const x64: T64 = { data: Float64Array.from(xs), dims: [N, ...m.input.dims] };
  const theta: Record<string, Float64Array> = {};
  for (const p of trainer.parameters) theta[p.name] = Float64Array.from(before[p.name]!);
  const lossesAt = (th: Record<string, Float64Array>) => {
    const v: Record<string, T64> = { x: x64 };
    for (const p of trainer.parameters) v[p.name] = { data: th[p.name]!, dims: [...p.dims] };
    return losses64(m.spec, v, m.loss, Float64Array.from(t));
  };
  const l0 = lossesAt(theta);
  expect(loss).toBeCloseTo(l0.reduce((a, b) => a + b, 0) / N, 5);
  const cols: { name: string; k: number; layer: number; g: number[] }[] = [];
  const h = 1e-6;
  for (const p of trainer.parameters) for (let k = 0; k < theta[p.name]!.length; k++) {
    const plus = theta[p.name]!.slice(); plus[k]! += h;
    const minus = theta[p.name]!.slice(); minus[k]! -= h;
    const lp = lossesAt({ ...theta, [p.name]: plus });
    const lm = lossesAt({ ...theta, [p.name]: minus });
    cols.push({ name: p.name, k, layer: p.layer, g: lp.map((v, i) => (v - lm[i]!) / (2 * h)) });
  }
  const layers = mode === 'global' ? [cols] : [...new Set(cols.map((c) => c.layer))].map((l) => cols.filter((c) => c.layer === l));
  const update = new Map<string, number>();
  for (const group of layers) {
    const G = Array.from({ length: N }, (_, i) => Array.from({ length: N }, (_, j) => group.reduce((s, c) => s + c.g[i]! * c.g[j]!, 0) + (i === j ? N * damping : 0)));
    const alpha = solve(G, Array(N).fill(1));
    for (const c of group) update.set(`${c.name}/${c.k}`, -lr * damping * c.g.reduce((s, v, i) => s + v * alpha[i]!, 0));
  }
  let scale = 0;
  for (const v of update.values()) scale = Math.max(scale, Math.abs(v));
  expect(scale).toBeGreaterThan(1e-4);
  let worst = 0;
  for (const p of trainer.parameters) for (let k = 0; k < before[p.name]!.length; k++) {
    const got = after[p.name]![k]! - before[p.name]![k]!;
    worst = Math.max(worst, Math.abs(got - update.get(`${p.name}/${k}`)!));
  }
  expect(worst / scale).toBeLessThan(2e-3);

  // epoch 2 reuses the cached coefficients: no new factorization
  await trainer.step({ x: new ort.Tensor('float32', xs, [N, ...m.input.dims]) }, new ort.Tensor('float32', t, [N, ...m.out]), { batchKey: 'b0', epoch: 1 });
  expect(trainer.optimizer!.stats.factorizations).toBe(1);
  expect(trainer.optimizer!.stats.cacheHits).toBe(1);
  await trainer.dispose();
}

describe('first FNGD step = float64 reference (α = (JJᵀ + nλI)⁻¹1, update −lr·λ·Jᵀα)', () => {
  const [mlp, , , , cnn] = testModels(3);
  it('MLP, global', () => check(mlp!, 'global'));
  it('MLP, layer-wise', () => check(mlp!, 'layerwise'));
  it('CNN (conv factors), global', () => check(cnn!, 'global'));
  it('CNN (conv factors), layer-wise', () => check(cnn!, 'layerwise'));
});
