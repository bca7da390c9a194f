/**
 * The number that decides whether FNGD's first epoch is cheap: one step's curvature work (per-layer Grams
 * from factors + their sum + batched Cholesky solve, α read back) against the plain GEMM-based weight
 * gradients ΔᵀA of the same layers, for an MLP 784→256→10 at batch n.
 */
import { denseGram, solveCoefficients, stackGrams, sumGrams } from '@ifngd/fisher';
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import type { BenchCase } from './linalg.js';

const LAYERS = [
  [784, 256],
  [256, 10],
] as const;

function random(count: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: count }, () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

function factors(dev: LinalgDevice, n: number): { a: Matrix[]; d: Matrix[] } {
  return {
    a: LAYERS.map(([din], i) => dev.matrix(random(n * din, 10 + i), [n, din])),
    d: LAYERS.map(([, dout], i) => dev.matrix(random(n * dout, 20 + i).map((x) => x * 1e-2), [n, dout])),
  };
}

const disposeAll = (ms: Matrix[]): void => ms.forEach((m) => m.dispose());

function curvature(n: number, mode: 'global' | 'layerwise'): BenchCase {
  return {
    suite: 'fngd-step',
    name: `curvature ${mode} n=${n} (784→256→10)`,
    baseline: weightGradientName(n),
    async setup(dev) {
      const { a, d } = factors(dev, n);
      return {
        run: async () => {
          const grams = LAYERS.map((_, l) => denseGram(dev, a[l]!, d[l]!));
          const g = mode === 'global' ? sumGrams(dev, grams) : stackGrams(dev, grams);
          await solveCoefficients(dev, g, 0.1);
          disposeAll([...grams, g]);
        },
        dispose: () => disposeAll([...a, ...d]),
      };
    },
  };
}

const weightGradientName = (n: number): string => `weight gradients ΔᵀA n=${n} (784→256→10)`;

function weightGradients(n: number): BenchCase {
  return {
    suite: 'fngd-step',
    name: weightGradientName(n),
    flops: LAYERS.reduce((s, [din, dout]) => s + 2 * n * din * dout, 0),
    async setup(dev) {
      const { a, d } = factors(dev, n);
      return {
        run: async () => {
          const gs = LAYERS.map((_, l) => dev.gemm(d[l]!, a[l]!, { transA: true }));
          await Promise.all(gs.map((g) => dev.read(g)));
          disposeAll(gs);
        },
        dispose: () => disposeAll([...a, ...d]),
      };
    },
  };
}

export function curvatureCases(_backend: 'cpu' | 'webgpu', quick: boolean): BenchCase[] {
  const ns = quick ? [128] : [128, 256];
  return ns.flatMap((n) => [weightGradients(n), curvature(n, 'global'), curvature(n, 'layerwise')]);
}
