/**
 * WGSL kernels of the Cholesky factorization (see `cholesky.ts` for how they are combined).
 * All sizes, offsets and strides are uniforms; the shader text never changes.
 * @internal
 * @module
 */

/**
 * Largest matrix (or diagonal block) {@link cholUnblockedWgsl} factors: its panel cache holds 8 columns of
 * 256 rows. Every kernel here stays within WebGPU's default 16 KiB of workgroup memory.
 */
export const CHOL_UNBLOCKED_MAX = 256;

/** Side of the square workgroup of {@link cholUnblockedWgsl} (a constant of the fixed shader text). */
const UB_SIDE = 8;

/** Largest diagonal block {@link CHOL_PANEL_WGSL} solves against (size of its packed L11 cache). */
export const CHOL_PANEL_MAX_NB = 32;

/** Rows of the panel one {@link CHOL_PANEL_WGSL} workgroup solves (one row per invocation). */
export const CHOL_PANEL_ROWS = 64;

/**
 * Right-looking Cholesky of one n×n (sub-)matrix per workgroup, in place in `out`, in panels of 8
 * columns: each panel is loaded into workgroup memory and factored there column by column (barriers only
 * around workgroup memory), written back, and the trailing lower triangle gets one rank-8 update, so the
 * global read-modify-write traffic is n³/48 rather than n³/6.
 *
 * Entry `e = batchBase + wid.x + wid.y·gridX` (counted from the entry the bindings' offsets point at); the
 * block starts at `e·batchStride + offset` with row pitch `ld`, its status is `info[infoOffset + e]`. The `copyIn` variant (bindings src, out, info) first fills the block from `src` (same layout):
 * lower triangle of A plus `shift` on the diagonal, strict upper part 0; the in-place variant (bindings out,
 * info; WebGPU forbids aliasing a writable binding) only zeroes the strict upper part of the block and
 * factors the lower part as it stands. A non-zero status on entry skips the block; a pivot that is ≤ 0 or
 * not finite stores `infoBase + j + 1` in it and the whole workgroup leaves together.
 * Two fixed shader texts, one pipeline key each.
 */
export function cholUnblockedWgsl(copyIn: boolean): string {
  const bindings = copyIn
    ? `@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> info: array<i32>;`
    : `@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> info: array<i32>;`;
  const fill = copyIn
    ? `var v = 0.0;
    if (j <= i) {
      v = src[at];
      if (i == j) { v += p.shift; }
    }
    out[at] = v;`
    : `if (j > i) { out[at] = 0.0; }`;
  return /* wgsl */ `
struct Params {
  n: u32,
  ld: u32,
  offset: u32,
  batchStride: u32,
  batchBase: u32,
  batchCount: u32,
  gridX: u32,
  infoBase: u32,
  infoOffset: u32,
  shift: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
${bindings}

var<workgroup> pan: array<f32, 2048>;   // panel of 8 columns: (row i, column k0 + q) at i·8 + q
var<workgroup> wRecip: f32;
var<workgroup> wFail: u32;

fn finite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

@compute @workgroup_size(${UB_SIDE}, ${UB_SIDE})
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_id) lid3: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let local = wid.x + wid.y * p.gridX;
  if (local >= p.batchCount) { return; }
  let e = p.batchBase + local;
  let base = e * p.batchStride + p.offset;
  let n = p.n;
  let ld = p.ld;

  let status = p.infoOffset + e;
  if (lid == 0u) { wFail = select(0u, 1u, info[status] != 0); }
  if (workgroupUniformLoad(&wFail) != 0u) { return; }

  // Fill (copyIn) or clean (strict upper part) the block.
  for (var idx = lid; idx < n * n; idx += ${UB_SIDE * UB_SIDE}u) {
    let i = idx / n;
    let j = idx - i * n;
    let at = base + i * ld + j;
    ${fill}
  }
  storageBarrier();
  workgroupBarrier();

  let tx = lid3.x;
  let ty = lid3.y;
  for (var k0 = 0u; k0 < n; k0 += 8u) {
    let w = min(8u, n - k0);
    // Load the panel (rows k0…n-1, columns k0…k0+w-1) into workgroup memory.
    for (var idx = lid; idx < (n - k0) * 8u; idx += ${UB_SIDE * UB_SIDE}u) {
      let i = k0 + idx / 8u;
      let q = idx % 8u;
      var v = 0.0;
      if (q < w && k0 + q <= i) { v = out[base + i * ld + k0 + q]; }
      pan[i * 8u + q] = v;
    }
    workgroupBarrier();
    // Right-looking factorization of the panel's columns.
    for (var jj = 0u; jj < w; jj++) {
      let j = k0 + jj;
      if (lid == 0u) {
        let d = pan[j * 8u + jj];
        if (finite(d) && d > 0.0) {
          let s = sqrt(d);
          pan[j * 8u + jj] = s;
          wRecip = 1.0 / s;
          wFail = 0u;
        } else {
          info[status] = i32(p.infoBase + j + 1u);
          wFail = 1u;
        }
      }
      if (workgroupUniformLoad(&wFail) != 0u) { return; }
      let r = wRecip;
      for (var i = j + 1u + lid; i < n; i += ${UB_SIDE * UB_SIDE}u) {
        pan[i * 8u + jj] *= r;
      }
      workgroupBarrier();
      // update the panel's later columns q > jj (rows i ≥ k0 + q)
      let rest = w - jj - 1u;
      if (rest > 0u) {
        for (var idx = lid; idx < (n - j - 1u) * 8u; idx += ${UB_SIDE * UB_SIDE}u) {
          let i = j + 1u + idx / 8u;
          let q = idx % 8u;
          if (q > jj && q < w && k0 + q <= i) {
            pan[i * 8u + q] -= pan[i * 8u + jj] * pan[(k0 + q) * 8u + jj];
          }
        }
        workgroupBarrier();
      }
    }
    // Write the factored panel back.
    for (var idx = lid; idx < (n - k0) * 8u; idx += ${UB_SIDE * UB_SIDE}u) {
      let i = k0 + idx / 8u;
      let q = idx % 8u;
      if (q < w && k0 + q <= i) { out[base + i * ld + k0 + q] = pan[i * 8u + q]; }
    }
    // Rank-w update of the trailing lower triangle; 16 consecutive columns per row are coalesced.
    let t0 = k0 + w;
    for (var i = t0 + ty; i < n; i += ${UB_SIDE}u) {
      let pi = i * 8u;
      let row = base + i * ld;
      for (var k = t0 + tx; k <= i; k += ${UB_SIDE}u) {
        let pk = k * 8u;
        // columns q ≥ w of the panel are 0, so the dot product is always 8 long (unrolled)
        let s = pan[pi] * pan[pk] + pan[pi + 1u] * pan[pk + 1u] + pan[pi + 2u] * pan[pk + 2u]
          + pan[pi + 3u] * pan[pk + 3u] + pan[pi + 4u] * pan[pk + 4u] + pan[pi + 5u] * pan[pk + 5u]
          + pan[pi + 6u] * pan[pk + 6u] + pan[pi + 7u] * pan[pk + 7u];
        out[row + k] -= s;
      }
    }
    storageBarrier();
    workgroupBarrier();
  }
}
`;
}

/**
 * Panel solve of the blocked factorization: `L21 = A21·L11⁻ᵀ` in place, where L11 is the factored nb×nb
 * diagonal block at (k0, k0) and A21 the rows `k0 + nb … n-1` of the same block column. One invocation
 * per row (rows are independent); L11 is cached packed in workgroup memory, the row's solution in a
 * column-major workgroup tile. Entry `e = batchBase + wid.z` starts at `offset + e·batchStride`, its status
 * is `info[infoOffset + e]`; an entry whose status is non-zero gets a zero panel so the trailing update
 * leaves its matrix untouched (no NaN work after a failure).
 */
export const CHOL_PANEL_WGSL = /* wgsl */ `
struct Params {
  n: u32,
  ld: u32,
  k0: u32,
  nb: u32,
  batchStride: u32,
  batchBase: u32,
  offset: u32,
  infoOffset: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> info: array<i32>;

var<workgroup> lp: array<f32, 528>;    // packed lower L11: (j, q) at j(j+1)/2 + q
var<workgroup> invd: array<f32, 32>;
var<workgroup> xs: array<f32, 2048>;   // solution tile: (row, j) at j·64 + row

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let e = p.batchBase + wid.z;
  let base = p.offset + e * p.batchStride;
  let nb = p.nb;
  let k0 = p.k0;
  let ld = p.ld;
  for (var idx = lid; idx < nb * nb; idx += 64u) {
    let j = idx / nb;
    let q = idx - j * nb;
    if (q <= j) {
      let v = out[base + (k0 + j) * ld + k0 + q];
      lp[j * (j + 1u) / 2u + q] = v;
      if (q == j) { invd[j] = 1.0 / v; }
    }
  }
  workgroupBarrier();

  let r = k0 + nb + wid.x * 64u + lid;
  if (r >= p.n) { return; }
  let row = base + r * ld + k0;
  if (info[p.infoOffset + e] != 0) {
    for (var j = 0u; j < nb; j++) { out[row + j] = 0.0; }
    return;
  }
  for (var j = 0u; j < nb; j++) {
    var s = out[row + j];
    let lj = j * (j + 1u) / 2u;
    for (var q = 0u; q < j; q++) {
      s -= xs[q * 64u + lid] * lp[lj + q];
    }
    let x = s * invd[j];
    xs[j * 64u + lid] = x;
    out[row + j] = x;
  }
}
`;

/**
 * Copies the lower triangle of `src` plus `shift` on the diagonal into `out` and zeroes the strict upper part
 * (16×16 invocations per workgroup over (column, row), entry `batchBase + wid.z`, contiguous n×n entries from
 * element `offset` of both bindings).
 */
export const CHOL_COPY_WGSL = /* wgsl */ `
struct Params {
  n: u32,
  batchBase: u32,
  offset: u32,
  shift: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = p.n;
  let j = gid.x;
  let i = gid.y;
  if (i >= n || j >= n) { return; }
  let at = p.offset + (p.batchBase + gid.z) * n * n + i * n + j;
  var v = 0.0;
  if (j <= i) {
    v = src[at];
    if (i == j) { v += p.shift; }
  }
  out[at] = v;
}
`;
