/**
 * Cache-blocked, packed GEMM over float32 or float64 operands with float64 accumulation.
 *
 * Operands are strided views, so transposes, sub-matrices and float64 work matrices (Cholesky, TRSM) all
 * go through the same code: panels of `op(A)` and `op(B)` are packed into float64 scratch (which is where
 * transposes disappear), then a micro-kernel sweeps register tiles over the packed blocks: the WebAssembly
 * SIMD kernel of {@link WasmGemm} (4×4 tiles of `f64x2`, operands packed straight into its memory) where
 * the runtime supports it, else the JavaScript {@link microKernel} (2×5 tiles). Both sum every entry in
 * the same order in float64, so they produce bit-identical results.
 * @internal
 * @module
 */
import { MR, NR, microKernel } from './microkernel.js';
import { PackedScratch, Scratch } from './scratch.js';
import { NO_DIAG, WMR, WNR, WasmGemm, wasmSimdSupported } from './wasm-gemm.js';

/** Which micro-kernel the packed path uses: the WebAssembly SIMD one or the pure-JavaScript one. */
export type GemmKernelKind = 'wasm' | 'js';

/** Chosen once at module load: WebAssembly SIMD where the runtime validates it, else JavaScript. */
let kernelKind: GemmKernelKind = wasmSimdSupported ? 'wasm' : 'js';

/** The micro-kernel in use by every {@link GemmEngine}. */
export function gemmKernel(): GemmKernelKind {
  return kernelKind;
}

/**
 * Selects the micro-kernel (tests and benchmarks compare both paths). Throws when `'wasm'` is requested
 * on a runtime without WebAssembly SIMD.
 * @internal
 */
export function setGemmKernel(kind: GemmKernelKind): void {
  if (kind === 'wasm' && !wasmSimdSupported) throw new Error('WebAssembly SIMD is not supported by this runtime');
  kernelKind = kind;
}

/** Any dense real storage the engine reads or writes. */
export type RealArray = Float32Array | Float64Array;

/** A strided matrix view: element (i, j) lives at `data[offset + i·rowStride + j·colStride]`. */
export interface MatrixView {
  readonly data: RealArray;
  readonly offset: number;
  readonly rowStride: number;
  readonly colStride: number;
}

/**
 * Where and how a product lands: `out(i, j) = alpha·acc(i, j) + beta·c(i, j)` with out and c row-major
 * (leading dimensions `ld` and `cld`). `c` is not read when null or when `beta` is 0. With `lowerOnly`,
 * only entries with `j ≤ i` are computed and written (the product must then be square).
 */
export interface GemmTarget {
  readonly data: RealArray;
  readonly offset: number;
  readonly ld: number;
  readonly alpha: number;
  readonly beta: number;
  readonly c: RealArray | null;
  readonly cOffset: number;
  readonly cld: number;
  readonly lowerOnly: boolean;
}

/** Depth of a packed block (k direction). */
const KC = 256;
/** Rows of a packed A block (kept in L2 while B micro-panels stream through L1). */
const MC = MR * Math.floor(128 / MR);
/** Columns of a packed B block. */
const NC = NR * Math.floor(512 / NR);
/** Rows accumulated at once; bounds the float64 accumulator to MB×NC. */
const MB = MC * 4;
/** Blocking of the wasm path (multiples of its WMR×WNR tile). */
const W_KC = KC; // equal to the JS path's depth: same summation order, bit-identical results
const W_MC = WMR * Math.floor(128 / WMR);
const W_NC = WNR * Math.floor(512 / WNR);
const W_MB = W_MC * 4;
/**
 * The wasm tile as module-local constants: hot loops then never read an imported binding (module
 * transforms of test runners and loaders turn those into getter calls).
 */
const TM = WMR;
const TN = WNR;
/** Below this many multiply-adds the direct triple loop beats packing. */
const SMALL_WORK = 24 * 24 * 24;

/**
 * Packs rows `[r0, r0+m)` × depth `[p0, p0+k)` of a view into `w`-row panels, k-major (panel element
 * `(row, p)` at `p·w + row`), zero-padding the last panel to `w` rows, into `dst` from element `at`. Both
 * operands of both paths go through it: A's rows into MR- (wasm: WMR-) row panels, B's columns — the rows of
 * the transposed view — into NR- (wasm: WNR-) column panels.
 */
function packPanels(v: MatrixView, r0: number, m: number, p0: number, k: number, w: number, dst: number[] | Float64Array, at: number): void {
  const { data, rowStride: rs, colStride: cs } = v;
  const base0 = v.offset + r0 * rs + p0 * cs;
  for (let ir = 0; ir < m; ir += w) {
    const panel = at + ir * k;
    const rows = Math.min(w, m - ir);
    if (Math.abs(cs) <= Math.abs(rs)) {
      // Rows are contiguous-ish: walk each row along k.
      for (let ii = 0; ii < w; ii++) {
        let d = panel + ii;
        if (ii < rows) {
          let s = base0 + (ir + ii) * rs;
          for (let p = 0; p < k; p++) {
            dst[d] = data[s]!;
            s += cs;
            d += w;
          }
        } else {
          for (let p = 0; p < k; p++) {
            dst[d] = 0;
            d += w;
          }
        }
      }
    } else {
      // Columns are contiguous-ish: walk across the rows for each k.
      for (let p = 0; p < k; p++) {
        const s = base0 + ir * rs + p * cs;
        const d = panel + p * w;
        let ii = 0;
        for (; ii < rows; ii++) dst[d + ii] = data[s + ii * rs]!;
        for (; ii < w; ii++) dst[d + ii] = 0;
      }
    }
  }
}

/** The transposed view (rows and columns swapped; no copy). */
const transposed = (v: MatrixView): MatrixView => ({ data: v.data, offset: v.offset, rowStride: v.colStride, colStride: v.rowStride });

/**
 * Writes an `mb×nb` accumulator block (starting at element `at` of `acc`) whose top-left entry is
 * `(i0, j0)` of the product into the target.
 */
function storeBlock(
  t: GemmTarget,
  acc: Float64Array,
  at: number,
  ldAcc: number,
  i0: number,
  j0: number,
  mb: number,
  nb: number,
): void {
  const { data, ld, alpha, beta, c, cld } = t;
  const useC = c !== null && beta !== 0;
  for (let i = 0; i < mb; i++) {
    const cols = t.lowerOnly ? Math.min(nb, i0 + i - j0 + 1) : nb;
    const a = at + i * ldAcc;
    const o = t.offset + (i0 + i) * ld + j0;
    if (useC) {
      const co = t.cOffset + (i0 + i) * cld + j0;
      for (let j = 0; j < cols; j++) data[o + j] = alpha * acc[a + j]! + beta * c[co + j]!;
    } else {
      for (let j = 0; j < cols; j++) data[o + j] = alpha * acc[a + j]!;
    }
  }
}

/** Direct float64 triple loop for tiny products (no packing overhead). */
function smallGemm(m: number, n: number, k: number, a: MatrixView, b: MatrixView, t: GemmTarget): void {
  const { data: ad, rowStride: ars, colStride: acs } = a;
  const { data: bd, rowStride: brs, colStride: bcs } = b;
  const { data: od, ld, alpha, beta, c, cld } = t;
  const useC = c !== null && beta !== 0;
  for (let i = 0; i < m; i++) {
    const cols = t.lowerOnly ? Math.min(n, i + 1) : n;
    const aRow = a.offset + i * ars;
    for (let j = 0; j < cols; j++) {
      let s = 0;
      let ai = aRow;
      let bi = b.offset + j * bcs;
      for (let p = 0; p < k; p++) {
        s += ad[ai]! * bd[bi]!;
        ai += acs;
        bi += brs;
      }
      let v = alpha * s;
      if (useC) v += beta * c[t.cOffset + i * cld + j]!;
      od[t.offset + i * ld + j] = v;
    }
  }
}

/**
 * Blocked GEMM engine. Holds its packing and accumulator scratch so repeated calls do not allocate.
 * Not re-entrant (one engine per backend, operations run synchronously).
 */
export class GemmEngine {
  private readonly packedA = new PackedScratch();
  private readonly packedB = new PackedScratch();
  private readonly accum = new Scratch();
  /** The wasm kernel instance and its memory, created on first use. */
  private wasm: WasmGemm | null = null;

  /**
   * `target ← alpha·A·B + beta·C` for an m×k view `a` and a k×n view `b`, accumulating in float64.
   * With `target.lowerOnly` (m = n), only the lower triangle is computed, roughly halving the work.
   */
  multiply(m: number, n: number, k: number, a: MatrixView, b: MatrixView, target: GemmTarget): void {
    if (m === 0 || n === 0) return;
    if (k === 0 || m * n * k <= SMALL_WORK) {
      smallGemm(m, n, k, a, b, target);
      return;
    }
    if (kernelKind === 'wasm') {
      this.multiplyWasm(m, n, k, a, b, target);
      return;
    }
    const lowerOnly = target.lowerOnly;
    const bt = transposed(b);
    const pa = this.packedA.get(Math.min(MC, roundUp(m, MR)) * Math.min(KC, k));
    const pb = this.packedB.get(Math.min(KC, k) * Math.min(NC, roundUp(n, NR)));
    const acc = this.accum.get(Math.min(MB, roundUp(m, MR)) * Math.min(NC, roundUp(n, NR)));
    for (let i0 = 0; i0 < m; i0 += MB) {
      const mb = Math.min(MB, m - i0);
      for (let j0 = 0; j0 < n; j0 += NC) {
        if (lowerOnly && j0 > i0 + mb - 1) break;
        const nb = lowerOnly ? Math.min(NC, n - j0, i0 + mb - j0) : Math.min(NC, n - j0);
        const ldAcc = roundUp(nb, NR);
        for (let p0 = 0; p0 < k; p0 += KC) {
          const kc = Math.min(KC, k - p0);
          const accumulate = p0 > 0;
          packPanels(bt, j0, nb, p0, kc, NR, pb, 0);
          for (let ii = 0; ii < mb; ii += MC) {
            const mc = Math.min(MC, mb - ii);
            packPanels(a, i0 + ii, mc, p0, kc, MR, pa, 0);
            for (let jr = 0; jr < nb; jr += NR) {
              // With lowerOnly, skip micro-tiles lying entirely above the diagonal.
              let ir = 0;
              if (lowerOnly) {
                const firstRow = j0 + jr - (i0 + ii) - (MR - 1);
                if (firstRow > 0) ir = Math.floor(firstRow / MR) * MR;
              }
              for (; ir < mc; ir += MR) {
                microKernel(kc, pa, ir * kc, pb, jr * kc, acc, (ii + ir) * ldAcc + jr, ldAcc, accumulate);
              }
            }
          }
        }
        storeBlock(target, acc, 0, ldAcc, i0, j0, mb, nb);
      }
    }
  }

  /** The packed path over the wasm SIMD kernel: operands are packed straight into the wasm memory. */
  private multiplyWasm(m: number, n: number, k: number, a: MatrixView, b: MatrixView, target: GemmTarget): void {
    const lowerOnly = target.lowerOnly;
    const bt = transposed(b);
    const wasm = (this.wasm ??= new WasmGemm());
    // op(B) is op(A)ᵀ over the same storage, and A panels have the layout of B panels.
    const symmetric =
      TM === TN && a.data === b.data && a.offset === b.offset && a.rowStride === b.colStride && a.colStride === b.rowStride;
    // Layout (float64 elements, all even so v128 accesses stay 16-byte aligned): [packed A | packed B | acc].
    const paAt = 0;
    const pbAt = paAt + Math.min(W_MC, roundUp(m, WMR)) * Math.min(W_KC, k);
    const accAt = roundUp(pbAt + Math.min(W_KC, k) * Math.min(W_NC, roundUp(n, WNR)), 2);
    const mem = wasm.reserve(accAt + Math.min(W_MB, roundUp(m, WMR)) * Math.min(W_NC, roundUp(n, WNR)));
    for (let i0 = 0; i0 < m; i0 += W_MB) {
      const mb = Math.min(W_MB, m - i0);
      for (let j0 = 0; j0 < n; j0 += W_NC) {
        if (lowerOnly && j0 > i0 + mb - 1) break;
        const nb = lowerOnly ? Math.min(W_NC, n - j0, i0 + mb - j0) : Math.min(W_NC, n - j0);
        const ldAcc = roundUp(nb, WNR);
        for (let p0 = 0; p0 < k; p0 += W_KC) {
          const kc = Math.min(W_KC, k - p0);
          packPanels(bt, j0, nb, p0, kc, TN, mem, pbAt);
          for (let ii = 0; ii < mb; ii += W_MC) {
            const mc = Math.min(W_MC, mb - ii);
            const r0 = i0 + ii;
            // Row block entirely above the diagonal: nothing of it is stored.
            if (lowerOnly && j0 > r0 + mc - 1) continue;
            let pa = paAt;
            if (symmetric && r0 >= j0 && r0 + mc <= j0 + nb && (r0 - j0) % TN === 0) {
              // op(B) = op(A)ᵀ (Gram, Cholesky updates): these rows of op(A) are already packed, in the same
              // layout, as columns r0−j0… of the B block.
              pa = pbAt + (r0 - j0) * kc;
            } else {
              packPanels(a, r0, mc, p0, kc, TM, mem, paAt);
            }
            const diag = lowerOnly ? j0 - r0 : NO_DIAG;
            wasm.block(kc, mc, nb, pa, pbAt, accAt + ii * ldAcc, ldAcc, p0 > 0, diag);
          }
        }
        storeBlock(target, mem, accAt, ldAcc, i0, j0, mb, nb);
      }
    }
  }

  /** Releases the scratch buffers. */
  release(): void {
    this.wasm = null;
    this.packedA.release();
    this.packedB.release();
    this.accum.release();
  }
}

function roundUp(x: number, multiple: number): number {
  return Math.ceil(x / multiple) * multiple;
}
