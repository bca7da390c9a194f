/**
 * The public device: validates operands, plans shapes and broadcasting, owns handle lifetimes, and delegates
 * the arithmetic to a backend (WebGPU or CPU).
 * @module
 */
import type { BackendImpl, StatusPlan } from './backend.js';
import {
  DeviceLimitError,
  DeviceLostError,
  DeviceMismatchError,
  DisposedError,
  InvalidArgumentError,
  NotPositiveDefiniteError,
  ShapeError,
  SingularMatrixError,
} from './errors.js';
import { Matrix, SharedStorage, type Shape } from './matrix.js';
import {
  checkFinite,
  checkShape,
  copyRuns,
  planCholesky,
  planElementwise,
  planGemm,
  planGram,
  planStack,
  planTake,
  planTrsm,
} from './plans.js';

/** Which backend runs the operations. */
export type BackendKind = 'webgpu' | 'cpu';

/** Options of {@link LinalgDevice.gemm}. */
export interface GemmOptions {
  /** Use Aᵀ (A stored k×m). Default false. */
  readonly transA?: boolean;
  /** Use Bᵀ (B stored n×k). Default false. */
  readonly transB?: boolean;
  /** Default 1. */
  readonly alpha?: number;
  /** Scale of `c`; default 1 when `c` is given. */
  readonly beta?: number;
  /** Accumulated into the result (not modified): `alpha·op(A)·op(B) + beta·C`. */
  readonly c?: Matrix;
}

/** Options of {@link LinalgDevice.triangularSolve}. */
export interface TriangularSolveOptions {
  /** Solve `Lᵀ·X = B` instead of `L·X = B`. Default false. */
  readonly transpose?: boolean;
}

/** Options of {@link LinalgDevice.cholesky} and {@link LinalgDevice.choleskySolve}. */
export interface ShiftOptions {
  /** Added to the diagonal before factorizing: factors `A + shift·I`. Default 0. */
  readonly shift?: number;
}

/** Options of {@link LinalgDevice.read}. */
export interface ReadOptions {
  /**
   * Return the data even when a Cholesky factorization or a triangular solve this matrix depends on failed
   * (otherwise a {@link NotPositiveDefiniteError} or {@link SingularMatrixError} is thrown). Default false.
   */
  readonly allowFailed?: boolean;
}

/** Resource counts of a device, for diagnostics and leak tests (see {@link LinalgDevice.stats}). */
export interface DeviceStats {
  /**
   * Backend storages held by live matrix handles (data and status storages; a storage shared by reshaped
   * views counts once). Grows when handles are not disposed.
   */
  readonly liveStorages: number;
  /**
   * WebGPU: every `GPUBuffer` the device has created and not destroyed — buffers of live matrices, the free
   * pool, uniform and staging buffers. Bounded in a steady loop that disposes what it creates. 0 on the CPU.
   */
  readonly gpuBuffers: number;
  /** WebGPU: of {@link DeviceStats.gpuBuffers}, the storage buffers waiting in the free pool. 0 on the CPU. */
  readonly pooledBuffers: number;
}

/** What a device is. */
export interface DeviceInfo {
  readonly backend: BackendKind;
  /** Adapter / CPU description. */
  readonly description: string;
  /** Largest number of float32 elements one matrix may hold on this device. */
  readonly maxElements: number;
  /**
   * Largest number of float32 elements one kernel binds at once (WebGPU: `maxStorageBufferBindingSize` / 4, or
   * the `maxBindingBytes` cap). Operations split work past it over several bindings, each bound at an offset
   * aligned to `minStorageBufferOffsetAlignment`, and refuse with {@link DeviceLimitError} (nothing enqueued)
   * only what cannot be split:
   * - `gemm` and `gram` split into batch chunks, then row blocks of the result; refused: a single entry of B
   *   (of A for `gram`), or of A used transposed, beyond it;
   * - `cholesky`, `triangularSolve` and `choleskySolve` split into chunks of whole batch entries; refused: a
   *   single batch entry of an operand or result (A, L, B, X) that does not fit one binding — counting the up
   *   to `minStorageBufferOffsetAlignment − 4` bytes before it where its aligned binding has to start, so an
   *   entry within that margin of the limit may be refused too;
   * - `add`, `scale`, `mul` (flat element ranges) and `sumBatch` (column blocks and chunks of entries) always
   *   split.
   * Copies (`matrix`, `stack`, `take`, `read`…) go up to {@link DeviceInfo.maxElements}. Equal to
   * `maxElements` on the CPU.
   */
  readonly maxBindingElements: number;
}

let deviceCounter = 0;

/**
 * A linear-algebra device. Create it with `createDevice`. Every operation validates its operands, enqueues
 * work and returns a new {@link Matrix} at once; {@link LinalgDevice.read} is the only await. Inputs are
 * never modified.
 */
export class LinalgDevice {
  /** Which backend runs the operations. */
  readonly backend: BackendKind;
  /** Device description and limits. */
  readonly info: DeviceInfo;
  /** @internal */
  readonly label: string;
  readonly #impl: BackendImpl;
  #destroyed = false;
  /** Storages created and not yet released (see {@link DeviceStats.liveStorages}). */
  #liveStorages = 0;

  /** @internal use `createDevice` */
  constructor(impl: BackendImpl) {
    this.#impl = impl;
    this.backend = impl.kind;
    this.label = `${impl.kind}#${++deviceCounter}`;
    this.info = Object.freeze({
      backend: impl.kind,
      description: impl.description,
      maxElements: impl.limits.maxElements,
      maxBindingElements: impl.limits.maxBindingElements,
    });
  }

  /** @internal */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  /**
   * Whether the GPU device was lost (WebGPU: its `GPUDevice` was destroyed, reset or crashed). The loss is
   * noticed when `GPUDevice.lost` settles or when a `read`/`readInfo`/`sync` finds the device gone; from then
   * on every operation — and every use of this device's matrices — throws {@link DeviceLostError}, and reads
   * in flight reject with it (they never hang or return stale data). Create a new device to continue. Always
   * false on the CPU.
   */
  get isLost(): boolean {
    return this.lostReason !== null;
  }

  /** @internal Why the device was lost, or null. */
  get lostReason(): string | null {
    return this.#impl.lostReason?.() ?? null;
  }

  /**
   * Resource counts (diagnostics): storages held by matrices and, on WebGPU, live `GPUBuffer`s. Allowed on a
   * destroyed or lost device.
   */
  stats(): DeviceStats {
    const backend = this.#impl.stats?.() ?? { gpuBuffers: 0, pooledBuffers: 0 };
    return { liveStorages: this.#liveStorages, gpuBuffers: backend.gpuBuffers, pooledBuffers: backend.pooledBuffers };
  }

  /** Uploads row-major, batch-major float data. `shape` is `[rows, cols]` or `[batch, rows, cols]`. */
  matrix(data: Float32Array | ArrayLike<number>, shape: readonly number[]): Matrix {
    this.#live('matrix');
    const s = checkShape(shape, 'matrix');
    const size = s.reduce((p, x) => p * x, 1);
    if (data == null || typeof (data as ArrayLike<number>).length !== 'number') {
      throw new InvalidArgumentError(`matrix: data must be a Float32Array or an array of numbers`);
    }
    if (data.length !== size) {
      throw new InvalidArgumentError(`matrix: data has ${data.length} elements, shape [${s.join(',')}] needs ${size}`);
    }
    this.#checkSize(size, `matrix [${s.join(',')}]`);
    const f32 = data instanceof Float32Array ? data : Float32Array.from(data);
    return this.#wrap(s, this.#impl.upload(f32), size, null);
  }

  /**
   * Copies float32 data out of a `GPUBuffer` of this device's `GPUDevice` — for example a TensorFlow.js
   * tensor's `dataToGPU()` buffer when the device was created with `gpuDevice: tf.backend().device` — into a
   * new matrix, entirely on the GPU (no round trip through the CPU). The copy is submitted before this returns,
   * so the caller may release the source buffer right away. WebGPU backend only.
   *
   * @param buffer a buffer with `COPY_SRC` usage holding row-major, batch-major float32 data
   * @param options.byteOffset where the data starts (a multiple of 4; default 0)
   */
  fromGpuBuffer(buffer: GPUBuffer, shape: readonly number[], options: { byteOffset?: number } = {}): Matrix {
    this.#live('fromGpuBuffer');
    const s = checkShape(shape, 'fromGpuBuffer');
    const size = s.reduce((p, x) => p * x, 1);
    const offset = options.byteOffset ?? 0;
    if (!this.#impl.importGpuBuffer) {
      throw new InvalidArgumentError(`fromGpuBuffer: needs the webgpu backend, this device is '${this.backend}'`);
    }
    if (buffer == null || typeof (buffer as GPUBuffer).size !== 'number' || typeof (buffer as GPUBuffer).usage !== 'number') {
      throw new InvalidArgumentError('fromGpuBuffer: expected a GPUBuffer');
    }
    if (!Number.isSafeInteger(offset) || offset < 0 || offset % 4 !== 0) {
      throw new InvalidArgumentError(`fromGpuBuffer: byteOffset must be a non-negative multiple of 4, got ${String(offset)}`);
    }
    if ((buffer.usage & 0x0004) === 0) {
      throw new InvalidArgumentError('fromGpuBuffer: the buffer lacks GPUBufferUsage.COPY_SRC');
    }
    if (offset + size * 4 > buffer.size) {
      throw new InvalidArgumentError(
        `fromGpuBuffer: shape [${s.join(',')}] needs ${size * 4} bytes from offset ${offset}, the buffer holds ${buffer.size}`,
      );
    }
    this.#checkSize(size, `fromGpuBuffer [${s.join(',')}]`);
    return this.#wrap(s, this.#impl.importGpuBuffer(buffer, offset, size), size, null);
  }

  /** A matrix with every element equal to `value`. */
  full(shape: readonly number[], value: number): Matrix {
    this.#live('full');
    const s = checkShape(shape, 'full');
    checkFinite(value, 'value', 'full');
    const size = s.reduce((p, x) => p * x, 1);
    this.#checkSize(size, `full [${s.join(',')}]`);
    return this.#wrap(s, this.#impl.upload(new Float32Array(size).fill(value)), size, null);
  }

  /** `alpha·op(A)·op(B) + beta·C`, batched; a batch of 1 broadcasts. */
  gemm(a: Matrix, b: Matrix, options: GemmOptions = {}): Matrix {
    const c = options.c ?? null;
    this.#own('gemm', a, b, ...(c ? [c] : []));
    const { plan, shape } = planGemm(a, b, c, {
      transA: options.transA ?? false,
      transB: options.transB ?? false,
      alpha: options.alpha ?? 1,
      beta: options.beta ?? 1,
    });
    const out = this.#alloc(shape, 'gemm');
    this.#refusable([out], () => this.#impl.gemm(plan, a.storage.value, b.storage.value, c ? c.storage.value : null, out.value));
    return this.#finish(shape, out, a, b, c);
  }

  /** `A·Aᵀ` for each batch entry (SYRK: one triangle computed, both filled). A `[n,d]` → `[n,n]`. */
  gram(a: Matrix): Matrix {
    this.#own('gram', a);
    const { plan, shape } = planGram(a);
    const out = this.#alloc(shape, 'gram');
    this.#refusable([out], () => this.#impl.gram(plan, a.storage.value, out.value));
    return this.#finish(shape, out, a);
  }

  /**
   * Lower Cholesky factor L with `L·Lᵀ = A + shift·I` per batch entry (upper triangle zero); only the lower
   * triangle of A is read. Failure is recorded per entry (see {@link LinalgDevice.readInfo}) and makes
   * {@link LinalgDevice.read} of the factor, or of anything solved with it, throw {@link NotPositiveDefiniteError}.
   */
  cholesky(a: Matrix, options: ShiftOptions = {}): Matrix {
    this.#own('cholesky', a);
    const { plan, shape } = planCholesky(a, options.shift ?? 0);
    this.#impl.checkCholesky?.(plan, 'cholesky'); // before the status is allocated (and cleared)
    const out = this.#alloc(shape, 'cholesky');
    const info = this.#allocInfo(plan.batch);
    this.#refusable([out, info], () => this.#impl.cholesky(plan, a.storage.value, out.value, info.value));
    return new Matrix(this, shape, out, info);
  }

  /**
   * Solves `L·X = B` (or `Lᵀ·X = B` with `transpose`) for lower-triangular L; many right-hand sides. Only the
   * lower triangle of L is read.
   *
   * A diagonal entry of L that is 0 or not finite (±∞, NaN) makes the solve of that batch entry undefined: it
   * is recorded per entry like a Cholesky failure (LAPACK `trtrs`'s `info`, extended to non-finite
   * diagonals), {@link LinalgDevice.readInfo} of the result reports the 1-based index of the first such
   * diagonal entry, and {@link LinalgDevice.read} of the result, or of anything computed from it, throws
   * {@link SingularMatrixError} (unless `allowFailed`). When L or B already depends on a failed factorization
   * or solve, that earlier failure is what the result reports for the entry (so a solve through a failed
   * Cholesky factor still throws {@link NotPositiveDefiniteError}).
   */
  triangularSolve(l: Matrix, b: Matrix, options: TriangularSolveOptions = {}): Matrix {
    this.#own('triangularSolve', l, b);
    const { plan, shape } = planTrsm(l, b, options.transpose ?? false);
    const out = this.#alloc(shape, 'triangularSolve');
    // the solve first: it may refuse (nothing recorded then); the status reads the same entries of L
    this.#refusable([out], () => this.#impl.triangularSolve(plan, l.storage.value, b.storage.value, out.value));
    let status: SharedStorage | null;
    try {
      status = this.#status(plan.batch, [l, b], { l, n: plan.n, strideL: plan.strideL });
    } catch (err) {
      out.drop();
      throw err;
    }
    return new Matrix(this, shape, out, status);
  }

  /** Solves `(A + shift·I)·X = B` for symmetric positive-definite A through its Cholesky factor. */
  choleskySolve(a: Matrix, b: Matrix, options: ShiftOptions = {}): Matrix {
    this.#own('choleskySolve', a, b);
    // validate both steps before enqueuing anything: the solves bind entries of L (= A), B and X, which
    // covers the factorization's entries of A and L
    planCholesky(a, options.shift ?? 0, 'choleskySolve');
    const { plan } = planTrsm(a, b, false, 'choleskySolve');
    this.#impl.checkTriangularSolve?.(plan, 'choleskySolve');
    const l = this.cholesky(a, options);
    try {
      const y = this.triangularSolve(l, b);
      try {
        return this.triangularSolve(l, y, { transpose: true });
      } finally {
        y.dispose();
      }
    } finally {
      l.dispose();
    }
  }

  /** `alpha·A + beta·B` (batch broadcast). */
  add(a: Matrix, b: Matrix, options: { alpha?: number; beta?: number } = {}): Matrix {
    this.#own('add', a, b);
    const { plan, shape } = planElementwise(
      'axpby',
      a,
      b,
      { alpha: options.alpha ?? 1, beta: options.beta ?? 1, gamma: 0 },
      'add',
    );
    const out = this.#alloc(shape, 'add');
    this.#refusable([out], () => this.#impl.elementwise(plan, a.storage.value, b.storage.value, out.value));
    return this.#finish(shape, out, a, b);
  }

  /** `alpha·A + shift` element-wise. */
  scale(a: Matrix, alpha: number, shift = 0): Matrix {
    this.#own('scale', a);
    const { plan, shape } = planElementwise('axpby', a, null, { alpha, beta: 0, gamma: shift }, 'scale');
    const out = this.#alloc(shape, 'scale');
    this.#refusable([out], () => this.#impl.elementwise(plan, a.storage.value, null, out.value));
    return this.#finish(shape, out, a);
  }

  /** Element-wise (Hadamard) product `alpha·(A + shiftA)∘B` (batch broadcast). */
  mul(a: Matrix, b: Matrix, options: { alpha?: number; shiftA?: number } = {}): Matrix {
    this.#own('mul', a, b);
    const { plan, shape } = planElementwise(
      'mul',
      a,
      b,
      { alpha: options.alpha ?? 1, beta: 0, gamma: options.shiftA ?? 0 },
      'mul',
    );
    const out = this.#alloc(shape, 'mul');
    this.#refusable([out], () => this.#impl.elementwise(plan, a.storage.value, b.storage.value, out.value));
    return this.#finish(shape, out, a, b);
  }

  /** Sum over the batch: `[batch, r, c]` → `[r, c]`. */
  sumBatch(a: Matrix): Matrix {
    this.#own('sumBatch', a);
    const shape: Shape = [a.rows, a.cols];
    const out = this.#alloc(shape, 'sumBatch');
    this.#refusable([out], () => this.#impl.sumBatch({ batch: a.batch, size: a.entrySize }, a.storage.value, out.value));
    return this.#finish(shape, out, a);
  }

  /**
   * Concatenates matrices along the batch dimension: each operand (`[rows, cols]`, a batch of 1, or
   * `[b, rows, cols]`) contributes its entries in order, giving `[Σb, rows, cols]` (always 3-D). Values are
   * copied exactly (NaN/±∞ included); the inputs are not modified and may repeat.
   *
   * Factorization status travels with the entries: when an operand depends on a Cholesky factorization, the
   * result's {@link LinalgDevice.readInfo} reports, for each of that operand's entries, the code the operand
   * reports for it, and {@link LinalgDevice.read} of the result throws {@link NotPositiveDefiniteError} (or
   * {@link SingularMatrixError} for a failed triangular solve) when any of them failed. Entries from operands without a status report 0. (For a view reshaped so that its
   * batch no longer matches its factorization, the codes follow `readInfo` of that view.)
   *
   * @throws {@link InvalidArgumentError} when `ms` is not a non-empty array.
   * @throws {@link ShapeError} when the operands differ in rows×cols per entry.
   * @throws {@link DeviceMismatchError} / {@link DisposedError} for a matrix of another device or a disposed one.
   * @throws {@link DeviceLimitError} when the result exceeds {@link DeviceInfo.maxElements}.
   * Nothing is enqueued when it throws.
   */
  stack(ms: readonly Matrix[]): Matrix {
    this.#live('stack');
    if (!Array.isArray(ms) || ms.length === 0) {
      throw new InvalidArgumentError('stack: expected a non-empty array of matrices');
    }
    this.#own('stack', ...ms);
    const { shape, offsets } = planStack(ms);
    const out = this.#alloc(shape, 'stack');
    const size = shape[1] * shape[2];
    ms.forEach((m, i) => {
      const at = offsets[i]!;
      this.#impl.copy([{ srcOffset: 0, dstOffset: at * size, count: m.size }], m.storage.value, out.value);
    });
    const info = this.#gatherInfo(
      shape[0],
      ms.flatMap((m, i) => Array.from({ length: m.batch }, (_, e) => ({ m, entry: e, dst: offsets[i]! + e }))),
    );
    return new Matrix(this, shape, out, info);
  }

  /**
   * Gathers batch entries of `m`: `entries[i]` of `[b, rows, cols]` (or of a 2-D matrix, whose only entry is
   * 0) becomes entry `i` of the `[entries.length, rows, cols]` result (always 3-D). Indices may repeat and
   * come in any order; runs of consecutive indices are copied at once. Values are copied exactly.
   *
   * Factorization status travels with the entries: the result's {@link LinalgDevice.readInfo} is `m`'s
   * `readInfo` at `entries`, and {@link LinalgDevice.read} throws {@link NotPositiveDefiniteError} (or
   * {@link SingularMatrixError}) only when a selected entry failed.
   *
   * @throws {@link InvalidArgumentError} unless `entries` is a non-empty array of integers in `[0, m.batch)`.
   * @throws {@link DeviceMismatchError} / {@link DisposedError} for a matrix of another device or a disposed one.
   * @throws {@link DeviceLimitError} when the result exceeds {@link DeviceInfo.maxElements}.
   * Nothing is enqueued when it throws.
   */
  take(m: Matrix, entries: readonly number[]): Matrix {
    this.#own('take', m);
    const { shape } = planTake(m, entries);
    const out = this.#alloc(shape, 'take');
    const pairs = entries.map((e, i) => [e, i] as const);
    this.#impl.copy(copyRuns(pairs, m.entrySize), m.storage.value, out.value);
    const info = this.#gatherInfo(shape[0], entries.map((e, i) => ({ m, entry: e, dst: i })));
    return new Matrix(this, shape, out, info);
  }

  /** A view with another shape of the same number of elements, sharing storage (no copy). */
  reshape(a: Matrix, shape: readonly number[]): Matrix {
    this.#own('reshape', a);
    const s = checkShape(shape, 'reshape');
    const size = s.reduce((p, x) => p * x, 1);
    if (size !== a.size) throw new ShapeError(`reshape: cannot view ${a.toString()} (${a.size} elements) as [${s.join(',')}]`);
    return new Matrix(this, s, a.storage.retain(), a.info?.retain() ?? null);
  }

  /**
   * Reads a matrix back as float32, row-major and batch-major; the only await. Unless `allowFailed`, throws
   * {@link NotPositiveDefiniteError} if a Cholesky factorization the matrix depends on failed in some entry
   * (its `info` holds those entries' pivots), else {@link SingularMatrixError} if a triangular solve it depends
   * on met a zero or non-finite diagonal (its `info` holds those entries' diagonal indices).
   * On a lost WebGPU device it rejects with {@link DeviceLostError}.
   */
  async read(m: Matrix, options: ReadOptions = {}): Promise<Float32Array> {
    this.#own('read', m);
    const info = m.info;
    const data = this.#impl.read(m.storage.value, m.size);
    if (info && !options.allowFailed) {
      // While the status is awaited, a failing data read (a lost device) must not count as unhandled; it is
      // still returned or awaited below.
      data.catch(() => undefined);
      const codes = await this.#codes(m, info);
      if (codes.some((v) => v > 0)) {
        await data;
        throw new NotPositiveDefiniteError(codes.map((v) => (v > 0 ? v : 0)));
      }
      if (codes.some((v) => v < 0)) {
        await data;
        throw new SingularMatrixError(codes.map((v) => (v < 0 ? -v : 0)));
      }
    }
    return data;
  }

  /**
   * Per-batch status of a matrix, LAPACK style (0 = success, else a 1-based index): for a Cholesky factor
   * `potrf`'s first failing pivot; for a triangular solve (or anything computed from one) the status of the
   * factorization or solve it depends on — the factor's failing pivot when it came from a failed Cholesky,
   * else `trtrs`'s first zero or non-finite diagonal entry of L. All zeros for any other matrix.
   * {@link LinalgDevice.read} tells the two kinds apart by the error it throws.
   */
  async readInfo(m: Matrix): Promise<Int32Array> {
    this.#own('readInfo', m);
    if (!m.info) return new Int32Array(m.batch);
    // statuses store singular solves as negative codes (see StatusPlan)
    return (await this.#codes(m, m.info)).map(Math.abs);
  }

  /**
   * The stored (signed) codes of `m`'s status, one per batch entry of `m`: a broadcast status (one code)
   * serves every entry; entries past the status (a reshaped view) report 0.
   */
  async #codes(m: Matrix, info: SharedStorage): Promise<Int32Array> {
    const codes = await this.#impl.readInfo(info.value, info.elements);
    if (codes.length === m.batch) return codes;
    return Int32Array.from({ length: m.batch }, (_, i) => codes[codes.length === 1 ? 0 : i] ?? 0);
  }

  /**
   * Waits until all work enqueued so far has finished, without reading anything back (for timing).
   * GPU errors raised by that work are thrown here.
   */
  async sync(): Promise<void> {
    this.#live('sync');
    await this.#impl.sync?.();
  }

  /** Releases every resource of this device; its matrices become unusable. Idempotent. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#impl.destroy();
  }

  #live(what: string): void {
    if (this.#destroyed) throw new DisposedError(`${what}: device ${this.label} was destroyed`);
    const lost = this.lostReason;
    if (lost !== null) throw new DeviceLostError(`${what}: device ${this.label}`, lost);
  }

  #own(what: string, ...ms: Matrix[]): void {
    this.#live(what);
    for (const m of ms) {
      if (!(m instanceof Matrix)) throw new InvalidArgumentError(`${what}: expected a Matrix, got ${typeof m}`);
      if (m.owner !== this) {
        throw new DeviceMismatchError(
          `${what}: matrix ${m.toString()} belongs to device ${m.owner.label}, not ${this.label}`,
        );
      }
      m.assertLive(what);
    }
  }

  #checkSize(elements: number, what: string): void {
    if (elements > this.#impl.limits.maxElements) {
      throw new DeviceLimitError(
        `${what}: ${elements} elements exceed the device limit of ${this.#impl.limits.maxElements} per matrix`,
      );
    }
  }

  /** Runs a backend call that may refuse the work (DeviceLimitError, nothing enqueued); frees `outs` then. */
  #refusable(outs: readonly SharedStorage[], call: () => void): void {
    try {
      call();
    } catch (err) {
      for (const out of outs) out.drop();
      throw err;
    }
  }

  #alloc(shape: Shape, what: string): SharedStorage {
    const size = shape.reduce((p, x) => p * x, 1);
    this.#checkSize(size, `${what} result [${shape.join(',')}]`);
    return this.#track(this.#impl.alloc(size), size);
  }

  #allocInfo(count: number): SharedStorage {
    return this.#track(this.#impl.allocInfo(count), count);
  }

  /** Shared storage over `value`, counted in {@link DeviceStats.liveStorages} until its last holder drops it. */
  #track(value: unknown, elements: number): SharedStorage {
    this.#liveStorages++;
    return new SharedStorage(value, elements, (v) => {
      this.#liveStorages--;
      this.#impl.free(v);
    });
  }

  /**
   * The status of a stacked / gathered result of `batch` entries, entry `dst` taking source `m`'s status for
   * its batch entry `entry` as {@link LinalgDevice.readInfo} maps it; null when no source carries a status.
   */
  #gatherInfo(batch: number, moves: readonly { m: Matrix; entry: number; dst: number }[]): SharedStorage | null {
    if (!moves.some((x) => x.m.info)) return null;
    const info = this.#allocInfo(batch);
    const bySource = new Map<SharedStorage, [number, number][]>();
    for (const { m, entry, dst } of moves) {
      const src = m.info;
      if (!src) continue;
      const at = src.elements === 1 ? 0 : entry;
      if (at >= src.elements) continue; // readInfo reports 0 there; the new status is zero-initialised
      let pairs = bySource.get(src);
      if (!pairs) bySource.set(src, (pairs = []));
      pairs.push([at, dst]);
    }
    for (const [src, pairs] of bySource) this.#impl.copy(copyRuns(pairs, 1), src.value, info.value);
    return info;
  }

  #wrap(shape: Shape, value: unknown, size: number, info: SharedStorage | null): Matrix {
    return new Matrix(this, shape, this.#track(value, size), info);
  }

  /** A result over `out` carrying the statuses of its operands `ms` (see `#status`). */
  #finish(shape: Shape, out: SharedStorage, ...ms: (Matrix | null)[]): Matrix {
    return new Matrix(this, shape, out, this.#status(shape.length === 3 ? shape[0] : 1, ms, null));
  }

  /**
   * The status a result of `batch` entries depends on: none when no operand carries one; the operand's own
   * (shared) when exactly one distinct status is involved and there is no diagonal to check; else a new status
   * merging the operands' statuses in order (the first non-zero code of an entry wins) and, for a triangular
   * solve (`diag`), then checking the diagonal of L (see {@link StatusPlan}).
   */
  #status(
    batch: number,
    ms: readonly (Matrix | null)[],
    diag: { l: Matrix; n: number; strideL: number } | null,
  ): SharedStorage | null {
    const priors = [...new Set(ms.map((m) => m?.info ?? null).filter((x): x is SharedStorage => x !== null))];
    if (diag === null && priors.length <= 1) return priors[0]?.retain() ?? null;
    // Fold the priors pairwise into new statuses; the last step also checks the diagonal.
    let acc: SharedStorage | null = priors[0] ?? null;
    let owned = false;
    let next = 1;
    do {
      const second = priors[next++] ?? null;
      const check = next >= priors.length ? diag : null;
      const perEntry = (check !== null && check.strideL !== 0) || [acc, second].some((x) => x !== null && x.elements > 1);
      const count = perEntry ? batch : 1;
      const out = this.#allocInfo(count);
      const plan: StatusPlan = {
        count,
        n: check?.n ?? 0,
        strideL: check?.strideL ?? 0,
        priorCounts: [acc?.elements ?? 0, second?.elements ?? 0],
      };
      try {
        this.#impl.status(plan, check?.l.storage.value ?? null, acc?.value ?? null, second?.value ?? null, out.value);
      } catch (err) {
        out.drop();
        if (owned) acc!.drop();
        throw err;
      }
      if (owned) acc!.drop();
      acc = out;
      owned = true;
    } while (next < priors.length);
    return acc;
  }
}
