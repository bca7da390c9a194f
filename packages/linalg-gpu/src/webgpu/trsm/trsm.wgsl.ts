/**
 * WGSL kernels of the batched triangular solve (see `trsm.ts`). All sizes, offsets and strides are
 * uniforms; the shader text never changes.
 * @internal
 * @module
 */

/** Floats of the workgroup tile of {@link trsmSweepWgsl}: n·cb must not exceed it. */
export const TRSM_TILE = 4096;

/** Invocations per workgroup of {@link trsmSweepWgsl} (a constant of the fixed shader text). */
export const TRSM_SWEEP_GROUP = 64;

/** Invocations per workgroup of {@link TRSM_COPY_WGSL}. */
export const TRSM_GROUP = 256;

/**
 * Column-sweep solve of `L·X = B` (forward) or `Lᵀ·X = B` (backward, L read transposed by indexing) for one
 * n×n lower-triangular (sub-)matrix L and a block of `cb` right-hand-side columns per workgroup.
 *
 * Workgroup (x, y) solves columns `(colBase + x)·cb …` of batch entry `e = batchBase + y`. The block of B
 * (`b[e·strideB + offB + i·ldB + c]`) is loaded into a workgroup tile and swept in blocks of 8 pivots with
 * two barriers per block (invocations split over rows × columns), and `X` written to `out[e·strideX + offX + i·ldX + c]`.
 * L is at `l[e·strideL + offL + i·ldL + j]`; strides of 0 broadcast. Only the lower triangle of L is read.
 * The in-place variant (bindings l, out) reads B from `out` (WebGPU forbids aliasing a writable binding);
 * the other has bindings l, b (both read-only, so L and B may be one buffer), out. Two fixed shader texts,
 * one pipeline key each.
 */
export function trsmSweepWgsl(inPlace: boolean): string {
  const bindings = inPlace
    ? `@group(0) @binding(1) var<storage, read> l: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;`
    : `@group(0) @binding(1) var<storage, read> l: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;`;
  const src = inPlace ? 'out' : 'b';
  return /* wgsl */ `
struct Params {
  n: u32,
  nrhs: u32,      // columns of B / X (the sub-block's column count)
  cb: u32,        // columns per workgroup (power of two ≤ 16, n·cb ≤ 4096)
  transpose: u32,
  offL: u32,
  ldL: u32,
  strideL: u32,
  offB: u32,
  ldB: u32,
  strideB: u32,
  offX: u32,
  ldX: u32,
  strideX: u32,
  batchBase: u32,
  colBase: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
${bindings}

var<workgroup> xs: array<f32, 4096>;   // (row i, column c) at i·cb + c

@compute @workgroup_size(${TRSM_SWEEP_GROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let e = p.batchBase + wid.y;
  let n = p.n;
  let cb = p.cb;
  let c = lid % cb;
  let r0 = lid / cb;
  let rstep = ${TRSM_SWEEP_GROUP}u / cb;
  let colIdx = (p.colBase + wid.x) * cb + c;
  let valid = colIdx < p.nrhs;
  let lb = e * p.strideL + p.offL;
  let ld = p.ldL;
  let bb = e * p.strideB + p.offB + colIdx;
  for (var i = r0; i < n; i += rstep) {
    var v = 0.0;
    if (valid) { v = ${src}[bb + i * p.ldB]; }
    xs[i * cb + c] = v;
  }
  workgroupBarrier();

  // Blocks of 8 pivots: the invocation with r0 = 0 of each column solves the 8×8 diagonal block alone,
  // then all invocations apply its rank-8 update to the rows still unsolved: two barriers per 8 pivots.
  if (p.transpose == 0u) {
    for (var k0 = 0u; k0 < n; k0 += 8u) {
      let k1 = min(k0 + 8u, n);
      if (r0 == 0u) {
        for (var j = k0; j < k1; j++) {
          let xj = xs[j * cb + c] / l[lb + j * ld + j];
          xs[j * cb + c] = xj;
          for (var i = j + 1u; i < k1; i++) { xs[i * cb + c] -= l[lb + i * ld + j] * xj; }
        }
      }
      workgroupBarrier();
      var i = r0;
      if (k1 > r0) { i = r0 + ((k1 - r0 + rstep - 1u) / rstep) * rstep; }
      for (; i < n; i += rstep) {
        let lrow = lb + i * ld;
        var s = 0.0;
        for (var j = k0; j < k1; j++) { s += l[lrow + j] * xs[j * cb + c]; }
        xs[i * cb + c] -= s;
      }
      workgroupBarrier();
    }
  } else {
    for (var k1 = n; k1 > 0u; k1 -= min(k1, 8u)) {
      let k0 = k1 - min(k1, 8u);
      if (r0 == 0u) {
        for (var jj = k1; jj > k0; jj--) {
          let j = jj - 1u;
          let xj = xs[j * cb + c] / l[lb + j * ld + j];
          xs[j * cb + c] = xj;
          for (var i = k0; i < j; i++) { xs[i * cb + c] -= l[lb + j * ld + i] * xj; }
        }
      }
      workgroupBarrier();
      for (var i = r0; i < k0; i += rstep) {
        var s = 0.0;
        for (var j = k0; j < k1; j++) { s += l[lb + j * ld + i] * xs[j * cb + c]; }
        xs[i * cb + c] -= s;
      }
      workgroupBarrier();
    }
  }

  if (valid) {
    let xb = e * p.strideX + p.offX + colIdx;
    for (var i = r0; i < n; i += rstep) {
      out[xb + i * p.ldX] = xs[i * cb + c];
    }
  }
}
`;
}

/**
 * Batched copy with broadcast: `out[offOut + e·size + i] = src[offSrc + e·strideSrc + i]` (blocked solve's
 * initial X = B).
 */
export const TRSM_COPY_WGSL = /* wgsl */ `
struct Params {
  size: u32,
  strideSrc: u32,
  batchBase: u32,
  rowPitch: u32,   // invocations per dispatch row (x extent · 256)
  offSrc: u32,
  offOut: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.rowPitch;
  if (i >= p.size) { return; }
  let e = p.batchBase + gid.z;
  out[p.offOut + e * p.size + i] = src[p.offSrc + e * p.strideSrc + i];
}
`;
