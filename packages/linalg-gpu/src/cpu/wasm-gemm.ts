/**
 * WebAssembly SIMD macro-kernel of the packed GEMM, generated at module load by {@link assembleModule}
 * (no build step, no dependency).
 *
 * The kernel sweeps {@link WMR}×{@link WNR} register tiles over one packed block: `f64x2` lanes, one
 * `v128` accumulator per two columns of a tile row (8 accumulators for 4×4), packed B rows loaded as
 * `f64x2` pairs and packed A values broadcast with `v128.load64_splat`. Accumulation is float64 (separate
 * multiply and add, no fused or relaxed operations, so results are deterministic).
 *
 * Memory layout (byte offsets chosen by the caller): packed A panels, packed B panels and the float64
 * accumulator block all live in one `WebAssembly.Memory`, which the GEMM engine packs into directly.
 * @internal
 * @module
 */
import { FuncBuilder, I32, V128, assembleModule } from './wasm-asm.js';

/** Rows of the wasm register tile. */
export const WMR = 4;
/** Columns of the wasm register tile (even: two per `f64x2` accumulator). */
export const WNR = 4;
/**
 * k steps per iteration of the inner loop. Measured with V8 (Node 20, x64): 4×4 without unrolling runs the
 * block at ~21 GFLOP/s, unrolled ×2 or ×4 at ~13–14; 2×8 is on par with 4×4; 6×4, 4×6, 3×8, 2×10 (more
 * accumulators than fit the 16 XMM registers) at 10–15.
 */
const UNROLL = 1;

/**
 * Emits `gemm_block(kc, mc, nb, pa, pb, acc, ldAcc, accumulate, diag)`: for every column panel
 * `jr = 0, WNR, …` below `nb` and every row panel `ir` below `mc` — starting at the first row panel that
 * holds an entry with `jr + diag ≤ row`, see {@link WasmGemm.block} — `acc[ir.., jr..] (+)= Ã(ir)·B̃(jr)`
 * over `kc` steps. `pa`, `pb`, `acc` are byte offsets; `ldAcc` is in elements.
 */
function gemmBlockFunction(mr: number, nr: number, unroll: number): FuncBuilder {
  const nv = nr / 2;
  const f = new FuncBuilder([I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const KC = 0, MC = 1, NB = 2, PA = 3, PB = 4, ACC = 5, LD = 6, ACCUM = 7, DIAG = 8;
  const jr = f.local(I32);
  const ir = f.local(I32);
  const aPtr = f.local(I32);
  const bPtr = f.local(I32);
  const bPanel = f.local(I32);
  const rowPtr = f.local(I32);
  const p = f.local(I32);
  const ldb = f.local(I32);
  const t = f.local(I32);
  const acc: number[] = [];
  for (let i = 0; i < mr * nv; i++) acc.push(f.local(V128));
  const bv: number[] = [];
  for (let v = 0; v < nv; v++) bv.push(f.local(V128));
  const av = f.local(V128);

  /** One k step with the A/B pointers displaced by `s` steps (constant memarg offsets). */
  const step = (s: number): void => {
    for (let v = 0; v < nv; v++) f.get(bPtr).v128Load(s * nr * 8 + v * 16).set(bv[v]!);
    for (let i = 0; i < mr; i++) {
      f.get(aPtr).v128Load64Splat(s * mr * 8 + i * 8).set(av);
      for (let v = 0; v < nv; v++) {
        const c = acc[i * nv + v]!;
        f.get(c).get(av).get(bv[v]!).f64x2Mul().f64x2Add().set(c);
      }
    }
  };
  const advance = (steps: number): void => {
    f.get(aPtr).i32(steps * mr * 8).add().set(aPtr);
    f.get(bPtr).i32(steps * nr * 8).add().set(bPtr);
    f.get(p).i32(steps).sub().set(p);
  };

  f.get(LD).i32(8).mul().set(ldb);
  f.i32(0).set(jr);
  f.get(PB).set(bPanel);
  f.block().loop(); // columns
  {
    f.get(jr).get(NB).geS().brIf(1);
    // First row panel: t = jr + diag − (mr − 1); ir = t > 0 ? ⌊t / mr⌋·mr : 0.
    f.get(jr).get(DIAG).add().i32(mr - 1).sub().set(t);
    f.i32(0).set(ir);
    f.get(t).i32(0).gtS().if_().get(t).i32(mr).divU().i32(mr).mul().set(ir).end();
    f.block().loop(); // rows
    {
      f.get(ir).get(MC).geS().brIf(1);
      f.get(PA).get(ir).get(KC).mul().i32(8).mul().add().set(aPtr);
      f.get(bPanel).set(bPtr);
      for (const c of acc) f.v128Zero().set(c);
      f.get(KC).set(p);
      if (unroll > 1) {
        f.block().loop();
        f.get(p).i32(unroll).ltS().brIf(1);
        for (let s = 0; s < unroll; s++) step(s);
        advance(unroll);
        f.br(0).end().end();
      }
      f.block().loop();
      f.get(p).eqz().brIf(1);
      step(0);
      advance(1);
      f.br(0).end().end();
      // rowPtr = acc + (ir·ldAcc + jr)·8
      f.get(ACC).get(ir).get(LD).mul().get(jr).add().i32(8).mul().add().set(rowPtr);
      f.get(ACCUM).if_();
      for (let i = 0; i < mr; i++) {
        for (let v = 0; v < nv; v++) {
          const c = acc[i * nv + v]!;
          f.get(c).get(rowPtr).v128Load(v * 16).f64x2Add().set(c);
        }
        if (i < mr - 1) f.get(rowPtr).get(ldb).add().set(rowPtr);
      }
      f.get(ACC).get(ir).get(LD).mul().get(jr).add().i32(8).mul().add().set(rowPtr);
      f.end();
      for (let i = 0; i < mr; i++) {
        for (let v = 0; v < nv; v++) f.get(rowPtr).get(acc[i * nv + v]!).v128Store(v * 16);
        if (i < mr - 1) f.get(rowPtr).get(ldb).add().set(rowPtr);
      }
      f.get(ir).i32(mr).add().set(ir);
      f.br(0);
    }
    f.end().end();
    f.get(jr).i32(nr).add().set(jr);
    f.get(bPanel).get(KC).i32(nr * 8).mul().add().set(bPanel);
    f.br(0);
  }
  f.end().end();
  return f;
}

/** The module bytes (exports `gemm_block` and `memory`). */
export function gemmModuleBytes(mr = WMR, nr = WNR, unroll = UNROLL): Uint8Array {
  return assembleModule([{ name: 'gemm_block', fn: gemmBlockFunction(mr, nr, unroll) }], 1);
}

// The few WebAssembly JS-API members used here, typed locally (the DOM lib is not part of this build).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
export interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports?: object) => WasmInstance;
}
type GemmBlockFn = (
  kc: number,
  mc: number,
  nb: number,
  pa: number,
  pb: number,
  acc: number,
  ldAcc: number,
  accumulate: number,
  diag: number,
) => void;

const api = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
const bytes = gemmModuleBytes();

/** Whether `wasm` (the runtime's `WebAssembly` object, if any) validates the module `code`. */
export function detectWasmSimd(wasm: WasmApi | undefined, code: Uint8Array): boolean {
  try {
    return wasm !== undefined && wasm.validate(code) === true;
  } catch {
    return false;
  }
}

/** Whether this runtime validates the SIMD module (decided once, at module load). */
export const wasmSimdSupported: boolean = detectWasmSimd(api, bytes);

let compiled: object | null = null;

/** `diag` value meaning "no triangle": every row panel is computed. */
export const NO_DIAG = -(2 ** 30);

/**
 * One instance of the kernel with its own memory. Views into the memory are refreshed after every growth;
 * callers must re-fetch {@link f64} after {@link reserve}.
 */
export class WasmGemm {
  private readonly memory: WasmMemory;
  private readonly run: GemmBlockFn;
  /** Float64 view of the whole memory (valid until the next {@link reserve} that grows). */
  f64: Float64Array;

  constructor() {
    if (!wasmSimdSupported || api === undefined) throw new Error('WebAssembly SIMD is not available');
    compiled ??= new api.Module(bytes);
    const inst = new api.Instance(compiled, {});
    this.memory = inst.exports['memory'] as WasmMemory;
    this.run = inst.exports['gemm_block'] as GemmBlockFn;
    this.f64 = new Float64Array(this.memory.buffer);
  }

  /** Makes the memory hold at least `elements` float64 values; returns the (possibly new) view. */
  reserve(elements: number): Float64Array {
    const need = elements * 8;
    const have = this.memory.buffer.byteLength;
    if (need > have) {
      const pages = Math.ceil((Math.max(need, have * 1.5) - have) / 65536);
      this.memory.grow(pages);
      this.f64 = new Float64Array(this.memory.buffer);
    }
    return this.f64;
  }

  /**
   * `acc[r, c] (+)= Σ_p Ã[r, p]·B̃[p, c]` for row panels `ir < mc` and column panels `jr < nb` of one packed
   * block (all offsets in float64 elements, `ldAcc` a multiple of {@link WNR}). With `diag` ≠
   * {@link NO_DIAG}, row panels lying entirely above the line `c = r + diag` are skipped (lower triangle).
   */
  block(kc: number, mc: number, nb: number, pa: number, pb: number, acc: number, ldAcc: number, accumulate: boolean, diag: number): void {
    this.run(kc, mc, nb, pa * 8, pb * 8, acc * 8, ldAcc, accumulate ? 1 : 0, diag);
  }
}
