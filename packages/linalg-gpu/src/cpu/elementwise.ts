/**
 * Element-wise maps (`axpby`, `mul`) and batch sums, evaluated in float64 and stored as float32.
 * @internal
 * @module
 */
import type { ElementwisePlan, SumBatchPlan } from '../backend.js';
import type { Scratch } from './scratch.js';

/**
 * `axpby`: `out = alpha·a + beta·b + gamma` (`alpha·a + gamma` without b);
 * `mul`: `out = alpha·(a + gamma)∘b`. Strides of 0 broadcast one entry over the batch.
 */
export function elementwiseInto(plan: ElementwisePlan, a: Float32Array, b: Float32Array | null, out: Float32Array): void {
  const { op, batch, size, alpha, beta, gamma, strideA, strideB } = plan;
  for (let e = 0; e < batch; e++) {
    const ao = e * strideA;
    const oo = e * size;
    if (op === 'axpby') {
      if (b === null) {
        for (let i = 0; i < size; i++) out[oo + i] = alpha * a[ao + i]! + gamma;
      } else {
        const bo = e * strideB;
        for (let i = 0; i < size; i++) out[oo + i] = alpha * a[ao + i]! + beta * b[bo + i]! + gamma;
      }
    } else {
      if (b === null) throw new Error("elementwise 'mul' needs a second operand");
      const bo = e * strideB;
      for (let i = 0; i < size; i++) out[oo + i] = alpha * (a[ao + i]! + gamma) * b[bo + i]!;
    }
  }
}

/** `out[0:size] = Σ_b A[b]` over `batch` contiguous entries, accumulated in float64. */
export function sumBatchInto(plan: SumBatchPlan, a: Float32Array, out: Float32Array, work: Scratch): void {
  const { batch, size } = plan;
  const acc = work.get(size);
  acc.fill(0, 0, size);
  for (let e = 0; e < batch; e++) {
    const ao = e * size;
    for (let i = 0; i < size; i++) acc[i]! += a[ao + i]!;
  }
  for (let i = 0; i < size; i++) out[i] = acc[i]!;
}
