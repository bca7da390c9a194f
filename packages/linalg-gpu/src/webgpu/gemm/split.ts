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
 * keep within one binding — the blocked Cholesky and solves bind their chunk's range and pass views already
 * bound to it, {@link GemmView.range}, which must then fit).
 * @internal
 * @module
 */
import { DeviceLimitError } from '../../errors.js';
import { alignedRange, largest } from '../binding.js';
import type { GpuContext } from '../context.js';
import type { GemmLaunch, GemmView } from './gemm.js';

/** The part of a launch the splitter reads and rewrites. */
export type SplitLaunch = Pick<GemmLaunch, 'batch' | 'm' | 'n' | 'k' | 'transA' | 'transB' | 'mode' | 'a' | 'b' | 'c' | 'out'>;

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

/** The aligned binding of a span (whole 16-byte groups, which the vec4 kernel reads), or null when it exceeds the binding limit. */
function bind(ctx: GpuContext, v: GemmView, count: number, rows: number, cols: number): GemmView | null {
  const r = alignedRange(ctx, v.buffer, ...span(v, count, rows, cols));
  return r && { ...v, offset: v.offset - r.base, range: r.range };
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

/**
 * Whether every operand of the launch lies within its binding: the range a caller bound it to (see
 * {@link GemmView.range}), else the first {@link GpuContext.bindingLimit} bytes of its buffer.
 */
function fitsWhole(ctx: GpuContext, g: SplitLaunch): boolean {
  const d = dims(g, g.m);
  const views: [GemmView, [number, number]][] = [[g.a, d.a], [g.b, d.b], [g.out, d.out]];
  if (g.c) views.push([g.c, d.out]);
  return views.every(([v, [rows, cols]]) => span(v, g.batch, rows, cols)[1] * 4 <= (v.range?.size ?? ctx.bindingLimit));
}

/** Views of one buffer must share one binding: an operand in out's buffer is read through out's binding. */
function checkAliases(g: SplitLaunch): void {
  const out = g.out;
  for (const v of [g.a, g.b, g.c]) {
    if (v && v.buffer === out.buffer && (v.range?.offset ?? 0) !== (out.range?.offset ?? 0)) {
      throw new Error('gemm: an operand in the output buffer is bound to another range than the output');
    }
  }
}

/**
 * The launches that compute `g` within the binding limit: `[g]` itself when it fits, else bound parts (mode 2,
 * symmetric Gram, becomes mode 0 — the full product, both triangles, which is exactly symmetric because each
 * element is the same sequence of multiply-adds either way). Throws {@link DeviceLimitError} when it cannot.
 */
export function splitLaunch<G extends SplitLaunch>(ctx: GpuContext, g: G, what = 'gemm'): G[] {
  checkAliases(g);
  if (fitsWhole(ctx, g)) return [g];
  if ([g.a, g.b, g.c, g.out].some((v) => v?.range)) {
    throw new Error(`${what}: a view bound to a range reaches past it`);
  }
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
