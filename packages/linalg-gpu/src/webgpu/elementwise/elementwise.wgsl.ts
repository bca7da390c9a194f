/**
 * Element-wise maps over batched operands with broadcasting (see `ElementwisePlan`), and the batch sum. Sizes,
 * offsets and strides are uniforms; the shader text never changes.
 * @internal
 * @module
 */

/**
 * One invocation per result element of a flat range `[first, first + count)` of the batch×size result:
 * element `g` (entry `e = g / size`, index `i` in the entry) reads `a[e·strideA + i − baseA]` (and b likewise)
 * and writes `out[g − baseOut]`; the `base…` uniforms are the buffer element indices the bindings start at.
 */
export const ELEMENTWISE_WGSL = /* wgsl */ `
struct Params {
  count: u32,      // elements of this range
  size: u32,       // elements per batch entry
  strideA: u32,    // 0 broadcasts
  strideB: u32,
  op: u32,         // 0: alpha·a + beta·b + gamma, 1: alpha·(a + gamma)·b, 2: alpha·a + gamma (no b)
  rowPitch: u32,   // invocations per dispatch row (x extent · 256)
  first: u32,      // result element of invocation 0
  baseA: u32,
  baseB: u32,
  baseOut: u32,
  alpha: f32,
  beta: f32,
  gamma: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let local = gid.x + gid.y * p.rowPitch;
  if (local >= p.count) { return; }
  let idx = p.first + local;
  let e = idx / p.size;
  let i = idx - e * p.size;
  let x = a[e * p.strideA + i - p.baseA];
  var r: f32;
  if (p.op == 0u) {
    r = p.alpha * x + p.beta * b[e * p.strideB + i - p.baseB] + p.gamma;
  } else if (p.op == 1u) {
    r = p.alpha * (x + p.gamma) * b[e * p.strideB + i - p.baseB];
  } else {
    r = p.alpha * x + p.gamma;
  }
  out[idx - p.baseOut] = r;
}
`;

/**
 * Sum over the batch dimension of `width` columns: `out[offOut + i] = (accumulate ? out[offOut + i] : 0) +
 * Σ_{e < batch} a[offA + e·size + i]`, summed in entry order, so a sum over chunks of entries that accumulate
 * is the same sequence of additions as one over the whole batch.
 */
export const SUM_BATCH_WGSL = /* wgsl */ `
struct Params {
  batch: u32,
  size: u32,
  width: u32,
  offA: u32,
  offOut: u32,
  accumulate: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * 65535u * 256u;
  if (i >= p.width) { return; }
  var s = 0.0;
  if (p.accumulate != 0u) { s = out[p.offOut + i]; }
  for (var e = 0u; e < p.batch; e++) {
    s += a[p.offA + e * p.size + i];
  }
  out[p.offOut + i] = s;
}
`;
