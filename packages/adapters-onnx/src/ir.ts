/**
 * The graph IR the training-graph builder writes into: a list of `NodeProto`s, initializers, fresh names and
 * the static shapes of forward tensors (the batch dimension is symbolic, marked {@link BATCH}).
 * @module
 */
import { floatTensor, int64Tensor, makeNode, type AttrValue, type NodeProto, type TensorProto } from './proto.js';

/** Marks the symbolic batch dimension in a {@link Shape}. */
export const BATCH = -1;

/** A static shape; the batch dimension (at most one) is {@link BATCH}. */
export type Shape = readonly number[];

/** Formats a shape for messages (`[N,3,28,28]`). */
export function fmtShape(s: Shape): string {
  return `[${s.map((d) => (d === BATCH ? 'N' : String(d))).join(',')}]`;
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
