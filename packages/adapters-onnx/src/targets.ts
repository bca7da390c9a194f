/**
 * Validation of targets against the model output and the loss, and their conversion to the float tensor the
 * training graphs take.
 * @module
 */
import type { Tensor } from 'onnxruntime-common';
import type { ModelAnalysis } from './analyze.js';
import { TargetError } from './errors.js';
import type { LossKind } from './loss.js';
import type { OrtRuntime } from './runtime-check.js';

/** Validates targets for `n` samples and converts them to the float tensor the graphs take. */
export function checkTargets(ort: OrtRuntime, an: ModelAnalysis, loss: LossKind, targets: Tensor, n: number): Tensor {
  if (!targets || typeof targets !== 'object' || !('dims' in targets)) throw new TargetError('targets must be a tensor');
  const out = an.output.shape;
  const want = [n, ...out.slice(1)];
  if (loss === 'softmax-cross-entropy' && (targets.type === 'int64' || targets.type === 'int32')) {
    if (targets.dims.length !== 1 || targets.dims[0] !== n) throw new TargetError(`class-index targets must be [${n}], got [${targets.dims.join(',')}]`);
    const c = out[1]!;
    const hot = new Float32Array(n * c);
    const data = targets.data as BigInt64Array | Int32Array;
    for (let i = 0; i < n; i++) {
      const k = Number(data[i]);
      if (!Number.isInteger(k) || k < 0 || k >= c) throw new TargetError(`target class ${k} of sample ${i} is outside [0, ${c})`);
      hot[i * c + k] = 1;
    }
    return new ort.Tensor('float32', hot, want);
  }
  if (targets.type !== 'float32' || !(targets.data instanceof Float32Array)) {
    throw new TargetError(`targets must be float32${loss === 'softmax-cross-entropy' ? ' [N,C] or int64/int32 class indices [N]' : ''}, got ${targets.type}`);
  }
  if (targets.dims.length !== want.length || want.some((d, i) => d !== targets.dims[i])) {
    throw new TargetError(`targets must be [${want.join(',')}], got [${targets.dims.join(',')}]`);
  }
  if (!targets.data.every(Number.isFinite)) throw new TargetError('targets hold NaN or ±Infinity');
  return targets;
}
