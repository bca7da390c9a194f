/**
 * `ifngd` tree operations over TensorFlow.js tensors, so the optimizer's transforms (FNGD scaling, guard,
 * momentum, weight decay, learning rate) run on the tfjs backend, plus the bookkeeping that keeps the
 * optimizer's tensor-valued state from leaking.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { HostTree, LeafSpec, TreeOps } from 'ifngd';

/** A parameter tree of tfjs tensors; key order is the parameter order. */
export type TfTree = Readonly<Record<string, Tensor>>;

/** Shapes of the leaves, used by `fromHost` (a checkpoint holds flat arrays). */
export type ShapeMap = Readonly<Record<string, readonly number[]>>;

/**
 * Trees are instances of this (empty) class rather than plain objects: `ifngd`'s checkpoint treats plain
 * objects as containers to recurse into and anything else as a tree leaf to pass to `toHost`.
 */
class TfTreeNode {}

/** Wraps named tensors as a tree (see {@link TfTree}). */
export function makeTree(record: Readonly<Record<string, Tensor>>): TfTree {
  return Object.assign(new TfTreeNode(), record) as TfTree;
}

function map1(t: TfTree, f: (x: Tensor) => Tensor): TfTree {
  const out: Record<string, Tensor> = {};
  for (const k of Object.keys(t)) out[k] = f(t[k] as Tensor);
  return makeTree(out);
}

/** {@link TreeOps} over tfjs tensors; the scalars are 0-d float32 tensors. */
export type TfTreeOps = TreeOps<TfTree, Tensor>;

const leaves = (t: TfTree): Tensor[] => Object.keys(t).map((k) => t[k] as Tensor);

/**
 * {@link TreeOps} over tfjs tensors. Every op returns new tensors (callers run the optimizer's `propose` inside
 * `tf.tidy`, see {@link collectTensors}). Reductions (`norm2`, `norm`, `allFinite`) and the scalar ops (`shrink`,
 * `countBelow`) return 0-d tensors and read nothing: the reuse guard, clipping and the finiteness checks are
 * decided on the backend, and the values the optimizer needs on the host are read once per step with the
 * awaited {@link TreeOps.read} (one `data()` of the stacked scalars) — the form every backend supports,
 * webgpu in Node (no synchronous reads) included.
 */
export function tfTreeOps(shapes: ShapeMap): TfTreeOps {
  const norm2 = (t: TfTree): Tensor => {
    const ls = leaves(t);
    // stack + sum, not addN: tfjs-webgpu's AddN binds every input at once and is an invalid pipeline beyond the
    // adapter's storage-buffer limit (7 inputs on a default device); its concat splits its inputs
    return ls.length === 0 ? tf.scalar(0) : tf.tidy(() => tf.sum(tf.stack(ls.map((x) => tf.sum(tf.square(x))))));
  };
  return {
    spec: (t): LeafSpec[] => Object.keys(t).map((name) => ({ name, size: (t[name] as Tensor).size, shape: (t[name] as Tensor).shape })),
    zerosLike: (t) => map1(t, (x) => tf.zerosLike(x)),
    norm2,
    norm: (t, k) => tf.tidy(() => tf.mul(tf.sqrt(norm2(t)), tf.scalar(k))),
    allFinite(t) {
      const ls = leaves(t);
      if (ls.length === 0) return tf.scalar(1);
      return tf.tidy(() => tf.cast(tf.all(tf.stack(ls.map((x) => tf.all(tf.isFinite(x))))), 'float32'));
    },
    shrink: (norm, max) =>
      tf.tidy(() => {
        const m = tf.scalar(max);
        return tf.where(tf.greater(norm, m), tf.div(m, norm), tf.onesLike(norm));
      }),
    countBelow: (count, x, bound) => tf.tidy(() => tf.add(typeof count === 'number' ? tf.scalar(count) : count, tf.cast(tf.less(x, tf.scalar(bound)), 'float32'))),
    scale: (t, s) => map1(t, (x) => tf.mul(x, tf.scalar(s))),
    scaleBy: (t, s, k) => {
      const f = tf.mul(s, tf.scalar(k));
      const out = map1(t, (x) => tf.mul(x, f));
      f.dispose();
      return out;
    },
    axpy: (a, x, y) => {
      const out: Record<string, Tensor> = {};
      for (const k of Object.keys(x)) {
        const xv = x[k] as Tensor;
        const yv = y[k];
        if (!yv) throw new Error(`axpy: tree has no leaf '${k}'`);
        out[k] = tf.tidy(() => tf.add(tf.mul(xv, tf.scalar(a)), yv));
      }
      return makeTree(out);
    },
    async read(scalars) {
      if (scalars.length === 0) return [];
      let r: Tensor | null = null;
      try {
        r = tf.stack([...scalars]); // inside the try: the scalars are released even when stacking throws
        return Array.from((await r.data()) as Float32Array);
      } finally {
        r?.dispose();
        for (const x of scalars) x.dispose();
      }
    },
    toHost: (t): HostTree => {
      const out: Record<string, Float32Array> = {};
      for (const k of Object.keys(t)) out[k] = Float32Array.from((t[k] as Tensor).dataSync());
      return out;
    },
    fromHost: (h): TfTree => {
      const out: Record<string, Tensor> = {};
      for (const k of Object.keys(h)) {
        const data = h[k] as Float32Array;
        const shape = shapes[k];
        out[k] = tf.tensor(data, shape ? [...shape] : [data.length]);
      }
      return makeTree(out);
    },
  };
}

/** Every tfjs tensor reachable from `value` (objects, arrays, maps; cycles are followed once). */
export function collectTensors(value: unknown, into: Set<Tensor> = new Set(), seen: Set<object> = new Set()): Set<Tensor> {
  if (value === null || typeof value !== 'object') return into;
  if (value instanceof tf.Tensor) {
    into.add(value);
    return into;
  }
  if (seen.has(value)) return into;
  seen.add(value);
  if (ArrayBuffer.isView(value)) return into;
  if (Array.isArray(value)) {
    for (const v of value) collectTensors(v, into, seen);
  } else if (value instanceof Map) {
    for (const v of value.values()) collectTensors(v, into, seen);
  } else {
    for (const v of Object.values(value)) collectTensors(v, into, seen);
  }
  return into;
}

/** Disposes the tensors of `before` that are not in `after` (never variables). */
export function disposeReleased(before: ReadonlySet<Tensor>, after: ReadonlySet<Tensor>): void {
  for (const t of before) {
    if (!after.has(t) && !(t instanceof tf.Variable) && !t.isDisposed) t.dispose();
  }
}
