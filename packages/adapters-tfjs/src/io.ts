/**
 * Models with several inputs or outputs, packed into the one-tensor form the trainer's steps run on.
 *
 * Every step, cache key, batch plan, per-sample route and capture pass of the trainer works on one input tensor
 * `[n, …]` and one output tensor. A model with several inputs (or outputs) is trained through that same machinery
 * by packing: its inputs are flattened per sample and concatenated into one float32 tensor `[n, Σₖ sizeₖ]`
 * (int32 inputs — token ids — are cast back before the model sees them; exact below 2²⁴), and its outputs into
 * one `[n, Σₒ sizeₒ]` that the per-output losses split again (`output-losses.ts`). Packing happens once per call
 * at the trainer's boundary; the model's layers see their own tensors.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import { AdapterArgumentError, UnsupportedModelError } from './errors.js';

/** One input or output of a model: name, per-sample shape, its number of values, dtype. */
export interface IoSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly size: number;
  readonly dtype: 'float32' | 'int32';
}

/** What {@link ModelIo.of} reads of a LayersModel. */
export interface IoModelLike {
  readonly inputs: readonly { readonly shape: readonly (number | null)[]; readonly dtype: string }[];
  readonly outputs: readonly { readonly shape: readonly (number | null)[]; readonly dtype: string }[];
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
}

const isTensor = (t: unknown): t is Tensor => t instanceof tf.Tensor;

/** A value given as an array in order, as a record by name, or (one spec) alone → the array in spec order. */
export function byName<T>(where: string, what: string, value: unknown, specs: readonly IoSpec[], isItem: (v: unknown) => v is T): T[] {
  const names = specs.map((s) => s.name);
  if (specs.length === 1 && isItem(value) && !Array.isArray(value)) return [value];
  if (Array.isArray(value)) {
    if (value.length !== specs.length) {
      throw new AdapterArgumentError(`${where}: the model has ${specs.length} ${what} (${names.join(', ')}), got an array of ${value.length}`);
    }
    value.forEach((v, k) => {
      if (!isItem(v)) throw new AdapterArgumentError(`${where}: ${what} [${k}] ('${names[k]}') is not valid`);
    });
    return value as T[];
  }
  if (typeof value === 'object' && value !== null && !isTensor(value)) {
    const rec = value as Record<string, unknown>;
    const extra = Object.keys(rec).find((k) => !names.includes(k));
    if (extra !== undefined) throw new AdapterArgumentError(`${where}: '${extra}' is none of the model's ${what} (${names.join(', ')})`);
    return names.map((n) => {
      const v = rec[n];
      if (v === undefined) throw new AdapterArgumentError(`${where}: ${what} '${n}' is missing (the model's ${what}: ${names.join(', ')})`);
      if (!isItem(v)) throw new AdapterArgumentError(`${where}: ${what} '${n}' is not valid`);
      return v;
    });
  }
  throw new AdapterArgumentError(`${where}: the model has ${specs.length} ${what} (${names.join(', ')}); give an array of them in that order, or an object by name`);
}

function specs(kind: string, list: IoModelLike['inputs'], names: readonly string[]): IoSpec[] {
  return list.map((s, k) => {
    const shape = s.shape.slice(1);
    if (shape.some((d) => d === null)) {
      throw new UnsupportedModelError(
        `${kind} '${names[k]}' has a per-sample shape [${shape.map((d) => d ?? '?').join(',')}] with a free axis; a model with several inputs or outputs needs fixed per-sample shapes (give the Input layer its full shape)`,
      );
    }
    const dims = shape as number[];
    return { name: names[k] ?? `${kind}${k}`, shape: dims, size: dims.reduce((a, b) => a * b, 1), dtype: s.dtype === 'int32' ? 'int32' : 'float32' };
  });
}

/**
 * Throws `AdapterArgumentError` unless `x` fits a model input whose shape is `shape` (`[null, …]`: the batch axis
 * and any free axis null) — a typed error before tfjs would fail inside the forward pass.
 */
export function checkInputShape(where: string, x: Tensor, shape: readonly (number | null)[], name: string): void {
  const want = `[${shape.map((d) => (d === null ? '?' : d)).join(', ')}]`;
  const ok = x.rank === shape.length && shape.every((d, i) => i === 0 || d === null || x.shape[i] === d);
  if (!ok) throw new AdapterArgumentError(`${where}: input '${name}' must be ${want}, got [${x.shape.join(',')}]`);
  if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new AdapterArgumentError(`${where}: input '${name}' must be float32 or int32, got ${x.dtype}`);
}

/** The packing of a model with several inputs or outputs. */
export class ModelIo {
  readonly inputs: readonly IoSpec[];
  readonly outputs: readonly IoSpec[];

  constructor(inputs: readonly IoSpec[], outputs: readonly IoSpec[]) {
    this.inputs = inputs;
    this.outputs = outputs;
  }

  /** The packing of a LayersModel, or null when it has one input and one output (nothing to pack). */
  static of(model: IoModelLike): ModelIo | null {
    if (model.inputs.length === 1 && model.outputs.length === 1) return null;
    return new ModelIo(specs('input', model.inputs, model.inputNames), specs('output', model.outputs, model.outputNames));
  }

  /**
   * The packed input `[n, Σ sizes]` (a new float32 tensor) of inputs given as an array in the model's order or a
   * record by input name, each `[n, …shape]`. Throws `AdapterArgumentError` naming the input otherwise.
   */
  packInputs(where: string, x: unknown): Tensor {
    const xs = byName(where, 'inputs', x, this.inputs, isTensor);
    const n = xs[0]?.shape[0];
    xs.forEach((t, k) => {
      const s = this.inputs[k] as IoSpec;
      const ok = t.rank === s.shape.length + 1 && s.shape.every((d, i) => t.shape[i + 1] === d);
      if (!ok) throw new AdapterArgumentError(`${where}: input '${s.name}' must be [n, ${s.shape.join(', ')}], got [${t.shape.join(',')}]`);
      if (t.shape[0] !== n || (n as number) < 1) throw new AdapterArgumentError(`${where}: every input needs the same n ≥ 1 samples; got ${xs.map((u) => u.shape[0]).join(', ')}`);
      if (t.dtype !== 'float32' && t.dtype !== 'int32') throw new AdapterArgumentError(`${where}: input '${s.name}' must be float32 or int32, got ${t.dtype}`);
    });
    return pack(xs, n as number);
  }

  /** The model's inputs from a packed tensor (int32 inputs cast back). */
  unpackInputs(x: Tensor): Tensor[] {
    return unpack(x, this.inputs);
  }

  /** The packed output `[n, Σ sizes]` of the model's outputs. */
  packOutputs(outs: readonly Tensor[]): Tensor {
    return pack(outs, outs[0]?.shape[0] as number);
  }

  /** The model's outputs from a packed output. */
  unpackOutputs(out: Tensor): Tensor[] {
    return unpack(out, this.outputs);
  }
}

/** `[n, Σ sizes]` float32 from tensors `[n, …]`. */
export function pack(ts: readonly Tensor[], n: number): Tensor {
  return tf.tidy(() => {
    const flat = ts.map((t) => tf.reshape(t.dtype === 'float32' ? t : tf.cast(t, 'float32'), [n, -1]));
    return flat.length === 1 ? (flat[0] as Tensor) : tf.concat(flat, 1);
  });
}

/** The tensors `[n, …shape]` of a packed `[n, Σ sizes]`. */
export function unpack(x: Tensor, list: readonly IoSpec[]): Tensor[] {
  const n = x.shape[0] as number;
  let at = 0;
  return list.map((s) => {
    const part = tf.reshape(tf.slice(x, [0, at], [n, s.size]), [n, ...s.shape]);
    at += s.size;
    return s.dtype === 'int32' ? tf.cast(part, 'int32') : part;
  });
}
