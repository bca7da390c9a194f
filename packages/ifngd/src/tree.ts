/**
 * Parameter trees and the small set of operations the transforms need. Parameters, gradients, updates and
 * momentum buffers are *trees*; the default is a host tree (`Record<string, Float32Array>`), and a framework
 * adapter can plug its own tensors in by implementing {@link TreeOps}.
 * @module
 */
import { InvalidArgumentError, ShapeError } from './errors.js';

/** The default tree: named float32 arrays on the host. Key order is the parameter order. */
export type HostTree = Readonly<Record<string, Float32Array>>;

/** Name and element count of one leaf, in tree order (used to fingerprint a model). */
export interface LeafSpec {
  readonly name: string;
  readonly size: number;
  /** The leaf's shape, when the tree knows it (framework tensors; host trees hold flat arrays). */
  readonly shape?: readonly number[];
}

/**
 * The operations every transform is written against. All are pure: they return new trees (and scalars) and
 * never modify their inputs. Reductions accumulate in float64 on the host.
 *
 * Reductions return a scalar of the tree's own kind `S` — a `number` for host trees, a 0-d tensor for a
 * framework's trees — and the scalar ops below combine them where the trees live, so a step (the reuse guard,
 * clipping, the finiteness checks) decides without reading anything back. The values a caller needs on the host
 * are read together, once, with {@link TreeOps.read}.
 */
export interface TreeOps<T, S = number> {
  /** Leaves in order, for shape checks and the model fingerprint. */
  spec(t: T): readonly LeafSpec[];
  /** A tree of zeros shaped like `t`. */
  zerosLike(t: T): T;
  /** Σ x² over every leaf. */
  norm2(t: T): S;
  /** `k·√(Σ x²)`: the global norm, times `k`. */
  norm(t: T, k: number): S;
  /** 1 when every element is finite, else 0. */
  allFinite(t: T): S;
  /** `norm > max ? max / norm : 1` — the factor that shortens a vector of length `norm` to `max` (NaN → 1). */
  shrink(norm: S, max: number): S;
  /** `count + (x < bound ? 1 : 0)`. */
  countBelow(count: S | number, x: S, bound: number): S;
  /** `s·t`. */
  scale(t: T, s: number): T;
  /** `(k·s)·t`, `s` a scalar of the tree's kind. */
  scaleBy(t: T, s: S, k: number): T;
  /** `a·x + y`. */
  axpy(a: number, x: T, y: T): T;
  /**
   * The values of `scalars`, in order, in one read — synchronous on the host, a promise where the values live
   * on a device. Consumes the scalars (a framework's tensors are released).
   */
  read(scalars: readonly S[]): readonly number[] | Promise<readonly number[]>;
  /** Host copy (for checkpoints). */
  toHost(t: T): HostTree;
  /** From a host copy (for checkpoints). */
  fromHost(h: HostTree): T;
}

/** Whether `v` is a promise-like (an asynchronous {@link TreeOps.read}). */
export function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/**
 * {@link TreeOps.read} that must answer synchronously (host trees): `what` names the caller in the
 * `InvalidArgumentError` thrown for ops that read asynchronously.
 */
export function readNow<S>(ops: TreeOps<unknown, S>, scalars: readonly S[], what: string): readonly number[] {
  const v = ops.read(scalars);
  if (isThenable(v)) {
    // the read was started: let it settle quietly (its scalars are consumed either way)
    Promise.resolve(v).catch(() => undefined);
    throw new InvalidArgumentError(`${what}: these tree ops read asynchronously; use the asynchronous form (see the TreeOps docs)`);
  }
  return v;
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

/** {@link TreeOps} for host trees of `Float32Array`s; scalars are numbers and reads are synchronous. */
export const hostTreeOps: TreeOps<HostTree> = {
  spec: (t) => Object.keys(t).map((name) => ({ name, size: leaf(t, name).length })),
  zerosLike: (t) => map1(t, (a) => new Float32Array(a.length)),
  norm2(t) {
    let s = 0;
    for (const k of Object.keys(t)) for (const v of leaf(t, k)) s += v * v;
    return s;
  },
  norm: (t, k) => k * Math.sqrt(hostTreeOps.norm2(t)),
  allFinite(t) {
    for (const k of Object.keys(t)) for (const v of leaf(t, k)) if (!Number.isFinite(v)) return 0;
    return 1;
  },
  shrink: (norm, max) => (norm > max ? max / norm : 1),
  countBelow: (count, x, bound) => count + (x < bound ? 1 : 0),
  scale: (t, s) => map1(t, (a) => a.map((v) => v * s)),
  scaleBy: (t, s, k) => {
    const f = k * s;
    return f === 1 ? t : hostTreeOps.scale(t, f);
  },
  axpy: (a, x, y) =>
    map2(x, y, (xs, ys) => {
      const out = new Float32Array(xs.length);
      for (let i = 0; i < xs.length; i++) out[i] = a * (xs[i] as number) + (ys[i] as number);
      return out;
    }),
  read: (scalars) => scalars.slice(),
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
