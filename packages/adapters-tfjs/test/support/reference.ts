/**
 * Float64 references shared by the graph and block tests.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Variable } from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { softmaxCrossEntropy, type FunctionModel } from '../../src/index.js';
import { capture } from '../../src/internal.js';
import { groupVariables } from '../../src/sites/types.js';
import { ngDirection, spdSolve } from '../helpers.js';

/** Column index sets of each site group's variables (in the model's variables order). */
export function groupBlocks(fm: FunctionModel, x: tf.Tensor, y: tf.Tensor): number[][] {
  const offsets = new Map<Variable, [number, number]>();
  let at = 0;
  for (const v of fm.variables) {
    offsets.set(v, [at, at + v.size]);
    at += v.size;
  }
  const cap = capture(fm, softmaxCrossEntropy, x, y);
  try {
    expect(cap.uncovered).toHaveLength(0);
    return cap.groups.map((g) =>
      groupVariables(g).flatMap((v) => {
        const [a, b] = offsets.get(v) as [number, number];
        return Array.from({ length: b - a }, (_, k) => a + k);
      }),
    );
  } finally {
    cap.dispose();
  }
}

/** p − η·λ(F+λI)⁻¹g with F block-diagonal over `blocks` (column index sets), or global when null. */
export function referenceStep(p0: number[], rows: number[][], blocks: number[][] | null, lr: number, damping: number): number[] {
  const d = p0.length;
  const dir = new Array<number>(d).fill(0);
  for (const cols of blocks ?? [Array.from({ length: d }, (_, k) => k)]) {
    const sub = rows.map((r) => cols.map((c) => r[c] as number));
    ngDirection(sub, damping).forEach((v, k) => (dir[cols[k] as number] = v));
  }
  return p0.map((p, k) => p - lr * (dir[k] as number));
}

/** α = (JJᵀ + nλI)⁻¹1 of rows J, float64. */
export function coefficients(rows: number[][], damping: number): number[] {
  const n = rows.length;
  const g = rows.map((a, i) => rows.map((b, j) => a.reduce((s, v, k) => s + v * (b[k] as number), 0) + (i === j ? n * damping : 0)));
  return spdSolve(g, new Array<number>(n).fill(1));
}

/** Cosine of two vectors. */
export function cosine(a: readonly number[], b: readonly number[]): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  a.forEach((v, i) => {
    ab += v * (b[i] as number);
    aa += v * v;
    bb += (b[i] as number) ** 2;
  });
  return ab / Math.sqrt(aa * bb);
}
