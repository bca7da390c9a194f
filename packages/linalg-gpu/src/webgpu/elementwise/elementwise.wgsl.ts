/** Element-wise maps over batched operands with broadcasting (see `ElementwisePlan`). @internal @module */
export const ELEMENTWISE_WGSL = /* wgsl */ `
struct Params {
  total: u32,      // batch · size
  size: u32,       // elements per batch entry
  strideA: u32,    // 0 broadcasts
  strideB: u32,
  op: u32,         // 0: alpha·a + beta·b + gamma, 1: alpha·(a + gamma)·b, 2: alpha·a + gamma (no b)
  rowPitch: u32,   // invocations per dispatch row (x extent · 256)
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
  let idx = gid.x + gid.y * p.rowPitch;
  if (idx >= p.total) { return; }
  let e = idx / p.size;
  let i = idx - e * p.size;
  let x = a[e * p.strideA + i];
  var r: f32;
  if (p.op == 0u) {
    r = p.alpha * x + p.beta * b[e * p.strideB + i] + p.gamma;
  } else if (p.op == 1u) {
    r = p.alpha * (x + p.gamma) * b[e * p.strideB + i];
  } else {
    r = p.alpha * x + p.gamma;
  }
  out[idx] = r;
}
`;

/** Sum over the batch dimension. @internal */
export const SUM_BATCH_WGSL = /* wgsl */ `
struct Params {
  batch: u32,
  size: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * 65535u * 256u;
  if (i >= p.size) { return; }
  var s = 0.0;
  for (var e = 0u; e < p.batch; e++) {
    s += a[e * p.size + i];
  }
  out[i] = s;
}
`;
