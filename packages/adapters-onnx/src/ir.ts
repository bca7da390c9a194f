/**
 * The graph IR the training-graph builder writes into: a list of `NodeProto`s, initializers, fresh names and
 * the static shapes of forward tensors (the batch dimension is symbolic, marked {@link BATCH}).
 * @module
 */
import { floatTensor, int64Tensor, makeNode, type AttrValue, type NodeProto, type TensorProto } from './proto.js';

/** Marks the symbolic batch dimension in a {@link Shape}: exactly the batch, N. */
export const BATCH = -1;

/**
 * A static shape. At most one dimension carries the batch: {@link BATCH} when it is exactly N; a dimension into which
 * a Reshape merged N with static sizes (attention's `[T, N·H, d]` and `[T·N, D]`) is encoded by {@link batchDim}.
 */
export type Shape = readonly number[];

/** Base of the merged-batch encoding (static sizes stay below it). */
const BASE = 1 << 20;

/**
 * The dimension of size `outer·N·inner` in which sample n covers the `inner` consecutive indices starting at
 * `(o·N + n)·inner` for each `o < outer` — so row-major index order is (outer, N, inner). `batchDim(1, 1)` is
 * {@link BATCH}. Encoded as a negative number, so equal descriptors compare equal.
 */
export function batchDim(outer: number, inner: number): number {
  if (!(outer >= 1 && inner >= 1 && outer < BASE && inner < BASE && Number.isInteger(outer) && Number.isInteger(inner))) {
    throw new Error(`batchDim(${outer}, ${inner}): sizes must be integers in [1, ${BASE})`);
  }
  return -((outer - 1) * BASE + inner);
}

/** Whether a dimension carries the batch. */
export function isBatch(d: number): boolean {
  return d < 0;
}

/** The static parts of a batch-carrying dimension (see {@link batchDim}). */
export function batchParts(d: number): { outer: number; inner: number } {
  const x = -d;
  return { outer: Math.floor((x - 1) / BASE) + 1, inner: ((x - 1) % BASE) + 1 };
}

/** Whether a shape carries the batch. */
export function hasBatch(s: Shape): boolean {
  return s.some(isBatch);
}

/** The product of a shape's static sizes, a batch-carrying dim counting its static parts (`outer·inner`). */
export function staticSize(s: Shape): number {
  return s.reduce((a, d) => a * (isBatch(d) ? batchParts(d).outer * batchParts(d).inner : d), 1);
}

/**
 * Where the batch sits in row-major order: the number of elements before each sample's block (`outer`) and in it
 * (`inner`) — a tensor of this shape is, flattened, `[outer, N, inner]`. Undefined when the shape has no batch.
 */
export function batchLayout(s: Shape): { axis: number; outer: number; inner: number } | undefined {
  const axis = s.findIndex(isBatch);
  if (axis < 0) return undefined;
  const { outer, inner } = batchParts(s[axis]!);
  return { axis, outer: outer * staticSize(s.slice(0, axis)), inner: inner * staticSize(s.slice(axis + 1)) };
}

/** The concrete dims of a shape for a batch of `n`. */
export function concreteDims(s: Shape, n: number): number[] {
  return s.map((d) => (isBatch(d) ? batchParts(d).outer * n * batchParts(d).inner : d));
}

/** Formats a shape for messages (`[N,3,28,28]`, `[6,N·2,4]`). */
export function fmtShape(s: Shape): string {
  const dim = (d: number): string => {
    if (!isBatch(d)) return String(d);
    const { outer, inner } = batchParts(d);
    return `${outer > 1 ? `${outer}·` : ''}N${inner > 1 ? `·${inner}` : ''}`;
  };
  return `[${s.map(dim).join(',')}]`;
}

/** Appends nodes with fresh, collision-free names. */
export class GraphBuilder {
  /** Emitted nodes, in topological order. */
  readonly nodes: NodeProto[] = [];
  /** Emitted constants. */
  readonly initializers: TensorProto[] = [];
  /** Static shapes of tensors (forward values). */
  readonly shapes = new Map<string, Shape>();
  /** Integer tensors' values known at analysis (shape arithmetic; the batch size NaN). */
  readonly intValues = new Map<string, readonly number[]>();
  readonly #used: Set<string>;
  #counter = 0;

  /** @param used names already taken (the model's tensors and nodes). */
  constructor(used: Iterable<string>) {
    this.#used = new Set(used);
  }

  /** The values of an integer tensor known at analysis, if it is one. */
  constInts(name: string): number[] | undefined {
    const v = this.intValues.get(name);
    return v ? [...v] : undefined;
  }

  /** A fresh tensor name starting with `hint`. */
  fresh(hint: string): string {
    let name: string;
    do name = `${hint}__${this.#counter++}`;
    while (this.#used.has(name));
    this.#used.add(name);
    return name;
  }

  /** Reserves a fixed name (a graph input or output); throws if already taken. */
  reserve(name: string): string {
    if (this.#used.has(name)) throw new Error(`name '${name}' is taken`);
    this.#used.add(name);
    return name;
  }

  /** Appends an existing node. */
  push(node: NodeProto): void {
    this.nodes.push(node);
  }

  /** Appends a single-output node and returns its output name. */
  op(opType: string, inputs: readonly string[], attrs: Readonly<Record<string, AttrValue>> = {}, out?: string): string {
    const y = out ?? this.fresh(`g_${opType}`);
    this.nodes.push(makeNode(opType, inputs, [y], attrs, this.fresh(`n_${opType}`)));
    return y;
  }

  /** A float32 constant. */
  floatConst(data: Float32Array | readonly number[], dims: readonly number[], hint = 'c'): string {
    const name = this.fresh(hint);
    this.initializers.push(floatTensor(name, dims, data));
    return name;
  }

  /** A 1-D int64 constant (axes, shapes). */
  ints(data: readonly number[], hint = 'i'): string {
    const name = this.fresh(hint);
    this.initializers.push(int64Tensor(name, [data.length], data));
    return name;
  }

  /** A float scalar constant (rank 0). */
  scalar(v: number): string {
    return this.floatConst([v], [], 's');
  }

  /** The static shape of a forward tensor. */
  shape(name: string): Shape {
    const s = this.shapes.get(name);
    if (!s) throw new Error(`no static shape for '${name}'`);
    return s;
  }

  // ---- small emit helpers ----
  /** `a + b`. */
  add(a: string, b: string): string {
    return this.op('Add', [a, b]);
  }
  /** `a · b` (elementwise). */
  mul(a: string, b: string): string {
    return this.op('Mul', [a, b]);
  }
  /** `a − b`. */
  sub(a: string, b: string): string {
    return this.op('Sub', [a, b]);
  }
  /** `x · s` for a scalar `s` (no node when s = 1). */
  scale(x: string, s: number): string {
    return s === 1 ? x : this.mul(x, this.scalar(s));
  }
  /** `ReduceSum(x, axes)`. */
  reduceSum(x: string, axes: readonly number[], keepdims: boolean): string {
    return this.op('ReduceSum', [x, this.ints(axes, 'axes')], { keepdims: { i: keepdims ? 1 : 0 } });
  }
  /** `Reshape(x, Shape(like))`. */
  reshapeLike(x: string, like: string): string {
    return this.op('Reshape', [x, this.op('Shape', [like])]);
  }
  /** `Reshape(x, dims)` (0 copies, -1 infers). */
  reshape(x: string, dims: readonly number[]): string {
    return this.op('Reshape', [x, this.ints(dims, 'shape')]);
  }
  /** `Transpose(x, perm)`. */
  transpose(x: string, perm: readonly number[]): string {
    return this.op('Transpose', [x], { perm: { ints: perm } });
  }
}
