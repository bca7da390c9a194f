/**
 * Validation of targets against the model output and the loss — before anything runs — and their conversion
 * to the float tensor the training graphs take. The rule (shared with the tfjs adapter), for a batch of n
 * samples:
 * - `'softmax-cross-entropy'` (output `[N,C]`): int32/int64 class indices `[n]`, each an integer in `[0, C)`;
 *   or float32 `[n,C]` one-hot or probabilities (finite, ≥ 0).
 * - `'mse'` (output `[N, …]`): float32 shaped like the output, `[n, …]`, finite.
 * Anything else — another dtype, `[n,1]`, `[n,C′]` with C′ ≠ C, another n, another rank, NaN or ±Infinity, a
 * negative probability, an index outside `[0, C)` — is a {@link TargetError} naming both dtypes and shapes.
 * @module
 */
import type { Tensor } from 'onnxruntime-common';
import type { ModelAnalysis } from './analyze.js';
import { TargetError, type TensorSignature } from './errors.js';
import type { LossKind } from './loss.js';
import type { OrtRuntime } from './runtime-check.js';

const fmt = (t: TensorSignature): string => `${t.dtype} [${t.shape.join(',')}]`;

/** Validates targets for `n` samples and converts them to the float tensor the graphs take. */
export function checkTargets(ort: OrtRuntime, an: ModelAnalysis, loss: LossKind, targets: Tensor, n: number): Tensor {
  const want = [n, ...an.output.shape.slice(1)];
  const output: TensorSignature = { dtype: 'float32', shape: want };
  const ce = loss === 'softmax-cross-entropy';
  const accepts = ce ? `int32/int64 class indices [${n}] in [0, ${want[1]}) or float32 [${want.join(',')}] (one-hot or probabilities)` : `float32 [${want.join(',')}]`;
  if (!isTensor(targets)) throw new TargetError(`targets must be a tensor (${loss} on output '${an.output.name}' ${fmt(output)} accepts ${accepts})`, { output });
  const got: TensorSignature = { dtype: targets.type, shape: [...targets.dims] };
  const fail = (why: string): never => {
    throw new TargetError(`targets ${fmt(got)} do not fit output '${an.output.name}' ${fmt(output)} under ${loss}: ${why} (accepted: ${accepts})`, { targets: got, output });
  };
  const size = got.shape.reduce((a, d) => a * d, 1);
  if (got.shape.some((d) => !Number.isSafeInteger(d) || d < 0) || targets.data.length !== size) fail(`their data holds ${targets.data.length} values, their dims ${size}`);
  if (got.shape.length > 0 && got.shape[0] !== n) fail(`they hold ${got.shape[0]} samples, the inputs ${n}`);
  if (ce && (got.dtype === 'int64' || got.dtype === 'int32')) {
    if (got.shape.length !== 1) fail(`class indices must be [${n}]`);
    return oneHot(ort, targets, want, fail);
  }
  if (got.dtype !== 'float32' || !(targets.data instanceof Float32Array)) fail(`dtype ${got.dtype} is not accepted`);
  if (got.shape.length !== want.length || want.some((d, i) => d !== got.shape[i])) fail('the shape differs');
  const data = targets.data as Float32Array;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v)) fail(`value ${v} at flat index ${i} (targets hold NaN or ±Infinity)`);
    if (ce && v < 0) fail(`value ${v} at flat index ${i} is negative (not a probability)`);
  }
  return targets;
}

/** Class indices `[n]` → float32 one-hot `want` = `[n, C]`. */
function oneHot(ort: OrtRuntime, targets: Tensor, want: number[], fail: (why: string) => never): Tensor {
  const [n, c] = want as [number, number];
  const data = targets.data;
  if (!(data instanceof BigInt64Array) && !(data instanceof Int32Array)) return fail(`${targets.type} data must be a ${targets.type === 'int64' ? 'BigInt64Array' : 'Int32Array'}`);
  const hot = new Float32Array(n * c);
  for (let i = 0; i < n; i++) {
    const k = Number(data[i]);
    if (!Number.isInteger(k) || k < 0 || k >= c) fail(`class ${String(data[i])} of sample ${i} is outside [0, ${c})`);
    hot[i * c + k] = 1;
  }
  return new ort.Tensor('float32', hot, want);
}

function isTensor(t: unknown): t is Tensor {
  if (typeof t !== 'object' || t === null) return false;
  const r = t as { dims?: unknown; type?: unknown; data?: unknown };
  return Array.isArray(r.dims) && typeof r.type === 'string' && typeof (r.data as { length?: unknown } | null)?.length === 'number';
}
