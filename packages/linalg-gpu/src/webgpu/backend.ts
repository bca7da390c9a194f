/**
 * The WebGPU backend: wires plans to the WGSL kernels. Each kernel lives in its own folder as a `.wgsl.ts`
 * file beside the TypeScript that plans its dispatches.
 * @internal
 * @module
 */
import type {
  BackendImpl,
  BackendLimits,
  BackendStats,
  CholeskyPlan,
  CopyRange,
  ElementwisePlan,
  GemmPlan,
  GramPlan,
  SumBatchPlan,
  TrsmPlan,
  StatusPlan,
} from '../backend.js';
import { checkCholesky as checkCholeskyEntries, encodeCholesky } from './cholesky/cholesky.js';
import { GpuContext, type AcquireOptions } from './context.js';
import { encodeElementwise, encodeSumBatch } from './elementwise/elementwise.js';
import { encodeGemm } from './gemm/gemm.js';
import { encodeGram } from './gemm/syrk.js';
import { encodeStatus } from './status/status.js';
import { checkTrsm, encodeTrsm } from './trsm/trsm.js';

export class WebGpuBackend implements BackendImpl<GPUBuffer> {
  readonly kind = 'webgpu' as const;
  readonly limits: BackendLimits;
  readonly description: string;
  /** @internal */
  readonly ctx: GpuContext;

  private constructor(ctx: GpuContext) {
    this.ctx = ctx;
    this.limits = { maxElements: ctx.maxElements, maxBindingElements: Math.floor(ctx.bindingLimit / 4) };
    this.description = ctx.description;
  }

  static async create(options: AcquireOptions): Promise<WebGpuBackend> {
    return new WebGpuBackend(await GpuContext.acquire(options));
  }

  upload(data: Float32Array): GPUBuffer {
    return this.ctx.upload(data);
  }
  importGpuBuffer(buffer: GPUBuffer, byteOffset: number, elements: number): GPUBuffer {
    return this.ctx.copyIn(buffer, byteOffset, elements * 4);
  }
  alloc(elements: number): GPUBuffer {
    return this.ctx.alloc(elements * 4);
  }
  allocInfo(count: number): GPUBuffer {
    return this.ctx.zeros(count * 4);
  }
  free(storage: GPUBuffer): void {
    this.ctx.free(storage);
  }
  gemm(plan: GemmPlan, a: GPUBuffer, b: GPUBuffer, c: GPUBuffer | null, out: GPUBuffer): void {
    encodeGemm(this.ctx, plan, a, b, c, out);
  }
  gram(plan: GramPlan, a: GPUBuffer, out: GPUBuffer): void {
    encodeGram(this.ctx, plan, a, out);
  }
  cholesky(plan: CholeskyPlan, a: GPUBuffer, out: GPUBuffer, info: GPUBuffer): void {
    encodeCholesky(this.ctx, plan, a, out, info);
  }
  checkCholesky(plan: CholeskyPlan, what: string): void {
    checkCholeskyEntries(this.ctx, plan, what);
  }
  triangularSolve(plan: TrsmPlan, l: GPUBuffer, b: GPUBuffer, out: GPUBuffer): void {
    encodeTrsm(this.ctx, plan, l, b, out);
  }
  checkTriangularSolve(plan: TrsmPlan, what: string): void {
    checkTrsm(this.ctx, plan, what);
  }
  status(plan: StatusPlan, l: GPUBuffer | null, prior0: GPUBuffer | null, prior1: GPUBuffer | null, out: GPUBuffer): void {
    encodeStatus(this.ctx, plan, l, prior0, prior1, out);
  }
  elementwise(plan: ElementwisePlan, a: GPUBuffer, b: GPUBuffer | null, out: GPUBuffer): void {
    encodeElementwise(this.ctx, plan, a, b, out);
  }
  sumBatch(plan: SumBatchPlan, a: GPUBuffer, out: GPUBuffer): void {
    encodeSumBatch(this.ctx, plan, a, out);
  }
  /** Buffer-to-buffer copies recorded in the pending encoder (ordered with the kernels around them). */
  copy(ranges: readonly CopyRange[], src: GPUBuffer, dst: GPUBuffer): void {
    for (const r of ranges) this.ctx.copy(src, r.srcOffset * 4, dst, r.dstOffset * 4, r.count * 4);
  }
  async read(storage: GPUBuffer, elements: number): Promise<Float32Array> {
    return new Float32Array(await this.ctx.read(storage, elements * 4));
  }
  async readInfo(storage: GPUBuffer, count: number): Promise<Int32Array> {
    return new Int32Array(await this.ctx.read(storage, count * 4));
  }
  sync(): Promise<void> {
    return this.ctx.sync();
  }
  lostReason(): string | null {
    return this.ctx.lostReason;
  }
  stats(): BackendStats {
    return this.ctx.stats();
  }
  destroy(): void {
    this.ctx.destroy();
  }
}
