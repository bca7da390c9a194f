/**
 * Target validation: targets are checked against the model output and the loss before anything runs, so a
 * wrong shape never broadcasts into a wrong loss and a wrong dtype never fails half-way through a step.
 *
 * Accepted (the ONNX adapter accepts the same):
 * - every built-in loss: float32 targets shaped exactly like the model output `[n, …]`, all finite;
 * - softmax cross-entropy also: int32 class indices `[n]` in `[0, C)` (C: the output's per-sample size),
 *   turned into float32 one-hot targets shaped like the output before the loss sees them;
 * - a custom loss: any numeric targets with the inputs' sample count (the loss owns their meaning).
 *
 * Shapes and dtypes need no read and are checked synchronously. Values need one: `fit`, `evaluate` and a
 * baseline's `trainBatch` read them before running ({@link checkTargetValues}); an FNGD or KFAC `trainBatch` folds
 * them into the read its step makes anyway ({@link TargetValueCheck}, {@link withDeferredTargetCheck}).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import { IfngdError } from 'ifngd';
import { AdapterArgumentError, targetError, type TensorSignature } from './errors.js';
import type { LossName } from './losses.js';
import { identityTap, type FunctionModel } from './model.js';

/** How the loss reads checked targets. */
export interface TargetKind {
  /** `'dense'`: as given; `'indices'`: int32 class indices, one-hot before the loss; `'custom'`: a custom loss's. */
  readonly kind: 'dense' | 'indices' | 'custom';
  /** The model output for these inputs (`[n, …]`). */
  readonly output: TensorSignature;
  /** Classes C (the output's per-sample size) for `'indices'`, else 0. */
  readonly classes: number;
}

function isTensor(t: unknown): t is Tensor {
  return t instanceof tf.Tensor;
}

function sig(t: Tensor): TensorSignature {
  return { shape: t.shape, dtype: t.dtype };
}

/** Per-sample output shapes of a model, found by a one-sample inference forward pass (cached per input shape). */
export class OutputShapes {
  readonly #model: FunctionModel;
  readonly #cache = new Map<string, { shape: readonly number[]; dtype: string }>();

  constructor(model: FunctionModel) {
    this.#model = model;
  }

  /** The output `[n, …]` and dtype for inputs `x` (`n ≥ 1`). Creates no tensors that outlive the call. */
  of(x: Tensor): TensorSignature {
    const n = x.shape[0] as number;
    const key = `${x.dtype}:${x.shape.slice(1).join(',')}`;
    let s = this.#cache.get(key);
    if (!s) {
      let found: { shape: readonly number[]; dtype: string } | null = null;
      tf.tidy(() => {
        let out: Tensor;
        try {
          out = this.#model.forward(tf.slice(x, [0], [1]), identityTap, false);
        } catch (e) {
          // tfjs's own errors (a shape mismatch inside an op) become a typed error naming the inputs
          if (e instanceof IfngdError) throw e;
          throw new AdapterArgumentError(`the model's forward pass failed on inputs ${x.dtype}[${x.shape.join(',')}]: ${(e as Error).message ?? String(e)}`);
        }
        if (!isTensor(out) || out.rank < 1 || out.shape[0] !== 1) {
          throw new AdapterArgumentError(`the model's forward must return one tensor [n, …] (got ${isTensor(out) ? `[${out.shape.join(',')}] for n = 1` : typeof out})`);
        }
        found = { shape: out.shape.slice(1), dtype: out.dtype };
      });
      s = found as unknown as { shape: readonly number[]; dtype: string };
      this.#cache.set(key, s);
    }
    return { shape: [n, ...s.shape], dtype: s.dtype };
  }
}

/** Checks the inputs of a step or an evaluation: tensors with a sample dimension of at least one sample. */
export function checkInputs(where: string, x: unknown, y: unknown): asserts x is Tensor {
  if (!isTensor(x)) throw new AdapterArgumentError(`${where}: x must be a tf.Tensor`);
  if (!isTensor(y)) throw new AdapterArgumentError(`${where}: targets must be a tf.Tensor`);
  if (x.rank < 1 || (x.shape[0] as number) < 1) throw new AdapterArgumentError(`${where}: x must be [n, …] with n ≥ 1, got [${x.shape.join(',')}]`);
}

/**
 * Checks targets' shape and dtype against the model output `output` and the loss (`null`: a custom loss).
 * Throws {@link TargetError} naming both shapes and dtypes.
 */
export function checkTargetShape(where: string, loss: LossName | null, y: Tensor, output: TensorSignature): TargetKind {
  const fail = (reason: string): never => {
    throw targetError(where, sig(y), output, reason);
  };
  const n = output.shape[0] as number;
  if (y.rank < 1 || y.shape[0] !== n) fail(`the inputs have ${n} samples, the targets ${y.rank < 1 ? 'none (a scalar)' : y.shape[0]}`);
  if (y.dtype !== 'float32' && y.dtype !== 'int32') fail(`targets must be numeric (float32${loss === null ? ' or int32' : ''})`);
  if (loss === null) return { kind: 'custom', output, classes: 0 };
  const classes = output.shape.slice(1).reduce((a, b) => a * b, 1);
  if (loss === 'softmax-cross-entropy' && y.dtype === 'int32') {
    if (y.rank !== 1) fail(`int32 targets are class indices and must be [${n}]`);
    return { kind: 'indices', output, classes };
  }
  const want = `float32[${output.shape.join(',')}]${loss === 'softmax-cross-entropy' ? ` (or int32 class indices [${n}])` : ''}`;
  if (y.dtype !== 'float32') fail(`'${loss}' takes ${want}`);
  const same = y.rank === output.shape.length && output.shape.every((d, i) => d === y.shape[i]);
  if (!same) fail(`'${loss}' takes ${want}`);
  return { kind: 'dense', output, classes };
}

/**
 * Checks the targets' values with one awaited read: finite (dense), integers in `[0, C)` (indices). Custom
 * losses' targets are not read. Throws {@link TargetError}.
 */
export async function checkTargetValues(where: string, y: Tensor, k: TargetKind): Promise<void> {
  if (k.kind === 'custom') return;
  const t = valueProbe(y, k);
  try {
    checkValues(where, y, k, await t.data());
  } finally {
    t.dispose();
  }
}

/** {@link checkTargetValues} with a synchronous read (for `evaluate`, which reads synchronously anyway). */
export function checkTargetValuesSync(where: string, y: Tensor, k: TargetKind): void {
  if (k.kind === 'custom') return;
  const t = valueProbe(y, k);
  try {
    checkValues(where, y, k, t.dataSync());
  } finally {
    t.dispose();
  }
}

/** What is read: one flag (all finite) for dense targets, the indices themselves for class indices. */
function valueProbe(y: Tensor, k: TargetKind): Tensor {
  return k.kind === 'dense' ? tf.tidy(() => tf.cast(tf.all(tf.isFinite(y)), 'int32')) : tf.clone(y);
}

function checkValues(where: string, y: Tensor, k: TargetKind, v: ArrayLike<number>): void {
  if (k.kind === 'dense') {
    if (v[0] !== 1) throw targetError(where, sig(y), k.output, 'targets hold NaN or ±Infinity');
    return;
  }
  for (let i = 0; i < v.length; i++) {
    const c = v[i] as number;
    if (!Number.isInteger(c) || c < 0 || c >= k.classes) throw targetError(where, sig(y), k.output, `class index ${c} of sample ${i} is outside [0, ${k.classes})`);
  }
}

/**
 * The targets' value check of a step that reads once to decide whether it commits (FNGD, KFAC): the check runs
 * on the backend at once, as 0-d float32 scalars, and the step reads them with its own scalars (see
 * {@link withDeferredTargetCheck}), so `trainBatch` pays no read of its own. What is read: dense targets, one
 * flag (all finite); class indices, a flag (all in `[0, C)`), the first bad sample and its index (as the high
 * and low 16 bits, each exact in float32); custom losses, nothing.
 */
export class TargetValueCheck {
  readonly #where: string;
  readonly #targets: TensorSignature;
  readonly #k: TargetKind;
  #scalars: Tensor[] | null;

  constructor(where: string, y: Tensor, k: TargetKind) {
    this.#where = where;
    this.#targets = sig(y);
    this.#k = k;
    this.#scalars = k.kind === 'custom' ? [] : valueScalars(y, k);
  }

  /**
   * Hands the scalars over for the step's read — the caller owns them from here on (disposes them). Take them
   * once, just before the read: a step that throws before taking them is checked by {@link TargetValueCheck.verifyUnread}.
   */
  take(): Tensor[] {
    const s = this.#scalars;
    if (s === null) throw new Error('TargetValueCheck.take: already taken');
    this.#scalars = null;
    return s;
  }

  /** Decides with the values read of the taken scalars (in order): throws {@link TargetError} for bad targets. */
  verify(values: ArrayLike<number>): void {
    const k = this.#k;
    if (k.kind === 'custom' || values[0] === 1) return;
    if (k.kind === 'dense') throw targetError(this.#where, this.#targets, k.output, 'targets hold NaN or ±Infinity');
    const i = values[1] as number;
    const c = (values[2] as number) * 65536 + (values[3] as number);
    throw targetError(this.#where, this.#targets, k.output, `class index ${c} of sample ${i} is outside [0, ${k.classes})`);
  }

  /**
   * For a step that threw before its read: reads the scalars now (one awaited read, on the failure path only)
   * and throws {@link TargetError} for bad targets, so bad targets are reported as such whatever they made fail.
   * Does nothing when the step took the scalars, or when this read fails (the step's error stands then).
   */
  async verifyUnread(): Promise<void> {
    const s = this.#scalars;
    if (s === null || s.length === 0) return;
    this.#scalars = null;
    let values: Float32Array;
    try {
      const stacked = tf.stack(s);
      try {
        values = (await stacked.data()) as Float32Array;
      } finally {
        stacked.dispose();
      }
    } catch {
      return;
    } finally {
      tf.dispose(s);
    }
    this.verify(values);
  }

  /** Releases the scalars unless the step took them. */
  dispose(): void {
    if (this.#scalars) tf.dispose(this.#scalars);
    this.#scalars = null;
  }
}

/** The scalars of a {@link TargetValueCheck} (dense or class-index targets). */
function valueScalars(y: Tensor, k: TargetKind): Tensor[] {
  return tf.tidy(() => {
    if (k.kind === 'dense') return [tf.cast(tf.all(tf.isFinite(y)), 'float32')];
    const n = y.shape[0] as number;
    const idx = tf.reshape(y, [n]);
    const bad = tf.logicalOr(tf.less(idx, tf.scalar(0, 'int32')), tf.greaterEqual(idx, tf.scalar(k.classes, 'int32')));
    const at = tf.range(0, n, 1, 'int32');
    const first = tf.min(tf.where(bad, at, tf.fill([n], n, 'int32'))); // n when none is bad
    const c = tf.sum(tf.where(tf.equal(at, first), idx, tf.zerosLike(idx))); // no gather: no index read on cpu
    const hi = tf.floorDiv(c, tf.scalar(65536, 'int32'));
    const lo = tf.sub(c, tf.mul(hi, tf.scalar(65536, 'int32')));
    return [tf.cast(tf.logicalNot(tf.any(bad)), 'float32'), ...[first, hi, lo].map((t) => tf.cast(t, 'float32'))];
  });
}

/** The targets the loss takes: `y` itself, or (indices) a new float32 one-hot tensor shaped like the output. */
export function lossTargets(y: Tensor, k: TargetKind): Tensor {
  if (k.kind !== 'indices') return y;
  const n = y.shape[0] as number;
  return tf.tidy(() => tf.reshape(tf.cast(tf.oneHot(tf.reshape(y, [n]) as tf.Tensor1D, k.classes), 'float32'), [n, ...k.output.shape.slice(1)]));
}

/** {@link checkInputs}, {@link checkTargetShape} and {@link checkTargetValues} in one. */
export async function checkTargets(where: string, shapes: OutputShapes, loss: LossName | null, x: unknown, y: unknown): Promise<TargetKind> {
  checkInputs(where, x, y);
  const k = checkTargetShape(where, loss, y as Tensor, shapes.of(x));
  await checkTargetValues(where, y as Tensor, k);
  return k;
}

/** Checks `x`, `y` ({@link checkTargets}) and runs `run` on the targets as the loss takes them (disposed after). */
export async function withLossTargets<T>(where: string, shapes: OutputShapes, loss: LossName | null, x: unknown, y: unknown, run: (yl: Tensor) => Promise<T>): Promise<T> {
  const k = await checkTargets(where, shapes, loss, x, y);
  const yl = lossTargets(y as Tensor, k);
  try {
    return await run(yl);
  } finally {
    if (yl !== y) yl.dispose();
  }
}

/**
 * {@link withLossTargets} for a step that reads once to decide whether it commits (FNGD, KFAC): inputs, shapes
 * and dtypes are checked here, synchronously; the values by a {@link TargetValueCheck} that `run` reads with its
 * own scalars and verifies before committing anything. When `run` throws before its read, the check is read then
 * (the failure path only), so bad targets throw {@link TargetError} whatever they made fail first.
 */
export async function withDeferredTargetCheck<T>(
  where: string,
  shapes: OutputShapes,
  loss: LossName | null,
  x: unknown,
  y: unknown,
  run: (yl: Tensor, check: TargetValueCheck) => Promise<T>,
): Promise<T> {
  checkInputs(where, x, y);
  const k = checkTargetShape(where, loss, y as Tensor, shapes.of(x));
  const check = new TargetValueCheck(where, y as Tensor, k);
  let yl = y as Tensor;
  try {
    yl = lossTargets(y as Tensor, k);
    return await run(yl, check);
  } catch (e) {
    await check.verifyUnread();
    throw e;
  } finally {
    check.dispose();
    if (yl !== y) yl.dispose();
  }
}

/** {@link withLossTargets} with synchronous reads (for `evaluate`). */
export function withLossTargetsSync<T>(where: string, shapes: OutputShapes, loss: LossName | null, x: unknown, y: unknown, run: (yl: Tensor) => T): T {
  checkInputs(where, x, y);
  const k = checkTargetShape(where, loss, y as Tensor, shapes.of(x));
  checkTargetValuesSync(where, y as Tensor, k);
  const yl = lossTargets(y as Tensor, k);
  try {
    return run(yl);
  } finally {
    if (yl !== y) yl.dispose();
  }
}
