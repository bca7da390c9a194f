/**
 * Options of {@link OnnxTrainer.create} and of one step.
 * @module
 */
import type { LinalgDevice } from '@ifngd/linalg-gpu';
import type { FngdOptions } from 'ifngd';
import type { InferenceSession } from 'onnxruntime-common';
import { InvalidOptionError } from './errors.js';
import type { OnnxKfacOptions } from './kfac.js';
import type { LossKind } from './loss.js';
import type { OrtRuntime } from './runtime-check.js';

/**
 * Options of {@link OnnxTrainer.create}: the loss, the runtime, and every FNGD option — or `kfac`. Only `loss`
 * is required; `learningRate`, `damping`, `momentum` and `mode` default to `ifngd`'s measured `FNGD_DEFAULTS`.
 */
export interface OnnxTrainerOptions extends Omit<FngdOptions, 'device' | 'ops'> {
  /**
   * Train with KFAC instead of FNGD (`ifngd`'s `kfac` options without `device`/`ops`/`layers`; missing fields
   * from `KFAC_DEFAULTS`). Every trainable layer (Gemm, MatMul(+Add), Conv) is a KFAC layer. No FNGD option
   * may be given beside it (`InvalidOptionError`).
   */
  readonly kfac?: OnnxKfacOptions;
  /** `'softmax-cross-entropy'` (output `[N,C]`, logits or Softmax/LogSoftmax output) or `'mse'`. */
  readonly loss: LossKind;
  /** Model output the loss applies to; default the first output. */
  readonly output?: string;
  /** Linear-algebra device for Grams and Cholesky; default `createDevice({ backend: 'auto' })`. */
  readonly device?: LinalgDevice;
  /**
   * ONNX Runtime module (`import * as ort from 'onnxruntime-web'` or `'onnxruntime-node'`). Default: in Node
   * `onnxruntime-node`, else `onnxruntime-web`; in browsers a global `ort`, else `onnxruntime-web`.
   */
  readonly ort?: OrtRuntime;
  /** Session options, e.g. `{ executionProviders: ['webgpu'] }`; default cpu. */
  readonly sessionOptions?: InferenceSession.SessionOptions;
}

/** Options of one {@link OnnxTrainer.step}. */
export interface StepOptions {
  /** Key of the batch in the fixed partition (the FNGD coefficient cache is keyed by it; KFAC ignores it). */
  readonly batchKey: string | number;
  /** Epoch (0-based); default the trainer's current epoch. */
  readonly epoch?: number;
}

/** Throws `InvalidOptionError` for `kfac` options that are not an object, set trainer-owned keys, or come with FNGD options. */
export function checkKfacOptions(k: unknown, fngdOptions: Readonly<Record<string, unknown>>): void {
  if (typeof k !== 'object' || k === null || Array.isArray(k)) throw new InvalidOptionError('kfac must be an options object (`{}` for KFAC_DEFAULTS)');
  for (const key of ['device', 'ops', 'layers']) if (key in k) throw new InvalidOptionError(`kfac.${key} is set by the trainer; remove it`);
  const fngdKeys = Object.keys(fngdOptions).filter((key) => fngdOptions[key] !== undefined);
  if (fngdKeys.length > 0) throw new InvalidOptionError(`give FNGD options or \`kfac\`, not both (got ${fngdKeys.join(', ')} beside kfac)`);
}
