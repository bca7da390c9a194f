/**
 * The register-blocked GEMM micro-kernel: an {@link MR}×{@link NR} tile of `Ã·B̃` over packed panels,
 * accumulated in float64 locals.
 *
 * The 2×5 shape was picked by measurement: V8 (x64) has 16 XMM registers, so 10 accumulators plus the two
 * A values and one B value fit without spills, while larger tiles (4×4) spill and run slower.
 * @internal
 * @module
 */

/** Rows of the micro-tile (values of a packed A panel per k step). */
export const MR = 2;
/** Columns of the micro-tile (values of a packed B panel per k step). */
export const NR = 5;

/**
 * Computes the MR×NR tile `Σ_p Ã[p]·B̃[p]ᵀ` over `kc` steps and stores it into `acc` (row stride `ldc`,
 * tile origin `co`), adding to its previous contents when `accumulate` is true.
 *
 * `pa` holds the A panel k-major (MR values per step from `ao`), `pb` the B panel k-major (NR values per
 * step from `bo`). Both are packed-double JS arrays; the loop body performs no allocation.
 */
export function microKernel(
  kc: number,
  pa: number[],
  ao: number,
  pb: number[],
  bo: number,
  acc: Float64Array,
  co: number,
  ldc: number,
  accumulate: boolean,
): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c04 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0, c14 = 0;
  for (let p = 0; p < kc; p++) {
    const a0 = pa[ao]!;
    const a1 = pa[ao + 1]!;
    let b = pb[bo]!;
    c00 += a0 * b; c10 += a1 * b;
    b = pb[bo + 1]!;
    c01 += a0 * b; c11 += a1 * b;
    b = pb[bo + 2]!;
    c02 += a0 * b; c12 += a1 * b;
    b = pb[bo + 3]!;
    c03 += a0 * b; c13 += a1 * b;
    b = pb[bo + 4]!;
    c04 += a0 * b; c14 += a1 * b;
    ao += 2;
    bo += 5;
  }
  const r1 = co + ldc;
  if (accumulate) {
    c00 += acc[co]!; c01 += acc[co + 1]!; c02 += acc[co + 2]!; c03 += acc[co + 3]!; c04 += acc[co + 4]!;
    c10 += acc[r1]!; c11 += acc[r1 + 1]!; c12 += acc[r1 + 2]!; c13 += acc[r1 + 3]!; c14 += acc[r1 + 4]!;
  }
  acc[co] = c00; acc[co + 1] = c01; acc[co + 2] = c02; acc[co + 3] = c03; acc[co + 4] = c04;
  acc[r1] = c10; acc[r1 + 1] = c11; acc[r1 + 2] = c12; acc[r1 + 3] = c13; acc[r1 + 4] = c14;
}
