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

/** {@link TreeOps} over tfjs tensors, with the asynchronous reads that backends without `dataSync` need. */
export interface TfTreeOps extends TreeOps<TfTree> {
  /**
   * Reads ahead, with one awaited `data()`, the norm² of `norm2` trees and the finiteness of `finite` trees,
   * so the optimizer's synchronous step finds them without a synchronous read. Keyed by tree object.
   */
  prime(trees: { readonly norm2?: readonly TfTree[]; readonly finite?: readonly TfTree[] }): Promise<void>;
  /**
   * How many finiteness checks were assumed true (no synchronous read available and not primed) since the last
   * call; resets the count. The caller verifies the result asynchronously afterwards.
   */
  takeAssumed(): number;
}

/** Whether the active tfjs backend can read synchronously: webgpu cannot in Node (no OffscreenCanvas), and is slow at it anywhere. */
export function tfSyncReads(): boolean {
  return tf.getBackend() !== 'webgpu';
}

/** Whether every element of the tensors is finite, read with an awaited `data()` (one scalar). */
export async function allFiniteAsync(tensors: readonly Tensor[]): Promise<boolean> {
  if (tensors.length === 0) return true;
  const r = tf.tidy(() => tf.all(tf.stack(tensors.map((t) => tf.all(tf.isFinite(t))))));
  try {
    return (await r.data())[0] === 1;
  } finally {
    r.dispose();
  }
}

/**
 * {@link TreeOps} over tfjs tensors. Every op returns new tensors (callers run the optimizer step inside
 * `tf.tidy`, see {@link collectTensors}). `norm2` and `allFinite` read one scalar back — or find it primed
 * ({@link TfTreeOps.prime}). Without synchronous reads (`syncReads()` false, default: the webgpu backend) an
 * unprimed `allFinite` is assumed true and counted ({@link TfTreeOps.takeAssumed}); an unprimed `norm2` throws.
 */
export function tfTreeOps(shapes: ShapeMap, options: { readonly syncReads?: () => boolean } = {}): TfTreeOps {
  const syncReads = options.syncReads ?? tfSyncReads;
  const norms = new WeakMap<object, number>();
  const finite = new WeakMap<object, boolean>();
  let assumed = 0;
  return {
    spec: (t): LeafSpec[] => Object.keys(t).map((name) => ({ name, size: (t[name] as Tensor).size })),
    zerosLike: (t) => map1(t, (x) => tf.zerosLike(x)),
    async prime(trees) {
      const ns = trees.norm2 ?? [];
      const fs = trees.finite ?? [];
      if (ns.length + fs.length === 0) return;
      const leaves = (t: TfTree): Tensor[] => Object.keys(t).map((k) => t[k] as Tensor);
      const r = tf.tidy(() =>
        tf.stack([
          ...ns.map((t) => (Object.keys(t).length === 0 ? tf.scalar(0) : tf.addN(leaves(t).map((x) => tf.sum(tf.square(x)))))),
          ...fs.map((t) => (Object.keys(t).length === 0 ? tf.scalar(1) : tf.cast(tf.all(tf.stack(leaves(t).map((x) => tf.all(tf.isFinite(x))))), 'float32'))),
        ]),
      );
      let v: Float32Array;
      try {
        v = (await r.data()) as Float32Array;
      } finally {
        r.dispose();
      }
      ns.forEach((t, i) => norms.set(t, v[i] as number));
      fs.forEach((t, i) => finite.set(t, v[ns.length + i] === 1));
    },
    takeAssumed() {
      const a = assumed;
      assumed = 0;
      return a;
    },
    norm2(t) {
      const keys = Object.keys(t);
      if (keys.length === 0) return 0;
      const primed = norms.get(t);
      if (primed !== undefined) return primed;
      if (!syncReads()) {
        throw new Error(`norm2: the '${tf.getBackend()}' backend has no synchronous reads and this tree was not primed (clipNorm is not supported there)`);
      }
      const s = tf.tidy(() => tf.addN(keys.map((k) => tf.sum(tf.square(t[k] as Tensor)))));
      const v = s.dataSync()[0] as number;
      s.dispose();
      return v;
    },
    scale: (t, s) => map1(t, (x) => tf.mul(x, tf.scalar(s))),
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
    allFinite(t) {
      const keys = Object.keys(t);
      if (keys.length === 0) return true;
      const primed = finite.get(t);
      if (primed !== undefined) return primed;
      if (!syncReads()) {
        assumed++;
        return true;
      }
      const r = tf.tidy(() => tf.all(tf.stack(keys.map((k) => tf.all(tf.isFinite(t[k] as Tensor))))));
      const ok = r.dataSync()[0] === 1;
      r.dispose();
      return ok;
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
