/**
 * Sample identities for the batch plan: given ids, row numbers, or a hash of each sample's content.
 * @module
 */
import type { Tensor } from '@tensorflow/tfjs-core';
import type { SampleId } from 'ifngd';
import { AdapterArgumentError } from './errors.js';

/** Content ids per (xs, ys) pair already hashed: `fit` is often called once per epoch on the same tensors. */
const memo = new WeakMap<Tensor, WeakMap<Tensor, SampleId[]>>();

/** Two-lane FNV-1a over the 32-bit words of one row of `x` and one row of `y`. */
function rowHash(x: Uint32Array, xo: number, xn: number, y: Uint32Array, yo: number, yn: number): string {
  let a = 0x811c9dc5;
  let b = 0x9e3779b9;
  const mix = (w: number) => {
    a = Math.imul(a ^ w, 0x01000193) >>> 0;
    b = Math.imul(b ^ (w >>> 16) ^ (w << 16), 0x0100019b) >>> 0;
  };
  for (let i = 0; i < xn; i++) mix(x[xo + i] as number);
  mix(0x5eed);
  for (let i = 0; i < yn; i++) mix(y[yo + i] as number);
  return a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0');
}

function isVariable(t: Tensor): boolean {
  return typeof (t as { assign?: unknown }).assign === 'function';
}

/** The 32-bit words of a tensor's values in its dtype's canonical array (backends may hand out another kind). */
function words(v: ArrayLike<number>, dtype: Tensor['dtype']): Uint32Array {
  const canon = dtype === 'int32' ? (v instanceof Int32Array ? v : Int32Array.from(v)) : v instanceof Float32Array ? v : Float32Array.from(v);
  return new Uint32Array(canon.buffer, canon.byteOffset, canon.length);
}

/**
 * One id per sample of `xs`/`ys`. `'content'`: a 64-bit hash of the sample's x and y values (identical samples
 * are told apart by their occurrence: `hash#2`, …); `'index'`: the row number; an array: checked for length.
 * Throws `AdapterArgumentError` (wrong length, string dtype).
 */
export async function sampleIdsOf(xs: Tensor, ys: Tensor, mode: 'content' | 'index' | readonly SampleId[]): Promise<SampleId[]> {
  const N = xs.shape[0] as number;
  if (Array.isArray(mode)) {
    if (mode.length !== N) throw new AdapterArgumentError(`fit: sampleIds has ${mode.length} ids for ${N} samples`);
    return [...(mode as readonly SampleId[])];
  }
  if (mode === 'index') return Array.from({ length: N }, (_, i) => i);
  if (mode !== 'content') throw new AdapterArgumentError(`fit: sampleIds must be 'content', 'index' or an array of ids, got ${String(mode)}`);
  const known = memo.get(xs)?.get(ys);
  if (known) return [...known];
  if (xs.dtype === 'string' || ys.dtype === 'string') throw new AdapterArgumentError("fit: sampleIds 'content' needs numeric tensors (pass ids)");
  const [xv, yv] = await Promise.all([xs.data(), ys.data()]);
  const xw = words(xv as ArrayLike<number>, xs.dtype);
  const yw = words(yv as ArrayLike<number>, ys.dtype);
  const xn = N === 0 ? 0 : xw.length / N;
  const yn = N === 0 ? 0 : yw.length / N;
  const seen = new Map<string, number>();
  const ids: SampleId[] = [];
  for (let i = 0; i < N; i++) {
    const h = rowHash(xw, i * xn, xn, yw, i * yn, yn);
    const k = (seen.get(h) ?? 0) + 1;
    seen.set(h, k);
    ids.push(k === 1 ? h : `${h}#${k}`);
  }
  // tensors are immutable; variables are not (`assign`), so their hashes are never memoised
  if (!isVariable(xs) && !isVariable(ys)) {
    let inner = memo.get(xs);
    if (!inner) memo.set(xs, (inner = new WeakMap()));
    inner.set(ys, ids);
  }
  return [...ids];
}
