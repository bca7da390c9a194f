/**
 * Merged statuses on the CPU: the inherited codes, else the first zero or non-finite diagonal entry of L (see
 * {@link StatusPlan}).
 * @internal
 * @module
 */
import type { StatusPlan } from '../backend.js';

/** Code `e` of a prior as `readInfo` maps it. */
function priorCode(prior: Int32Array | null, count: number, e: number): number {
  if (prior === null || count === 0) return 0;
  if (count === 1) return prior[0]!;
  return e < count ? prior[e]! : 0;
}

/** Fills `out[0…count)` as {@link StatusPlan} describes. */
export function statusInto(
  plan: StatusPlan,
  l: Float32Array | null,
  prior0: Int32Array | null,
  prior1: Int32Array | null,
  out: Int32Array,
): void {
  const { count, n, strideL, priorCounts } = plan;
  for (let e = 0; e < count; e++) {
    let code = priorCode(prior0, priorCounts[0], e);
    if (code === 0) code = priorCode(prior1, priorCounts[1], e);
    if (code === 0 && l !== null) {
      const base = e * strideL;
      for (let j = 0; j < n; j++) {
        const d = l[base + j * (n + 1)]!;
        if (d === 0 || !Number.isFinite(d)) {
          code = -(j + 1);
          break;
        }
      }
    }
    out[e] = code;
  }
}
