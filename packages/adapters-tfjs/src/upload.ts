/**
 * Moving a capture's factors to the linear-algebra device: GPU→GPU when it shares tfjs's webgpu device,
 * otherwise through an awaited read.
 * @module
 */
import type { Tensor } from '@tensorflow/tfjs-core';
import type { LayerFactors } from '@ifngd/fisher';
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import type { Capture } from './capture.js';
import { sharesTfDevice } from './device.js';
import { AdapterArgumentError } from './errors.js';
import type { PatchFilters } from './patches.js';
import type { SiteGroup } from './sites/types.js';

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
 * Moves a capture's factors to the linear-algebra device: one {@link LayerFactors} per site group (its rule's
 * factors), then the fallback's Jacobian for uncovered variables. When `dev` shares the tfjs webgpu backend's
 * GPUDevice ({@link sharesTfDevice}) every factor is copied GPU→GPU (`dataToGPU` + `fromGpuBuffer`); otherwise
 * (cpu/wasm, or a device of its own) it is read with `data()` and uploaded. `groups` selects the groups (KFAC
 * takes its Kronecker groups only).
 */
export async function uploadFactors(
  dev: LinalgDevice,
  cap: Capture,
  filters: PatchFilters,
  fallback: () => Float32Array,
  made: Matrix[],
  groups: readonly SiteGroup[] = cap.groups,
): Promise<LayerFactors[]> {
  const n = cap.n;
  const onGpu = sharesTfDevice(dev);
  const up = async (t: Tensor): Promise<Matrix> => {
    const shape = [...t.shape];
    if (shape.length !== 2 && shape.length !== 3) throw new AdapterArgumentError(`uploadFactors: a factor tensor must be 2-D or 3-D, got [${shape.join(',')}]`);
    const m = (onGpu && gpuFactor(dev, t, shape)) || dev.matrix((await t.data()) as Float32Array, shape);
    made.push(m);
    return m;
  };
  const factors: LayerFactors[] = [];
  for (const g of groups) {
    const tf_ = await g.rule.factors(g, { filters, n });
    try {
      const matrices: Record<string, Matrix> = {};
      for (const [k, t] of Object.entries(tf_.tensors)) matrices[k] = await up(t);
      factors.push({ ...(tf_.flags ?? {}), ...matrices, kind: tf_.kind } as unknown as LayerFactors);
    } finally {
      for (const t of Object.values(tf_.tensors)) t.dispose();
    }
  }
  if (groups === cap.groups && cap.uncovered.length > 0) {
    const d = cap.uncovered.reduce((s, v) => s + v.size, 0);
    const j = dev.matrix(fallback(), [n, d]);
    made.push(j);
    factors.push({ kind: 'jacobian', jacobian: j });
  }
  return factors;
}
