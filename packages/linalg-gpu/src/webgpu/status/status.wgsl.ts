/**
 * WGSL kernel of merged statuses (see `status.ts`).
 * @internal
 * @module
 */

/** Invocations per workgroup of {@link STATUS_WGSL}. */
export const STATUS_GROUP = 64;

/**
 * One invocation per status entry `e = gid.x + gid.y·rowPitch < count` of a chunk starting at entry `first`
 * of the batch (global entry `g = first + e`): the code of `prior0`, else of `prior1`, when non-zero (each read
 * as `readInfo` maps it: its element 0 when its count is 1, element `g` below its count, else 0; a count of 0
 * means absent), else — when `n > 0` — `−(j + 1)` for the first diagonal entry `l[offL + e·strideL + j·(n + 1)]`
 * that is 0 or not finite (tested on the bits, which fast-math cannot fold away), else 0; written to
 * `info[offInfo + e]`. The `off…` uniforms are the element offsets of the chunk's first entry (of element 0
 * for a prior of count 1) in the bindings. Absent operands are bound to any read-only buffer and never read.
 */
export const STATUS_WGSL = /* wgsl */ `
struct Params {
  count: u32,
  n: u32,
  strideL: u32,
  count0: u32,
  count1: u32,
  rowPitch: u32,
  first: u32,
  offL: u32,
  off0: u32,
  off1: u32,
  offInfo: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> l: array<f32>;
@group(0) @binding(2) var<storage, read> prior0: array<i32>;
@group(0) @binding(3) var<storage, read> prior1: array<i32>;
@group(0) @binding(4) var<storage, read_write> info: array<i32>;

fn code0(e: u32) -> i32 {
  if (p.count0 == 1u) { return prior0[p.off0]; }
  if (p.first + e < p.count0) { return prior0[p.off0 + e]; }
  return 0;
}

fn code1(e: u32) -> i32 {
  if (p.count1 == 1u) { return prior1[p.off1]; }
  if (p.first + e < p.count1) { return prior1[p.off1 + e]; }
  return 0;
}

@compute @workgroup_size(${STATUS_GROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let e = gid.x + gid.y * p.rowPitch;
  if (e >= p.count) { return; }
  var code = code0(e);
  if (code == 0) { code = code1(e); }
  if (code == 0) {
    let base = p.offL + e * p.strideL;
    for (var j = 0u; j < p.n; j++) {
      let bits = bitcast<u32>(l[base + j * (p.n + 1u)]);
      // zero (either sign), or exponent all ones (±inf, NaN)
      if ((bits & 0x7fffffffu) == 0u || (bits & 0x7f800000u) == 0x7f800000u) {
        code = -i32(j + 1u);
        break;
      }
    }
  }
  info[p.offInfo + e] = code;
}
`;
