/**
 * The CPU backend: JavaScript kernels (GEMM micro-kernel in WebAssembly SIMD where available) with
 * float64 accumulation over float32 storage. It is the default where no GPU exists; operations execute
 * synchronously when called.
 * @internal
 * @module
 */
import type {
  BackendImpl,
  BackendLimits,
  CholeskyPlan,
  CopyRange,
  ElementwisePlan,
  GemmPlan,
  GramPlan,
  SumBatchPlan,
  TrsmPlan,
  StatusPlan,
} from '../backend.js';
import { choleskyInto } from './cholesky.js';
import { copyRanges } from './copy.js';
import { elementwiseInto, sumBatchInto } from './elementwise.js';
import { GemmEngine, gemmKernel } from './gemm.js';
import { Scratch } from './scratch.js';
import { asFloat, asInfo, type CpuStorage } from './storage.js';
import { gramInto } from './syrk.js';
import { triangularSolveInto } from './trsm.js';
import { statusInto } from './status.js';

export type { CpuStorage } from './storage.js';

/**
 * {@link BackendImpl} over `Float32Array` / `Int32Array` storage. Every product, factorization and solve
 * accumulates in float64 and rounds once to float32 on store. Scratch buffers are kept between calls.
 */
export class CpuBackend implements BackendImpl<CpuStorage> {
  readonly kind = 'cpu' as const;
  readonly limits: BackendLimits = { maxElements: 2 ** 30, maxBindingElements: 2 ** 30 };
  /** Names the GEMM micro-kernel in use (WebAssembly SIMD where supported, else JavaScript). */
  get description(): string {
    return gemmKernel() === 'wasm' ? 'CPU (WebAssembly SIMD, float64 accumulation)' : 'CPU (JavaScript, float64 accumulation)';
  }

  private readonly engine = new GemmEngine();
  /** Float64 work matrix of Cholesky, right-hand sides of TRSM, accumulator of sumBatch. */
  private readonly work = new Scratch();

  upload(data: Float32Array): CpuStorage {
    return data.slice();
  }

  alloc(elements: number): CpuStorage {
    return new Float32Array(elements);
  }

  allocInfo(count: number): CpuStorage {
    return new Int32Array(count);
  }

  free(_storage: CpuStorage): void {
    // Garbage collected.
  }

  gemm(plan: GemmPlan, a: CpuStorage, b: CpuStorage, c: CpuStorage | null, out: CpuStorage): void {
    const { batch, m, n, k, transA, transB, alpha, strideA, strideB, strideC } = plan;
    const ad = asFloat(a);
    const bd = asFloat(b);
    const cd = c === null ? null : asFloat(c);
    const od = asFloat(out);
    const beta = cd === null ? 0 : plan.beta;
    for (let e = 0; e < batch; e++) {
      this.engine.multiply(
        m,
        n,
        k,
        transA
          ? { data: ad, offset: e * strideA, rowStride: 1, colStride: m }
          : { data: ad, offset: e * strideA, rowStride: k, colStride: 1 },
        transB
          ? { data: bd, offset: e * strideB, rowStride: 1, colStride: k }
          : { data: bd, offset: e * strideB, rowStride: n, colStride: 1 },
        { data: od, offset: e * m * n, ld: n, alpha, beta, c: cd, cOffset: e * strideC, cld: n, lowerOnly: false },
      );
    }
  }

  gram(plan: GramPlan, a: CpuStorage, out: CpuStorage): void {
    const { batch, n, d } = plan;
    const ad = asFloat(a);
    const od = asFloat(out);
    for (let e = 0; e < batch; e++) gramInto(this.engine, n, d, ad, e * n * d, od, e * n * n);
  }

  cholesky(plan: CholeskyPlan, a: CpuStorage, out: CpuStorage, info: CpuStorage): void {
    const { batch, n, shift } = plan;
    const ad = asFloat(a);
    const od = asFloat(out);
    const id = asInfo(info);
    for (let e = 0; e < batch; e++) {
      id[e] = choleskyInto(this.engine, this.work, n, shift, ad, e * n * n, od, e * n * n);
    }
  }

  triangularSolve(plan: TrsmPlan, l: CpuStorage, b: CpuStorage, out: CpuStorage): void {
    const { batch, n, nrhs, transpose, strideL, strideB } = plan;
    const ld = asFloat(l);
    const bd = asFloat(b);
    const od = asFloat(out);
    for (let e = 0; e < batch; e++) {
      triangularSolveInto(this.engine, this.work, n, nrhs, transpose, ld, e * strideL, bd, e * strideB, od, e * n * nrhs);
    }
  }

  status(plan: StatusPlan, l: CpuStorage | null, prior0: CpuStorage | null, prior1: CpuStorage | null, out: CpuStorage): void {
    const info = (s: CpuStorage | null): Int32Array | null => (s === null ? null : asInfo(s));
    statusInto(plan, l === null ? null : asFloat(l), info(prior0), info(prior1), asInfo(out));
  }

  elementwise(plan: ElementwisePlan, a: CpuStorage, b: CpuStorage | null, out: CpuStorage): void {
    elementwiseInto(plan, asFloat(a), b === null ? null : asFloat(b), asFloat(out));
  }

  sumBatch(plan: SumBatchPlan, a: CpuStorage, out: CpuStorage): void {
    sumBatchInto(plan, asFloat(a), asFloat(out), this.work);
  }

  copy(ranges: readonly CopyRange[], src: CpuStorage, dst: CpuStorage): void {
    copyRanges(ranges, src, dst);
  }

  read(storage: CpuStorage, elements: number): Promise<Float32Array> {
    return Promise.resolve(asFloat(storage).slice(0, elements));
  }

  readInfo(storage: CpuStorage, count: number): Promise<Int32Array> {
    return Promise.resolve(asInfo(storage).slice(0, count));
  }

  destroy(): void {
    this.engine.release();
    this.work.release();
  }
}
