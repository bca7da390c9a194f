/**
 * Factor capture: one forward/backward pass of the summed loss Σᵢℓᵢ with identity hooks on every tapped
 * pre-activation. The hooks keep each layer's input A and add a zero probe to z; the gradient with respect to
 * the probes is Δ (row i = ∂ℓᵢ/∂zᵢ, since samples do not interact). Only the probes are differentiated, so the
 * pass computes no weight gradients — those come afterwards, α-weighted, from the factors:
 * dense `∇W = Aᵀ(w∘Δ)`, `∇b = (w∘Δ)ᵀ1`; conv the same with unfolded patches. Variables no tap covers fall back
 * to a per-sample `tf.grad` loop (slow: n extra forward/backward passes; documented).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import type { LayerFactors } from '@ifngd/fisher';
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import { sharesTfDevice } from './device.js';
import { AdapterArgumentError } from './errors.js';
import type { PerSampleLoss } from './losses.js';
import { identityTap, type Conv2dGeometry, type FunctionModel, type Tap, type TapWeights } from './model.js';

/** One tapped layer of a captured batch. */
export interface TapRecord {
  readonly kind: 'dense' | 'conv2d';
  /** The layer input (a kept clone). */
  readonly inputs: Tensor;
  /** Δ, shaped like z. */
  readonly delta: Tensor;
  readonly weights: TapWeights;
  readonly geometry: Conv2dGeometry | null;
}

/** A captured batch: per-layer factors and the summed loss. Dispose it. */
export interface Capture {
  readonly n: number;
  /** Σᵢ ℓᵢ. */
  readonly lossSum: number;
  readonly records: readonly TapRecord[];
  /** Variables no tap covers (generic fallback). */
  readonly uncovered: readonly Variable[];
  dispose(): void;
}

/** Identity filters `[kh,kw,cin,kh·kw·cin]` that unfold patches with a convolution (cached per shape). */
export class PatchFilters {
  readonly #cache = new Map<string, Tensor>();
  get(kh: number, kw: number, cin: number): tf.Tensor4D {
    const key = `${kh}x${kw}x${cin}`;
    let f = this.#cache.get(key);
    if (!f) {
      const k = kh * kw * cin;
      const data = new Float32Array(k * k);
      for (let m = 0; m < k; m++) data[m * k + m] = 1; // filter[i,j,c,(i·kw+j)·cin+c] = 1; flattened [k,k] identity
      f = tf.keep(tf.tensor4d(data, [kh, kw, cin, k]));
      this.#cache.set(key, f);
    }
    return f as tf.Tensor4D;
  }
  dispose(): void {
    for (const t of this.#cache.values()) t.dispose();
    this.#cache.clear();
  }
}

/** Unfolded patches `[n, T, kh·kw·cin]` of a conv layer input, in the kernel's flattening order. */
export function unfoldPatches(inputs: Tensor, kernelShape: readonly number[], g: Conv2dGeometry, filters: PatchFilters): Tensor {
  const [kh, kw, cin] = kernelShape as [number, number, number];
  return tf.tidy(() => {
    const p = tf.conv2d(inputs as tf.Tensor4D, filters.get(kh, kw, cin), [...g.strides], g.padding, 'NHWC', [...g.dilations]);
    const [n, oh, ow, k] = p.shape;
    return tf.reshape(p, [n, oh * ow, k]);
  });
}

/** Runs the capture pass. `training` is passed to the forward (dropout). Reads Σℓᵢ with `dataSync`. */
export function capture(model: FunctionModel, loss: PerSampleLoss, x: Tensor, y: Tensor, training = true): Capture {
  const { value, ...rest } = captureTensors(model, loss, x, y, training);
  const lossSum = value.dataSync()[0] as number;
  value.dispose();
  return { ...rest, lossSum };
}

/**
 * {@link capture} reading Σℓᵢ with an awaited `data()` — the form for backends without synchronous reads
 * (tfjs webgpu in Node has no OffscreenCanvas for `dataSync`).
 */
export async function captureAsync(model: FunctionModel, loss: PerSampleLoss, x: Tensor, y: Tensor, training = true): Promise<Capture> {
  const { value, ...rest } = captureTensors(model, loss, x, y, training);
  let lossSum: number;
  try {
    lossSum = (await value.data())[0] as number;
  } catch (e) {
    rest.dispose();
    throw e;
  } finally {
    value.dispose();
  }
  return { ...rest, lossSum };
}

function captureTensors(model: FunctionModel, loss: PerSampleLoss, x: Tensor, y: Tensor, training: boolean): Omit<Capture, 'lossSum'> & { value: Tensor } {
  const n = x.shape[0] as number;
  const kept: Tensor[] = [];
  const records: { kind: 'dense' | 'conv2d'; inputs: Tensor; weights: TapWeights; geometry: Conv2dGeometry | null }[] = [];
  const anchor = tf.scalar(0);
  const xs: Tensor[] = [anchor];
  const seen = new Set<Variable>();
  const hook = (kind: 'dense' | 'conv2d') => (z: Tensor, inputs: Tensor, weights: TapWeights, geometry?: Conv2dGeometry): Tensor => {
    for (const v of [weights.kernel, weights.bias]) {
      if (!v) continue;
      if (seen.has(v)) throw new AdapterArgumentError(`capture: variable '${v.name}' is tapped twice (shared weights are not supported)`);
      seen.add(v);
    }
    if (z.shape[0] !== n || inputs.shape[0] !== n) throw new AdapterArgumentError('capture: a tapped layer changed the batch dimension');
    const a = tf.keep(tf.clone(inputs));
    kept.push(a);
    records.push({ kind, inputs: a, weights, geometry: geometry ?? null });
    const probe = tf.zeros(z.shape);
    xs.push(probe);
    return tf.add(z, probe);
  };
  const tap: Tap = { dense: hook('dense'), conv2d: hook('conv2d') };
  let out: { value: Tensor; grads: Tensor[] };
  try {
    out = tf.engine().gradients(() => tf.sum(loss(model.forward(x, tap, training), y)), xs, undefined, true) as { value: Tensor; grads: Tensor[] };
  } catch (e) {
    for (const t of kept) t.dispose();
    anchor.dispose();
    throw e;
  }
  anchor.dispose();
  const deltas = out.grads.slice(1);
  const full: TapRecord[] = records.map((r, i) => {
    const d = deltas[i] ?? tf.zeros(xs[i + 1]?.shape ?? [n]);
    return { ...r, delta: d };
  });
  const uncovered = model.variables.filter((v) => !seen.has(v));
  return {
    n,
    value: out.value,
    records: full,
    uncovered,
    dispose() {
      for (const r of full) {
        r.inputs.dispose();
        r.delta.dispose();
      }
    },
  };
}

/** Per-sample weights shaped `[n, 1, …, 1]` to broadcast against a tensor of rank `rank`. */
function sampleWeights(w: Float32Array, rank: number): Tensor {
  return tf.tensor(w, [w.length, ...new Array<number>(rank - 1).fill(1)]);
}

/**
 * `Σᵢ wᵢ∇ℓᵢ` for the tapped variables of one record, from its factors. Returns `[kernelGrad, biasGrad?]`.
 */
export function weightedRecordGrads(r: TapRecord, w: Float32Array, filters: PatchFilters): Map<Variable, Tensor> {
  const out = new Map<Variable, Tensor>();
  tf.tidy(() => {
    const wd = tf.mul(r.delta, sampleWeights(w, r.delta.rank));
    const dout = r.delta.shape[r.delta.rank - 1] as number;
    const d2 = tf.reshape(wd, [-1, dout]) as tf.Tensor2D;
    let a2: tf.Tensor2D;
    if (r.kind === 'dense') {
      const din = r.inputs.shape[r.inputs.rank - 1] as number;
      a2 = tf.reshape(r.inputs, [-1, din]) as tf.Tensor2D;
    } else {
      const p = unfoldPatches(r.inputs, r.weights.kernel.shape, r.geometry as Conv2dGeometry, filters);
      a2 = tf.reshape(p, [-1, p.shape[2] as number]) as tf.Tensor2D;
    }
    const gk = tf.reshape(tf.matMul(a2, d2, true, false), r.weights.kernel.shape);
    out.set(r.weights.kernel, tf.keep(gk));
    if (r.weights.bias) out.set(r.weights.bias, tf.keep(tf.sum(d2, 0)));
  });
  return out;
}

/**
 * `Σᵢ wᵢ∇ℓᵢ` for `vars` by differentiating the weighted loss (one extra forward/backward); Σℓᵢ is read with an
 * awaited `data()`, so it works on backends without synchronous reads (tfjs-webgpu in Node).
 */
export async function weightedLossGradsAsync(
  model: FunctionModel,
  loss: PerSampleLoss,
  x: Tensor,
  y: Tensor,
  w: Float32Array,
  vars: readonly Variable[],
): Promise<{ grads: Map<Variable, Tensor>; lossSum: number }> {
  const { grads, lossSum } = weightedLossGradTensors(model, loss, x, y, w, vars);
  try {
    return { grads, lossSum: (await lossSum.data())[0] as number };
  } catch (e) {
    for (const g of grads.values()) g.dispose();
    throw e;
  } finally {
    lossSum.dispose();
  }
}

function weightedLossGradTensors(
  model: FunctionModel,
  loss: PerSampleLoss,
  x: Tensor,
  y: Tensor,
  w: Float32Array,
  vars: readonly Variable[],
): { grads: Map<Variable, Tensor>; lossSum: Tensor } {
  const wt = tf.tensor1d(w);
  let lossSumT: Tensor | null = null;
  try {
    const { value, grads } = tf.variableGrads(() => {
      const l = loss(model.forward(x, identityTap, true), y);
      lossSumT = tf.keep(tf.sum(l));
      return tf.sum(tf.mul(l, wt)) as tf.Scalar;
    }, [...vars]);
    value.dispose();
    const m = new Map<Variable, Tensor>();
    for (const v of vars) {
      const g = grads[v.name];
      m.set(v, g ?? tf.zerosLike(v));
    }
    const lossSum = (lossSumT as Tensor | null) ?? tf.scalar(NaN);
    lossSumT = null;
    return { grads: m, lossSum };
  } finally {
    wt.dispose();
    (lossSumT as Tensor | null)?.dispose();
  }
}

/** Per-sample gradients `[n, d]` of `vars` by a `tf.grad` loop (the generic fallback: slow). */
export function perSampleJacobian(model: FunctionModel, loss: PerSampleLoss, x: Tensor, y: Tensor, vars: readonly Variable[]): Float32Array {
  const n = x.shape[0] as number;
  const d = vars.reduce((s, v) => s + v.size, 0);
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const row = tf.tidy(() => {
      const xi = tf.slice(x, [i], [1]);
      const yi = tf.slice(y, [i], [1]);
      const { value, grads } = tf.variableGrads(() => tf.sum(loss(model.forward(xi, identityTap, true), yi)) as tf.Scalar, [...vars]);
      value.dispose();
      return tf.concat(vars.map((v) => tf.reshape(grads[v.name] ?? tf.zerosLike(v), [-1])));
    });
    out.set(row.dataSync(), i * d);
    row.dispose();
  }
  return out;
}

/**
 * Copies a float32 tfjs webgpu tensor into a new matrix of `dev` (which shares tfjs's GPUDevice) without
 * leaving the GPU: `dataToGPU()` gives a copy of the tensor's buffer (STORAGE | COPY_SRC | COPY_DST, like every
 * tfjs webgpu tensor buffer) and submits tfjs's pending work; `fromGpuBuffer` submits its copy on the same
 * queue before returning, so the temporary `tensorRef` is released right away. Returns null for a tensor
 * whose data still lives on the host (never uploaded: reading it costs no GPU round trip).
 */
function gpuFactor(dev: LinalgDevice, t: Tensor, shape: number[]): Matrix | null {
  if (t.dtype !== 'float32') return null;
  let gpu: { buffer?: GPUBuffer; tensorRef: Tensor };
  try {
    gpu = t.dataToGPU() as unknown as { buffer?: GPUBuffer; tensorRef: Tensor };
  } catch (e) {
    if (e instanceof Error && /not on GPU but on CPU/.test(e.message)) return null;
    throw e;
  }
  try {
    if (!gpu.buffer) throw new AdapterArgumentError('uploadFactors: dataToGPU() returned no GPUBuffer on the webgpu backend');
    return dev.fromGpuBuffer(gpu.buffer, shape);
  } finally {
    gpu.tensorRef.dispose();
  }
}

/**
 * Moves a capture's factors to the linear-algebra device (one {@link LayerFactors} per record, then the
 * fallback). When `dev` shares the tfjs webgpu backend's GPUDevice ({@link sharesTfDevice}) every factor is
 * copied GPU→GPU (`dataToGPU` + `fromGpuBuffer`); otherwise (cpu/wasm, or a device of its own) it is read with
 * `data()` and uploaded.
 */
export async function uploadFactors(
  dev: LinalgDevice,
  cap: Capture,
  filters: PatchFilters,
  fallback: () => Float32Array,
  made: Matrix[],
): Promise<LayerFactors[]> {
  const n = cap.n;
  const onGpu = sharesTfDevice(dev);
  const up = async (t: Tensor, shape: number[]): Promise<Matrix> => {
    const m = (onGpu && gpuFactor(dev, t, shape)) || dev.matrix((await t.data()) as Float32Array, shape);
    made.push(m);
    return m;
  };
  const factors: LayerFactors[] = [];
  for (const r of cap.records) {
    const bias = !!r.weights.bias;
    const dout = r.delta.shape[r.delta.rank - 1] as number;
    if (r.kind === 'dense' && r.inputs.rank === 2) {
      factors.push({ kind: 'dense', inputs: await up(r.inputs, [n, r.inputs.shape[1] as number]), outputGrads: await up(r.delta, [n, dout]), bias });
      continue;
    }
    let patches: Tensor;
    if (r.kind === 'dense') {
      patches = tf.reshape(r.inputs, [n, -1, r.inputs.shape[r.inputs.rank - 1] as number]);
    } else {
      patches = unfoldPatches(r.inputs, r.weights.kernel.shape, r.geometry as Conv2dGeometry, filters);
    }
    try {
      const [, t, k] = patches.shape as [number, number, number];
      factors.push({ kind: 'conv2d', patches: await up(patches, [n, t, k]), outputGrads: await up(r.delta, [n, t, dout]), bias });
    } finally {
      patches.dispose();
    }
  }
  if (cap.uncovered.length > 0) {
    const d = cap.uncovered.reduce((s, v) => s + v.size, 0);
    const j = dev.matrix(fallback(), [n, d]);
    made.push(j);
    factors.push({ kind: 'jacobian', jacobian: j });
  }
  return factors;
}
