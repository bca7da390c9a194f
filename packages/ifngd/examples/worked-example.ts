/**
 * Worked example: FNGD on a framework-free model with hand-written per-sample factors.
 *
 * Model: linear regression ŷ = W·x + b (W: 3×8), per-sample loss ℓᵢ = ½‖W·xᵢ + b − yᵢ‖², 256 samples in
 * 8 fixed batches of 32. For a dense layer FNGD needs, per batch, only
 *   A = the layer inputs [n, din]            (here the xᵢ)
 *   Δ = ∂(Σᵢℓᵢ)/∂(pre-activations) [n, dout] (here the residuals W·xᵢ + b − yᵢ)
 * and the optimizer returns α; the update direction is the α-weighted gradient Σᵢ αᵢ∇ℓᵢ = ((α∘Δ)ᵀA, Σᵢ αᵢΔᵢ).
 *
 *   npx tsx --conditions=@ifngd/source packages/ifngd/examples/worked-example.ts
 */
import { createDevice } from '@ifngd/linalg-gpu';
import { fngd, type HostTree } from '../src/index.js';

const DIN = 8;
const DOUT = 3;
const N = 256;
const BATCH = 32;

// --- synthetic data from a random teacher (deterministic LCG) ---
let seed = 12345;
const rand = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
const teacherW = Float32Array.from({ length: DOUT * DIN }, rand);
const X = Float32Array.from({ length: N * DIN }, rand);
const Y = new Float32Array(N * DOUT);
for (let i = 0; i < N; i++) {
  for (let o = 0; o < DOUT; o++) {
    let s = 0.5;
    for (let j = 0; j < DIN; j++) s += teacherW[o * DIN + j]! * X[i * DIN + j]!;
    Y[i * DOUT + o] = s + 0.01 * rand();
  }
}

/** Forward pass of one batch: mean loss and the per-sample factors A (inputs) and Δ (residuals). */
function pass(params: HostTree, start: number, n: number): { loss: number; A: Float32Array; D: Float32Array } {
  const W = params.W!;
  const b = params.b!;
  const A = X.subarray(start * DIN, (start + n) * DIN);
  const D = new Float32Array(n * DOUT);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    for (let o = 0; o < DOUT; o++) {
      let z = b[o]!;
      for (let j = 0; j < DIN; j++) z += W[o * DIN + j]! * A[i * DIN + j]!;
      const r = z - Y[(start + i) * DOUT + o]!;
      D[i * DOUT + o] = r; // ∂ℓᵢ/∂zᵢ — the gradient of the summed loss, not divided by n
      loss += 0.5 * r * r;
    }
  }
  return { loss: loss / n, A, D };
}

/** Σᵢ αᵢ∇ℓᵢ: weight gradient (α∘Δ)ᵀA and bias gradient Σᵢ αᵢΔᵢ. */
function weightedGradient(alpha: Float32Array, A: Float32Array, D: Float32Array, n: number): HostTree {
  const W = new Float32Array(DOUT * DIN);
  const b = new Float32Array(DOUT);
  for (let i = 0; i < n; i++) {
    for (let o = 0; o < DOUT; o++) {
      const d = alpha[i]! * D[i * DOUT + o]!;
      b[o]! += d;
      for (let j = 0; j < DIN; j++) W[o * DIN + j]! += d * A[i * DIN + j]!;
    }
  }
  return { W, b };
}

const device = await createDevice({ backend: 'cpu' }); // or 'webgpu' / 'auto'
// learning rate on SGD's scale: the direction is λ·Jᵀα = λ(F + λI)⁻¹g → g as λ → ∞
const opt = fngd({ device, learningRate: 2, damping: 1, momentum: 0, refresh: 'first-epoch' }); // no momentum: plain FNGD steps
let params: HostTree = { W: new Float32Array(DOUT * DIN), b: new Float32Array(DOUT) };
opt.init(params);

for (let epoch = 1; epoch <= 4; epoch++) {
  let total = 0;
  for (let key = 0; key < N / BATCH; key++) {
    const start = key * BATCH;
    const { loss, A, D } = pass(params, start, BATCH);
    total += loss;
    // 1. coefficients: computed from the factors on a miss or refresh, otherwise served from the cache
    const c = await opt.coefficients({
      batchKey: key,
      epoch,
      n: BATCH,
      factors: () => [{ kind: 'dense', inputs: device.matrix(A, [BATCH, DIN]), outputGrads: device.matrix(D, [BATCH, DOUT]) }],
    });
    // 2. the α-weighted gradient (what an autograd gives for ∇Σαᵢℓᵢ)
    const g = weightedGradient(c.alpha, A, D, BATCH);
    // 3. the step: direction λ·Jᵀα, reuse guard, learning rate
    params = opt.step(g, params, { coefficients: c, loss });
  }
  const s = opt.stats;
  console.log(
    `epoch ${epoch}: mean batch loss ${(total / (N / BATCH)).toExponential(3)}  factorizations ${s.factorizations}  cache hits ${s.cacheHits}  capped ${s.guard.capped}/${s.guard.reusedSteps}`,
  );
}
console.log(`cached: ${opt.stats.cachedBatches} batches, ${opt.stats.cachedFloats} floats (n per batch in global mode)`);
device.destroy();
