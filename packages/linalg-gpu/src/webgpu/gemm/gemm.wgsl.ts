/**
 * Register-blocked tiled GEMM kernel (WGSL).
 *
 * One workgroup computes a 64×64 output tile; each invocation owns an rm×rn register block (default 4×4, so
 * 256 invocations; see {@link GEMM_SHAPE}). K advances in steps of TK (default 16), each step staging a 64×TK
 * slice of op(A) and a TK×64 slice of op(B) in workgroup memory (2·TK·64 floats: 8 KiB for TK = 16). Both
 * slices are stored k-major as `vec4`s, so each k step of a 4×4 block reads one `vec4` of A and one of B and
 * issues 4 `vec4` multiply-adds. Transposes are resolved in the tile loads (each invocation reads along the
 * operand's contiguous dimension), never by copies.
 *
 * Every operand is a strided view of its buffer — element offset, leading dimension (row pitch) and batch
 * stride (0 broadcasts) — and all sizes are uniforms, so one pipeline serves every shape. Batch entries are
 * `batchBase + workgroup_id.z`, so batches beyond the dispatch limit are split over several dispatches.
 *
 * Two variants: scalar storage (any sizes, offsets and pitches) and `vec4` storage (16-byte loads/stores; the
 * host picks it only when every offset, pitch and stride is a multiple of 4 and the dimensions that run along
 * contiguous memory are multiples of 4, so a `vec4` is either entirely inside a matrix or entirely outside).
 *
 * A, B and C are read-only bindings unless they live in the output's buffer: WebGPU rejects a buffer bound
 * writable in one binding and bound again (read-only or writable, overlapping) in another, so an operand that
 * shares out's buffer is read through the out binding instead (see {@link gemmWgsl}; one pipeline per
 * aliasing pattern). C is read only when `useC` is set; with C = out (same view) this is an in-place
 * `out = alpha·op(A)·op(B) + beta·out`.
 *
 * `mode`: 0 computes the whole output; 1 computes only tiles that meet the lower triangle (row ≥ column) and
 * writes only elements with row ≥ column; 2 (symmetric, for Gram matrices with B = A) computes the tiles on
 * and below the diagonal and writes each strictly-lower tile also transposed into the upper triangle.
 * @internal
 * @module
 */

/** Output tile edge (rows and columns per workgroup). */
export const GEMM_TILE = 64;

/** Which operands are read through the output binding (because they live in the output's buffer). */
export interface GemmAliasing {
  readonly a: boolean;
  readonly b: boolean;
  readonly c: boolean;
}

/** Register blocking and K-step of a variant. */
export interface GemmShape {
  /** Rows per invocation (4 or 8). */
  readonly rm: number;
  /** Columns per invocation (4 or 8). */
  readonly rn: number;
  /** K-step of the staged slices (multiple of 4). */
  readonly tk: number;
}

/**
 * The blocking used by the backend. 8×8 per invocation (64 invocations) ran up to ~1.5× faster per
 * CPU-second on lavapipe, but its 64 live accumulators make LLVM take 15–60 s to compile each variant there
 * (4×4: ~4 s), so 4×4 (256 invocations) is the default.
 */
export const GEMM_SHAPE: GemmShape = { rm: 4, rn: 4, tk: 16 };

/**
 * WGSL of one GEMM variant. Bindings: 1 = out (read_write), then A, B, C (read-only) in that order for
 * each operand that is not aliased to out; an aliased operand is read through the out binding instead,
 * since WebGPU rejects a buffer bound writable in one binding and bound again in another.
 */
export function gemmWgsl(vec4: boolean, alias: GemmAliasing, shape: GemmShape = GEMM_SHAPE): string {
  const { rm, rn, tk: TK } = shape;
  const T = (GEMM_TILE / rm) * (GEMM_TILE / rn); // invocations per workgroup
  const nx = GEMM_TILE / rn; // invocations along a tile row
  const elemType = vec4 ? 'vec4<f32>' : 'f32';
  const nameA = alias.a ? 'Out' : 'A';
  const nameB = alias.b ? 'Out' : 'B';
  const nameC = alias.c ? 'Out' : 'C';
  let binding = 2;
  const decl = (name: string, aliased: boolean): string =>
    aliased ? '' : `@group(0) @binding(${binding++}) var<storage, read> ${name}: array<${elemType}>;`;
  const bindings = [
    `@group(0) @binding(1) var<storage, read_write> Out: array<${elemType}>;`,
    decl('A', alias.a),
    decl('B', alias.b),
    decl('C', alias.c),
  ]
    .filter((x) => x)
    .join('\n');

  // Reads 4 consecutive elements of a buffer from element `idx`, the first `count` of them (rest 0). In the
  // vec4 variant idx is a multiple of 4 and count is 0 or 4.
  const read4 = (fnName: string, buf: string): string =>
    vec4
      ? `fn read4_${fnName}(idx: u32, count: u32) -> vec4<f32> {
  if (count < 4u) { return vec4<f32>(0.0); }
  return ${buf}[idx >> 2u];
}`
      : `fn read4_${fnName}(idx: u32, count: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (count > 0u) { v.x = ${buf}[idx]; }
  if (count > 1u) { v.y = ${buf}[idx + 1u]; }
  if (count > 2u) { v.z = ${buf}[idx + 2u]; }
  if (count > 3u) { v.w = ${buf}[idx + 3u]; }
  return v;
}`;
  const count4 = (limit: string, start: string): string =>
    `select(0u, min(4u, ${limit} - ${start}), ${start} < ${limit})`;

  // Each operand's 64×TK slice is 16·TK groups of 4 elements along the operand's contiguous dimension.
  const groups = 16 * TK;
  const kq = TK / 4; // groups of 4 along k per row
  const loadA: string[] = [];
  const loadB: string[] = [];
  for (let g0 = 0; g0 < groups; g0 += T) {
    const guard = g0 + T > groups ? `if (t + ${g0}u < ${groups}u) ` : '';
    loadA.push(`    ${guard}{
      let g = t + ${g0}u;
      if (p.transA == 0u) {
        // A stored m×k: 4 consecutive k of one row.
        let row = g / ${kq}u;
        let kk = (g % ${kq}u) * 4u;
        let gr = row0 + row;
        let gk = k0 + kk;
        var v = vec4<f32>(0.0);
        if (gr < p.m) { v = read4_A(baseA + gr * p.lda + gk, ${count4('p.k', 'gk')}); }
        let i = kk * 16u + (row >> 2u);
        let r = row & 3u;
        As[i][r] = v.x;
        As[i + 16u][r] = v.y;
        As[i + 32u][r] = v.z;
        As[i + 48u][r] = v.w;
      } else {
        // A stored k×m: 4 consecutive rows of op(A) at one k.
        let kk = g >> 4u;
        let rq = (g & 15u) * 4u;
        let gk = k0 + kk;
        let gr = row0 + rq;
        var v = vec4<f32>(0.0);
        if (gk < p.k) { v = read4_A(baseA + gk * p.lda + gr, ${count4('p.m', 'gr')}); }
        As[kk * 16u + (rq >> 2u)] = v;
      }
    }`);
    loadB.push(`    ${guard}{
      let g = t + ${g0}u;
      if (p.transB == 0u) {
        // B stored k×n: 4 consecutive columns at one k.
        let kk = g >> 4u;
        let cq = (g & 15u) * 4u;
        let gk = k0 + kk;
        let gc = col0 + cq;
        var v = vec4<f32>(0.0);
        if (gk < p.k) { v = read4_B(baseB + gk * p.ldb + gc, ${count4('p.n', 'gc')}); }
        Bs[kk * 16u + (cq >> 2u)] = v;
      } else {
        // B stored n×k: 4 consecutive k of one column of op(B).
        let col = g / ${kq}u;
        let kk = (g % ${kq}u) * 4u;
        let gc = col0 + col;
        let gk = k0 + kk;
        var v = vec4<f32>(0.0);
        if (gc < p.n) { v = read4_B(baseB + gc * p.ldb + gk, ${count4('p.k', 'gk')}); }
        let i = kk * 16u + (col >> 2u);
        let c = col & 3u;
        Bs[i][c] = v.x;
        Bs[i + 16u][c] = v.y;
        Bs[i + 32u][c] = v.z;
        Bs[i + 48u][c] = v.w;
      }
    }`);
  }

  const comps = ['x', 'y', 'z', 'w'];
  const ga = rm / 4; // vec4 groups of rows per invocation
  const gb = rn / 4;
  const acc = (r: number, q: number): string => `c${r}_${q}`;
  const decls: string[] = [];
  for (let r = 0; r < rm; r++) for (let q = 0; q < gb; q++) decls.push(`  var ${acc(r, q)} = vec4<f32>(0.0);`);
  // The k steps of one staged slice, unrolled: per step ga + gb vec4 loads from workgroup memory and rm·gb
  // vec4 multiply-adds.
  const inner: string[] = [];
  for (let kk = 0; kk < TK; kk++) {
    const lines: string[] = [];
    for (let i = 0; i < ga; i++) lines.push(`a${i} = As[${kk * 16 + i}u + ay];`);
    for (let q = 0; q < gb; q++) lines.push(`b${q} = Bs[${kk * 16 + q}u + bx];`);
    for (let r = 0; r < rm; r++) {
      for (let q = 0; q < gb; q++) {
        lines.push(`${acc(r, q)} = fma(vec4<f32>(a${r >> 2}.${comps[r & 3]}), b${q}, ${acc(r, q)});`);
      }
    }
    inner.push(`    ${lines.join(' ')}`);
  }

  // Stores the first `cnt` elements of the 4-wide row segment `acc` at (gr, gc…gc+3). Vector components are
  // only ever indexed by constants: dynamic indexing becomes branch ladders on some drivers (lavapipe).
  const storeRow = vec4
    ? `fn storeRow(baseO: u32, baseC: u32, gr: u32, gc: u32, acc: vec4<f32>, cnt: u32) {
  // n, pitches and offsets are multiples of 4: the group is entirely inside (gc < n) or outside.
  if (gr >= p.m || gc >= p.n || cnt == 0u) { return; }
  var v = p.alpha * acc;
  if (p.useC != 0u) { v += p.beta * ${nameC}[(baseC + gr * p.ldc + gc) >> 2u]; }
  let o = (baseO + gr * p.ldo + gc) >> 2u;
  if (cnt >= 4u) {
    Out[o] = v;
  } else {
    Out[o].x = v.x;
    if (cnt > 1u) { Out[o].y = v.y; }
    if (cnt > 2u) { Out[o].z = v.z; }
  }
}`
    : `fn storeRow(baseO: u32, baseC: u32, gr: u32, gc: u32, acc: vec4<f32>, cnt: u32) {
  if (gr >= p.m) { return; }
  let o = baseO + gr * p.ldo + gc;
  let c = baseC + gr * p.ldc + gc;
  let lim = min(cnt, select(0u, p.n - gc, gc < p.n));
  var v = p.alpha * acc;
  if (p.useC != 0u) {
    if (lim > 0u) { v.x += p.beta * ${nameC}[c]; }
    if (lim > 1u) { v.y += p.beta * ${nameC}[c + 1u]; }
    if (lim > 2u) { v.z += p.beta * ${nameC}[c + 2u]; }
    if (lim > 3u) { v.w += p.beta * ${nameC}[c + 3u]; }
  }
  if (lim > 0u) { Out[o] = v.x; }
  if (lim > 1u) { Out[o + 1u] = v.y; }
  if (lim > 2u) { Out[o + 2u] = v.z; }
  if (lim > 3u) { Out[o + 3u] = v.w; }
}`;

  // Transposed store for mode 2: the column segment (gr…gr+3, gc) goes to row gc, columns gr…gr+3.
  const storeT = vec4
    ? `fn storeT(baseO: u32, gr: u32, gc: u32, v: vec4<f32>) {
  if (gc >= p.n || gr >= p.m) { return; }
  Out[(baseO + gc * p.ldo + gr) >> 2u] = p.alpha * v;
}`
    : `fn storeT(baseO: u32, gr: u32, gc: u32, v: vec4<f32>) {
  if (gc >= p.n || gr >= p.m) { return; }
  let o = baseO + gc * p.ldo + gr;
  let lim = p.m - gr;
  Out[o] = p.alpha * v.x;
  if (lim > 1u) { Out[o + 1u] = p.alpha * v.y; }
  if (lim > 2u) { Out[o + 2u] = p.alpha * v.z; }
  if (lim > 3u) { Out[o + 3u] = p.alpha * v.w; }
}`;

  const stores: string[] = [];
  const mirror: string[] = [];
  for (let r = 0; r < rm; r++) {
    for (let q = 0; q < gb; q++) {
      const col = q === 0 ? 'gc' : `gc + ${4 * q}u`;
      // In mode 1, row gr + r keeps the columns col + j ≤ gr + r.
      stores.push(
        `  storeRow(baseO, baseC, gr + ${r}u, ${col}, ${acc(r, q)}, select(4u, lowerCount(gr + ${r}u, ${col}), p.mode == 1u));`,
      );
    }
  }
  for (let i = 0; i < ga; i++) {
    for (let q = 0; q < gb; q++) {
      for (let j = 0; j < 4; j++) {
        const c = comps[j]!;
        const v = [0, 1, 2, 3].map((r) => `${acc(4 * i + r, q)}.${c}`).join(', ');
        mirror.push(`    storeT(baseO, gr + ${4 * i}u, gc + ${4 * q + j}u, vec4<f32>(${v}));`);
      }
    }
  }

  return /* wgsl */ `
struct Params {
  m: u32,
  n: u32,
  k: u32,
  transA: u32,     // 1: A stored k×m
  transB: u32,     // 1: B stored n×k
  mode: u32,       // 0 full, 1 lower triangle only, 2 symmetric (mirror lower tiles)
  useC: u32,       // 1: add beta·C
  batchBase: u32,  // batch entry of workgroup z = 0
  offA: u32,       // element offsets of the views
  offB: u32,
  offC: u32,
  offO: u32,
  lda: u32,        // leading dimensions (row pitch of the stored matrix), elements
  ldb: u32,
  ldc: u32,
  ldo: u32,
  strideA: u32,    // batch strides, elements; 0 broadcasts
  strideB: u32,
  strideC: u32,
  strideO: u32,
  alpha: f32,
  beta: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
${bindings}

// k-major slices: As[kk·16 + i] holds rows 4i…4i+3 of op(A) at k0 + kk; Bs[kk·16 + j] columns 4j…4j+3.
var<workgroup> As: array<vec4<f32>, ${TK * 16}>;
var<workgroup> Bs: array<vec4<f32>, ${TK * 16}>;

${read4('A', nameA)}

${read4('B', nameB)}

${storeRow}

${storeT}

// Elements of the 4-wide segment at (row, col…col+3) on or below the diagonal.
fn lowerCount(row: u32, col: u32) -> u32 {
  return select(0u, min(4u, row + 1u - col), col <= row);
}

@compute @workgroup_size(${T})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let row0 = wid.y * ${GEMM_TILE}u;
  let col0 = wid.x * ${GEMM_TILE}u;
  // Tiles entirely above the diagonal are skipped in the triangular modes (uniform per workgroup).
  if (p.mode != 0u && col0 > row0 + ${GEMM_TILE - 1}u) { return; }
  let bz = p.batchBase + wid.z;
  let baseA = p.offA + bz * p.strideA;
  let baseB = p.offB + bz * p.strideB;
  let baseC = p.offC + bz * p.strideC;
  let baseO = p.offO + bz * p.strideO;
  let tx = t % ${nx}u;
  let ty = t / ${nx}u;
  let ay = ty * ${ga}u; // first vec4 row group of this invocation
  let bx = tx * ${gb}u; // first vec4 column group

${decls.join('\n')}
${Array.from({ length: ga }, (_, i) => `  var a${i}: vec4<f32>;`).join('\n')}
${Array.from({ length: gb }, (_, q) => `  var b${q}: vec4<f32>;`).join('\n')}

  for (var k0 = 0u; k0 < p.k; k0 += ${TK}u) {
${loadA.join('\n')}
${loadB.join('\n')}
    workgroupBarrier();
${inner.join('\n')}
    workgroupBarrier();
  }

  let gr = row0 + ty * ${rm}u;
  let gc = col0 + tx * ${rn}u;
${stores.join('\n')}
  if (p.mode == 2u && col0 < row0) {
    // Strictly-lower tile of a symmetric product: also write it transposed.
${mirror.join('\n')}
  }
}
`;
}
