/**
 * A minimal WebAssembly binary assembler: just the sections, instructions and encodings the CPU GEMM
 * kernel needs (MVP control flow, i32 arithmetic, and the 128-bit SIMD `f64x2` subset). It emits the
 * module bytes directly, so no tool runs at install or build time.
 * @internal
 * @module
 */

/** Value types. */
export const I32 = 0x7f;
export const F64 = 0x7c;
export const V128 = 0x7b;
/** Empty block type. */
const VOID = 0x40;

/** Unsigned LEB128 of a non-negative 32-bit integer. */
export function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/** Signed LEB128 of a 32-bit integer. */
export function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function utf8(s: string): number[] {
  return [...new TextEncoder().encode(s)];
}

/** A length-prefixed UTF-8 name. */
function str(s: string): number[] {
  const b = utf8(s);
  return [...uleb(b.length), ...b];
}

function vec(items: readonly number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

/**
 * Emits one function body. Locals are declared up front with {@link local}; instructions are appended by
 * the methods below, each named after its WebAssembly mnemonic. Labels are relative depths, as in the
 * binary format (0 = innermost enclosing block/loop).
 */
export class FuncBuilder {
  private readonly code: number[] = [];
  private readonly localTypes: number[] = [];

  /** @param params the parameter types (locals 0…params.length−1) */
  constructor(readonly params: readonly number[], readonly results: readonly number[] = []) {}

  /** Declares a local of the given type and returns its index. */
  local(type: number): number {
    this.localTypes.push(type);
    return this.params.length + this.localTypes.length - 1;
  }

  private op(...bytes: number[]): this {
    for (const b of bytes) this.code.push(b);
    return this;
  }

  private simd(opcode: number, ...imm: number[]): this {
    return this.op(0xfd, ...uleb(opcode), ...imm);
  }

  // Control flow.
  block(): this { return this.op(0x02, VOID); }
  loop(): this { return this.op(0x03, VOID); }
  if_(): this { return this.op(0x04, VOID); }
  else_(): this { return this.op(0x05); }
  end(): this { return this.op(0x0b); }
  br(depth: number): this { return this.op(0x0c, ...uleb(depth)); }
  brIf(depth: number): this { return this.op(0x0d, ...uleb(depth)); }

  // Locals.
  get(i: number): this { return this.op(0x20, ...uleb(i)); }
  set(i: number): this { return this.op(0x21, ...uleb(i)); }
  tee(i: number): this { return this.op(0x22, ...uleb(i)); }

  // i32.
  i32(value: number): this { return this.op(0x41, ...sleb(value)); }
  eqz(): this { return this.op(0x45); }
  ne(): this { return this.op(0x47); }
  ltS(): this { return this.op(0x48); }
  gtS(): this { return this.op(0x4a); }
  geS(): this { return this.op(0x4e); }
  add(): this { return this.op(0x6a); }
  sub(): this { return this.op(0x6b); }
  mul(): this { return this.op(0x6c); }
  divU(): this { return this.op(0x6e); }

  // SIMD (memarg: log2 alignment, byte offset).
  v128Load(offset: number): this { return this.simd(0x00, 3, ...uleb(offset)); }
  v128Load64Splat(offset: number): this { return this.simd(0x0a, 3, ...uleb(offset)); }
  v128Store(offset: number): this { return this.simd(0x0b, 3, ...uleb(offset)); }
  v128Zero(): this { return this.simd(0x0c, ...new Array<number>(16).fill(0)); }
  f64x2Add(): this { return this.simd(0xf0); }
  f64x2Mul(): this { return this.simd(0xf2); }

  /** The encoded body (locals + expression + `end`). */
  encode(): number[] {
    const groups: number[][] = [];
    for (let i = 0; i < this.localTypes.length; ) {
      let j = i;
      while (j < this.localTypes.length && this.localTypes[j] === this.localTypes[i]) j++;
      groups.push([...uleb(j - i), this.localTypes[i]!]);
      i = j;
    }
    const body = [...vec(groups), ...this.code, 0x0b];
    return [...uleb(body.length), ...body];
  }
}

/**
 * A module of functions (each exported under its name) and one exported memory named `memory`
 * (`initialPages` of 64 KiB, growable without a maximum).
 */
export function assembleModule(funcs: readonly { name: string; fn: FuncBuilder }[], initialPages: number): Uint8Array {
  const types = funcs.map(({ fn }) => [0x60, ...vec(fn.params.map((t) => [t])), ...vec(fn.results.map((t) => [t]))]);
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(3, vec(funcs.map((_, i) => uleb(i)))),
    ...section(5, vec([[0x00, ...uleb(initialPages)]])),
    ...section(
      7,
      vec([
        ...funcs.map(({ name }, i) => [...str(name), 0x00, ...uleb(i)]),
        [...str('memory'), 0x02, 0x00],
      ]),
    ),
    ...section(10, vec(funcs.map(({ fn }) => fn.encode()))),
  ];
  return new Uint8Array(bytes);
}
