/**
 * `npm run demo`: picks the best device, solves a batch of SPD systems the way FNGD does
 * (α = (G + nλI)⁻¹·1 for a batch of per-layer Grams), runs a large GEMM, and reports residuals and throughput.
 */
import { createDevice } from '@ifngd/linalg-gpu';

process.env.XDG_RUNTIME_DIR ??= '/tmp';

function random(count: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: count }, () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

const ms = (t0: number): number => performance.now() - t0;

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(`npm run demo:linalg -- [--backend=auto|cpu|webgpu]

Solves a batch of SPD systems the way FNGD does (α = (G + nλI)⁻¹·1 for 8 Grams of 128 samples × 2048 parameters)
and runs a 1024³ GEMM on the best device (or the one named), printing residuals checked in float64 and throughput.`);
  process.exit(0);
}
const backend = (process.argv.find((a) => a.startsWith('--backend='))?.split('=')[1] ?? 'auto') as 'auto' | 'cpu' | 'webgpu';
const dev = await createDevice({ backend });
console.log(`device: ${dev.backend} — ${dev.info.description}`);

// 1. A batch of FNGD-sized systems: L layers, n samples, per-sample "gradients" of d parameters.
const L = 8;
const n = 128;
const d = 2048;
const lambda = 0.1;
const jData = random(L * n * d, 7);
let t0 = performance.now();
const J = dev.matrix(jData, [L, n, d]);
const G = dev.gram(J); // [L, n, n] = J·Jᵀ per layer
const ones = dev.full([n, 1], 1);
const alpha = dev.choleskySolve(G, ones, { shift: n * lambda }); // (G + nλI)⁻¹·1 per layer
const alphaHost = await dev.read(alpha);
const solveMs = ms(t0);

// residual ‖(G + nλI)α − 1‖∞ from a float64 recomputation of G on the host for the first layer
let worst = 0;
{
  const g = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let p = 0; p < d; p++) s += jData[i * d + p]! * jData[j * d + p]!;
      g[i * n + j] = g[j * n + i] = s;
    }
  }
  for (let i = 0; i < n; i++) {
    let s = n * lambda * alphaHost[i]!;
    for (let j = 0; j < n; j++) s += g[i * n + j]! * alphaHost[j]!;
    worst = Math.max(worst, Math.abs(s - 1));
  }
}
console.log(
  `batched SPD solve: ${L} systems of order ${n} (Gram of ${n}×${d} each + Cholesky + 2 triangular solves) in ${solveMs.toFixed(1)} ms; ` +
    `residual ‖(G+nλI)α − 1‖∞ = ${worst.toExponential(2)} (layer 0, float64 check)`,
);
for (const m of [J, G, ones, alpha]) m.dispose();

// 2. A large GEMM, timed after a warm-up.
const N = 1024;
const a = dev.matrix(random(N * N, 1), [N, N]);
const b = dev.matrix(random(N * N, 2), [N, N]);
const warm = dev.gemm(a, b); // warm-up: compiles pipelines / JIT tiers
await dev.read(warm);
warm.dispose();
t0 = performance.now();
const c = dev.gemm(a, b);
const cHost = await dev.read(c);
const gemmMs = ms(t0);
// spot-check a few entries against float64
const aH = await dev.read(a);
const bH = await dev.read(b);
let gemmErr = 0;
for (const [i, j] of [
  [0, 0],
  [N - 1, N - 1],
  [N >> 1, 7],
]) {
  let s = 0;
  for (let p = 0; p < N; p++) s += aH[i! * N + p]! * bH[p * N + j!]!;
  gemmErr = Math.max(gemmErr, Math.abs(cHost[i! * N + j!]! - s) / Math.max(1, Math.abs(s)));
}
console.log(
  `GEMM ${N}×${N}×${N}: ${gemmMs.toFixed(1)} ms = ${((2 * N ** 3) / gemmMs / 1e6).toFixed(2)} GFLOP/s; spot-check relative error ${gemmErr.toExponential(2)}`,
);
dev.destroy();
