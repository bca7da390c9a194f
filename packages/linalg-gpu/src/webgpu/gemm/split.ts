/**
 * Splits a GEMM launch whose operands do not fit one storage binding ({@link GpuContext.bindingLimit}) into
 * launches that each bind only the ranges they touch: first chunks of batch entries with whole matrices, and
 * when a single entry is too large, blocks of rows of the result (rows of out and C, and of A when it is not
 * transposed, are contiguous). Each range starts at an offset rounded down to `minStorageBufferOffsetAlignment`
 * and the kernels' element offsets are rebased onto it, so the shader text does not change.
 *
 * What cannot be split this way is refused with {@link DeviceLimitError} before anything is recorded: a
 * single entry of B (every row block reads all of it), of A used transposed (its rows of op(A) are columns of
 * the stored matrix), or an operand aliased to the output's buffer (internal in-place updates, which callers
 * keep within one binding).
 * @internal
 * @module
 */
import { DeviceLimitError } from '../../errors.js';
import type { BufferRange, GpuContext } from '../context.js';
import type { GemmView } from './gemm.js';

/** The part of a launch the splitter reads and rewrites. */
export interface SplitLaunch {
  readonly batch: number;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly transA: boolean;
  readonly transB: boolean;
  readonly mode: 0 | 1 | 2;
  readonly a: GemmView;
  readonly b: GemmView;
  readonly c: GemmView | null;
  readonly out: GemmView;
}

/** A view bound to a range of its buffer: `offset` is then relative to the range. */
export type BoundView = GemmView & { readonly range?: BufferRange };

/** Stored rows×cols of each operand for `m` rows of the result. */
function dims(g: SplitLaunch, m: number): { a: [number, number]; b: [number, number]; out: [number, number] } {
  return {
    a: g.transA ? [g.k, m] : [m, g.k],
    b: g.transB ? [g.n, g.k] : [g.k, g.n],
    out: [m, g.n],
  };
}

/** Elements `[start, end)` a view spans over `count` entries of stored `rows×cols` matrices. */
function span(v: GemmView, count: number, rows: number, cols: number): [number, number] {
  return [v.offset, v.offset + (count - 1) * v.batchStride + (rows - 1) * v.ld + cols];
}

/** The aligned binding of a span, or null when it exceeds the binding limit. */
function bind(ctx: GpuContext, v: GemmView, count: number, rows: number, cols: number): BoundView | null {
  const [start, end] = span(v, count, rows, cols);
  const first = Math.floor((start * 4) / ctx.bindingAlignment) * ctx.bindingAlignment;
  // whole 16-byte groups (the vec4 kernel reads them), never past the buffer
  const size = Math.min(Math.ceil((end * 4 - first) / 16) * 16, v.buffer.size - first);
  if (size > ctx.bindingLimit) return null;
  return { ...v, offset: v.offset - first / 4, range: { buffer: v.buffer, offset: first, size } };
}

/** The launch restricted to entries `[e0, e0 + count)` and result rows `[r0, r0 + rows)`, bound; or null. */
function part<G extends SplitLaunch>(ctx: GpuContext, g: G, e0: number, count: number, r0: number, rows: number): G | null {
  const d = dims(g, rows);
  const shift = (v: GemmView, rowStep: number): GemmView => ({
    ...v,
    offset: v.offset + e0 * v.batchStride + r0 * rowStep,
  });
  const a = bind(ctx, shift(g.a, g.transA ? 1 : g.a.ld), count, ...d.a);
  const b = bind(ctx, shift(g.b, 0), count, ...d.b);
  const out = bind(ctx, shift(g.out, g.out.ld), count, ...d.out);
  const c = g.c ? bind(ctx, shift(g.c, g.c.ld), count, ...d.out) : null;
  if (!a || !b || !out || (g.c && !c)) return null;
  return { ...g, batch: count, m: rows, a, b, c, out };
}

/** Largest `x` in `[1, hi]` with `ok(x)` (monotone: true up to some point), or 0. */
function largest(hi: number, ok: (x: number) => boolean): number {
  if (!ok(1)) return 0;
  let lo = 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (ok(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Whether every operand of the launch lies within the first {@link GpuContext.bindingLimit} bytes of its buffer. */
function fitsWhole(ctx: GpuContext, g: SplitLaunch): boolean {
  const d = dims(g, g.m);
  const ends = [span(g.a, g.batch, ...d.a)[1], span(g.b, g.batch, ...d.b)[1], span(g.out, g.batch, ...d.out)[1]];
  if (g.c) ends.push(span(g.c, g.batch, ...d.out)[1]);
  return ends.every((e) => e * 4 <= ctx.bindingLimit);
}

/**
 * The launches that compute `g` within the binding limit: `[g]` itself when it fits, else bound parts (mode 2,
 * symmetric Gram, becomes mode 0 — the full product, both triangles, which is exactly symmetric because each
 * element is the same sequence of multiply-adds either way). Throws {@link DeviceLimitError} when it cannot.
 */
export function splitLaunch<G extends SplitLaunch>(ctx: GpuContext, g: G, what = 'gemm'): G[] {
  if (fitsWhole(ctx, g)) return [g];
  const refuse = (why: string): never => {
    throw new DeviceLimitError(
      `${what}: ${why} exceeds the storage binding limit of ${ctx.bindingLimit} bytes and cannot be split over bindings`,
    );
  };
  const outBuf = g.out.buffer;
  if (g.a.buffer === outBuf || g.b.buffer === outBuf || (g.c && g.c !== g.out && g.c.buffer === outBuf) || g.mode === 1) {
    refuse(`an in-place update (${g.m}×${g.n}, depth ${g.k})`);
  }
  const full: G = { ...g, mode: 0 };
  const parts: G[] = [];
  let e0 = 0;
  while (e0 < g.batch) {
    const count = largest(g.batch - e0, (x) => part(ctx, full, e0, x, 0, g.m) !== null);
    if (count > 0) {
      parts.push(part(ctx, full, e0, count, 0, g.m)!);
      e0 += count;
      continue;
    }
    // one entry is too large: blocks of result rows
    if (!bind(ctx, g.b, 1, ...dims(g, g.m).b)) refuse(`one entry of B (${dims(g, g.m).b.join('×')} stored)`);
    if (g.transA && !bind(ctx, g.a, 1, ...dims(g, g.m).a)) refuse(`one entry of A used transposed (${g.k}×${g.m} stored)`);
    let r0 = 0;
    while (r0 < g.m) {
      const rows = largest(g.m - r0, (x) => part(ctx, full, e0, 1, r0, x) !== null);
      if (rows === 0) refuse(`one row of the result with its operands (n ${g.n}, k ${g.k})`);
      parts.push(part(ctx, full, e0, 1, r0, rows)!);
      r0 += rows;
    }
    e0 += 1;
  }
  return parts;
}
