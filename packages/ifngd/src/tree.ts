/**
 * Parameter trees and the small set of operations the transforms need. Parameters, gradients, updates and
 * momentum buffers are *trees*; the default is a host tree (`Record<string, Float32Array>`), and a framework
 * adapter can plug its own tensors in by implementing {@link TreeOps}.
 * @module
 */
import { ShapeError } from './errors.js';

/** The default tree: named float32 arrays on the host. Key order is the parameter order. */
export type HostTree = Readonly<Record<string, Float32Array>>;

/** Name and element count of one leaf, in tree order (used to fingerprint a model). */
export interface LeafSpec {
  readonly name: string;
  readonly size: number;
}

/**
 * The operations every transform is written against. All are pure: they return new trees and never modify
 * their inputs. Reductions accumulate in float64.
 */
export interface TreeOps<T> {
  /** Leaves in order, for shape checks and the model fingerprint. */
  spec(t: T): readonly LeafSpec[];
  /** A tree of zeros shaped like `t`. */
  zerosLike(t: T): T;
  /** Σ x² over every leaf. */
  norm2(t: T): number;
  /** `s·t`. */
  scale(t: T, s: number): T;
  /** `a·x + y`. */
  axpy(a: number, x: T, y: T): T;
  /** Whether every element is finite. */
  allFinite(t: T): boolean;
  /** Host copy (for checkpoints). */
  toHost(t: T): HostTree;
  /** From a host copy (for checkpoints). */
  fromHost(h: HostTree): T;
}

function leaf(t: HostTree, name: string): Float32Array {
  const v = t[name];
  if (v === undefined) throw new ShapeError(`tree has no leaf '${name}'`);
  return v;
}

function map2(x: HostTree, y: HostTree, f: (a: Float32Array, b: Float32Array) => Float32Array): HostTree {
  const out: Record<string, Float32Array> = {};
  for (const k of Object.keys(x)) {
    const a = leaf(x, k);
    const b = leaf(y, k);
    if (a.length !== b.length) throw new ShapeError(`leaf '${k}': ${a.length} vs ${b.length} elements`);
    out[k] = f(a, b);
  }
  return out;
}

function map1(x: HostTree, f: (a: Float32Array) => Float32Array): HostTree {
  const out: Record<string, Float32Array> = {};
  for (const k of Object.keys(x)) out[k] = f(leaf(x, k));
  return out;
}

/** {@link TreeOps} for host trees of `Float32Array`s. */
export const hostTreeOps: TreeOps<HostTree> = {
  spec: (t) => Object.keys(t).map((name) => ({ name, size: leaf(t, name).length })),
  zerosLike: (t) => map1(t, (a) => new Float32Array(a.length)),
  norm2(t) {
    let s = 0;
    for (const k of Object.keys(t)) for (const v of leaf(t, k)) s += v * v;
    return s;
  },
  scale: (t, s) => map1(t, (a) => a.map((v) => v * s)),
  axpy: (a, x, y) =>
    map2(x, y, (xs, ys) => {
      const out = new Float32Array(xs.length);
      for (let i = 0; i < xs.length; i++) out[i] = a * (xs[i] as number) + (ys[i] as number);
      return out;
    }),
  allFinite(t) {
    for (const k of Object.keys(t)) for (const v of leaf(t, k)) if (!Number.isFinite(v)) return false;
    return true;
  },
  toHost: (t) => map1(t, (a) => a.slice()),
  fromHost: (h) => map1(h, (a) => a.slice()),
};

/** Throws {@link ShapeError} unless two specs name the same leaves with the same sizes, in order. */
export function assertSameSpec(expected: readonly LeafSpec[], got: readonly LeafSpec[], what: string): void {
  const fmt = (s: readonly LeafSpec[]): string => s.map((l) => `${l.name}:${l.size}`).join(', ');
  const same =
    expected.length === got.length &&
    expected.every((l, i) => l.name === got[i]?.name && l.size === got[i]?.size);
  if (!same) throw new ShapeError(`${what}: expected leaves {${fmt(expected)}}, got {${fmt(got)}}`);
}
