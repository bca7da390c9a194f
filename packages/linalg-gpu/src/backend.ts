/**
 * The narrow interface every backend implements. The public {@link LinalgDevice} validates operands,
 * resolves shapes and broadcasting into a *plan*, and hands backends only valid plans over raw storage.
 * All storage is row-major and batch-major; every output is contiguous and freshly allocated by the caller.
 * @internal
 * @module
 */

/** `out[b] = alpha·op(A[b])·op(B[b]) + beta·C[b]`, `out[b]` is m×n. */
export interface GemmPlan {
  readonly batch: number;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** A is stored k×m (row-major) and used transposed; otherwise stored m×k. */
  readonly transA: boolean;
  /** B is stored n×k and used transposed; otherwise stored k×n. */
  readonly transB: boolean;
  readonly alpha: number;
  /** Ignored (treated as 0) when no C is given. */
  readonly beta: number;
  /** Elements between consecutive batch entries of A; 0 broadcasts one matrix over the batch. */
  readonly strideA: number;
  readonly strideB: number;
  /** Stride of C (m×n per entry); 0 broadcasts. Ignored without C. */
  readonly strideC: number;
}

/** `out[b] = A[b]·A[b]ᵀ` with A[b] n×d; out is symmetric n×n (both triangles written). */
export interface GramPlan {
  readonly batch: number;
  readonly n: number;
  readonly d: number;
}

/**
 * `out[b] = L` with `L·Lᵀ = A[b] + shift·I`, L lower triangular, strictly upper part set to 0.
 * `info[b]` = 0 on success, else the 1-based index of the first pivot that was ≤ 0 or not finite
 * (LAPACK potrf). Only the lower triangle of A is read. Contents of out[b] are unspecified when info[b] ≠ 0.
 */
export interface CholeskyPlan {
  readonly batch: number;
  readonly n: number;
  readonly shift: number;
}

/**
 * Solves `L[b]·X = B[b]` (or `L[b]ᵀ·X = B[b]` when `transpose`), L lower triangular n×n (its strictly upper
 * part is ignored), B n×nrhs; writes X to out (batch×n×nrhs, contiguous).
 */
export interface TrsmPlan {
  readonly batch: number;
  readonly n: number;
  readonly nrhs: number;
  readonly transpose: boolean;
  /** 0 broadcasts one L over the batch, else n·n. */
  readonly strideL: number;
  /** 0 broadcasts one B over the batch, else n·nrhs. */
  readonly strideB: number;
}

/**
 * A merged per-entry status (LAPACK `info` codes), written by {@link BackendImpl.status}: the status a
 * triangular solve records (`trtrs`, extended to non-finite diagonals), or the union of two operands' statuses.
 * For `e < count`, with `pᵢ(e)` the code of prior `i` as {@link LinalgDevice.readInfo} maps it (`prior[0]` when
 * its count is 1, `prior[e]` when `e <` its count, else 0; 0 for an absent prior):
 * - `out[e] = p₀(e)` when non-zero, else `p₁(e)` when non-zero (the earlier failure wins);
 * - else, when `n > 0`, `out[e] = −(j + 1)` for the first `j` whose diagonal entry `L[e][j][j]` (entry `e` of L
 *   at `e·strideL`) is 0 or not finite;
 * - else `out[e] = 0`.
 * Negative codes mark singular solves, positive ones failed factorizations (the device reports both as
 * positive 1-based indices and throws the matching error type).
 */
export interface StatusPlan {
  readonly count: number;
  /** Order of L; 0 when there is no diagonal to check (L absent). */
  readonly n: number;
  /** 0 when one L serves every entry, else n·n. */
  readonly strideL: number;
  /** Codes in each prior (0 for an absent one). */
  readonly priorCounts: readonly [number, number];
}

/** What a backend reports about its resources (diagnostics, leak tests). */
export interface BackendStats {
  /** GPU buffers that exist now: held by matrices, pooled, uniform and staging buffers (WebGPU only). */
  readonly gpuBuffers: number;
  /** Of those, the storage buffers kept in the free pool for reuse. */
  readonly pooledBuffers: number;
}

/**
 * Element-wise maps over `batch` entries of `size` elements each (out is batch×size, contiguous):
 * - `axpby`: `out = alpha·a + beta·b + gamma` (b absent: `alpha·a + gamma`)
 * - `mul`:   `out = alpha·(a + gamma)∘b`
 */
export interface ElementwisePlan {
  readonly op: 'axpby' | 'mul';
  readonly batch: number;
  readonly size: number;
  readonly alpha: number;
  readonly beta: number;
  readonly gamma: number;
  /** 0 broadcasts, else size. */
  readonly strideA: number;
  /** 0 broadcasts, else size. Ignored when b is absent. */
  readonly strideB: number;
}

/** `out[0] = Σ_b weight_b·A[b]` over `batch` entries of `size` elements (weights all 1 when absent). */
export interface SumBatchPlan {
  readonly batch: number;
  readonly size: number;
}

/**
 * One run of a {@link BackendImpl.copy}: `count` 4-byte elements from `src[srcOffset…]` to `dst[dstOffset…]`
 * (offsets and counts in elements, not bytes).
 */
export interface CopyRange {
  readonly srcOffset: number;
  readonly dstOffset: number;
  readonly count: number;
}

/** Limits a backend reports; the device checks operands against them before planning. */
export interface BackendLimits {
  /** Largest number of float32 elements one storage may hold. */
  readonly maxElements: number;
  /**
   * Largest number of float32 elements one kernel binds at once. Backends split larger work over several
   * bindings themselves and throw DeviceLimitError, recording nothing, where they cannot (see
   * `DeviceInfo.maxBindingElements`).
   */
  readonly maxBindingElements: number;
}

/**
 * What a backend implements. `S` is its storage handle (a GPUBuffer, a Float32Array…).
 * Float storage holds float32 elements; info storage holds int32 elements.
 * Operations only enqueue work; `read`/`readInfo` are the only awaits.
 */
export interface BackendImpl<S = unknown> {
  readonly kind: 'webgpu' | 'cpu';
  readonly limits: BackendLimits;
  /** Human-readable description (adapter name, threads…). */
  readonly description: string;
  upload(data: Float32Array): S;
  /**
   * Copies `elements` float32 values starting at `byteOffset` of a GPUBuffer of the same device into new
   * storage, on the GPU, submitted at once (WebGPU backend only).
   */
  importGpuBuffer?(buffer: GPUBuffer, byteOffset: number, elements: number): S;
  /** Storage for `elements` float32 values; contents unspecified. */
  alloc(elements: number): S;
  /** Storage for `count` int32 values, zero-initialised. */
  allocInfo(count: number): S;
  free(storage: S): void;
  gemm(plan: GemmPlan, a: S, b: S, c: S | null, out: S): void;
  gram(plan: GramPlan, a: S, out: S): void;
  cholesky(plan: CholeskyPlan, a: S, out: S, info: S): void;
  /**
   * Throws DeviceLimitError when {@link BackendImpl.cholesky} would refuse `plan` (WebGPU: one batch entry
   * beyond a storage binding), recording nothing; `what` names the operation in the message. Absent: nothing
   * is refused.
   */
  checkCholesky?(plan: CholeskyPlan, what: string): void;
  triangularSolve(plan: TrsmPlan, l: S, b: S, out: S): void;
  /**
   * Throws DeviceLimitError when {@link BackendImpl.triangularSolve} would refuse `plan` (WebGPU: one batch
   * entry of L, B or X beyond a storage binding), recording nothing; `what` names the operation in the
   * message. Absent: nothing is refused.
   */
  checkTriangularSolve?(plan: TrsmPlan, what: string): void;
  /**
   * Writes a merged status into the info storage `out` (see {@link StatusPlan}): L is float storage (null
   * when `plan.n` is 0), the priors info storages (null when absent; `out` is neither).
   */
  status(plan: StatusPlan, l: S | null, prior0: S | null, prior1: S | null, out: S): void;
  elementwise(plan: ElementwisePlan, a: S, b: S | null, out: S): void;
  sumBatch(plan: SumBatchPlan, a: S, out: S): void;
  /**
   * Copies element ranges of `src` into `dst`, in order (ordered with the work enqueued before and after).
   * Both are float storages or both info storages (4-byte elements either way); `dst` is never `src`, and
   * ranges lie within both storages and do not overlap in `dst`.
   */
  copy(ranges: readonly CopyRange[], src: S, dst: S): void;
  /** Float32 contents of the first `elements` values. */
  read(storage: S, elements: number): Promise<Float32Array>;
  /** Int32 contents of the first `count` values of an info storage. */
  readInfo(storage: S, count: number): Promise<Int32Array>;
  /** Resolves when all work enqueued so far has finished (benchmarks); optional for synchronous backends. */
  sync?(): Promise<void>;
  /**
   * Why the device is gone when it was lost (WebGPU: `GPUDevice.lost` settled, or a readback found it gone),
   * else null. Once non-null it stays so; the device then refuses every operation.
   */
  lostReason?(): string | null;
  /** Resource counts (WebGPU). */
  stats?(): BackendStats;
  destroy(): void;
}
