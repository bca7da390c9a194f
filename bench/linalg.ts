/** Benchmark cases for the linear-algebra kernels, with their peers. */
import type { LinalgDevice } from '@ifngd/linalg-gpu';
import { jaxCholesky, jaxMatmul } from './peers/jax.js';
import { tfjsGram, tfjsPeer } from './peers/tfjs.js';

export interface Runner {
  readonly run: () => Promise<void>;
  readonly dispose: () => void;
}

export interface BenchCase {
  readonly suite: string;
  readonly name: string;
  readonly flops?: number;
  readonly reps?: number;
  /** Time budget of the timed runs (ms; default `time`'s). */
  readonly budgetMs?: number;
  readonly note?: string;
  /** Name of another case on the same backend this one is compared with (`ratio = ms / baseline ms`). */
  readonly baseline?: string;
  setup(dev: LinalgDevice): Promise<Runner>;
  peer?(backend: 'cpu' | 'webgpu'): Promise<(Runner & { name: string }) | null>;
}

function random(count: number, seed = 1): Float32Array {
  let s = seed;
  return Float32Array.from({ length: count }, () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

function spd(batch: number, n: number): Float32Array {
  const out = new Float32Array(batch * n * n);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) out[b * n * n + i * n + j] = i === j ? n : 1 / (1 + Math.abs(i - j));
    }
  }
  return out;
}

function gemmCase(m: number, n: number, k: number, label = `gemm ${m}×${n}×${k}`): BenchCase {
  return {
    suite: 'gemm',
    name: label,
    flops: 2 * m * n * k,
    async setup(dev) {
      const a = dev.matrix(random(m * k, 1), [m, k]);
      const b = dev.matrix(random(k * n, 2), [k, n]);
      return {
        run: async () => {
          const c = dev.gemm(a, b);
          await dev.read(c);
          c.dispose();
        },
        dispose: () => {
          a.dispose();
          b.dispose();
        },
      };
    },
    async peer(backend) {
      const p = await tfjsPeer(backend === 'webgpu' ? 'webgpu' : 'wasm');
      const run = await p.matmul(m, n, k);
      return { name: p.name, run, dispose: () => p.dispose() };
    },
  };
}

function gramCase(n: number, d: number): BenchCase {
  return {
    suite: 'gram',
    name: `gram ${n}×${d}`,
    flops: n * n * d, // SYRK: half of the 2·n²·d of a full product
    async setup(dev) {
      const a = dev.matrix(random(n * d, 3), [n, d]);
      return {
        run: async () => {
          const g = dev.gram(a);
          await dev.read(g);
          g.dispose();
        },
        dispose: () => a.dispose(),
      };
    },
    async peer(backend) {
      const [run, dispose] = await tfjsGram(backend === 'webgpu' ? 'webgpu' : 'wasm', n, d);
      return { name: `tfjs-${backend === 'webgpu' ? 'webgpu' : 'wasm'} matMul(A,Aᵀ)`, run, dispose };
    },
  };
}

function choleskyCase(n: number, batch = 1, reps = 5, baseline?: string): BenchCase {
  return {
    suite: 'cholesky',
    name: batch > 1 ? `cholesky ${batch}×${n}` : `cholesky ${n}`,
    ...(baseline ? { baseline } : {}),
    flops: (batch * n ** 3) / 3,
    reps,
    async setup(dev) {
      const a = dev.matrix(spd(batch, n), batch > 1 ? [batch, n, n] : [n, n]);
      return {
        run: async () => {
          const l = dev.cholesky(a);
          await dev.read(l);
          l.dispose();
        },
        dispose: () => a.dispose(),
      };
    },
    async peer(backend) {
      if (backend !== 'webgpu') return null;
      const [run, dispose] = await jaxCholesky(n, batch);
      return { name: 'jax-js webgpu', run, dispose };
    },
  };
}

/** The GEMM with the same n³/3 flops as a Cholesky of order n: n×n×(n/6). */
function choleskyFlopGemm(n: number): BenchCase {
  const { peer: _none, ...c } = gemmCase(n, n, flopK(n), flopGemmName(n));
  return { ...c, suite: 'cholesky' };
}

const flopK = (n: number): number => Math.max(1, Math.round(n / 6));
const flopGemmName = (n: number): string => `gemm ${n}×${n}×${flopK(n)} (= cholesky ${n} flops)`;

function jaxMatmulCase(n: number): BenchCase {
  const c = gemmCase(n, n, n, `gemm ${n}×${n}×${n} vs jax-js`);
  return {
    ...c,
    async peer(backend) {
      if (backend !== 'webgpu') return null;
      const [run, dispose] = await jaxMatmul(n, n, n);
      return { name: 'jax-js webgpu', run, dispose };
    },
  };
}

export function linalgCases(backend: 'cpu' | 'webgpu', quick: boolean): BenchCase[] {
  const squares = quick ? [256, 512] : [256, 512, 1024, 2048];
  const chol = quick ? [64, 256] : [64, 256, 1024, 2048];
  const cases: BenchCase[] = squares.map((s) => gemmCase(s, s, s));
  if (backend === 'webgpu' && !quick) cases.push(jaxMatmulCase(1024));
  cases.push(gramCase(quick ? 128 : 256, quick ? 8192 : 50_000));
  for (const k of quick ? [1, 8] : [1, 8, 64]) cases.push(gramCase(128, 128 * k));
  for (const n of chol) {
    cases.push(choleskyCase(n, 1, n >= 2048 ? 2 : 5, n >= 256 ? flopGemmName(n) : undefined));
    if (n >= 256) cases.push(choleskyFlopGemm(n));
  }
  cases.push(choleskyCase(128, 64));
  return cases;
}
