/**
 * Moving a capture's factors to the linear-algebra device: GPU→GPU when it shares tfjs's webgpu device,
 * otherwise through an awaited read.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { LayerFactors } from '@ifngd/fisher';
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import type { Capture } from './capture.js';
import { sharesTfDevice } from './device.js';
import { AdapterArgumentError } from './errors.js';
import type { Conv2dGeometry } from './model.js';
import { unfoldPatches, type PatchFilters } from './patches.js';

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
