/**
 * The contract of one op family's forward (shape) and backward rules.
 * @module
 */
import type { GraphBuilder, Shape } from '../ir.js';
import type { NodeProto } from '../proto.js';

/** What shape inference can see. */
export interface InferContext {
  /** Static shape of a tensor (throws if unknown). */
  shape(name: string): Shape;
  /**
   * Values of an integer tensor known at analysis (an initializer, a `Constant`, or shape arithmetic on them),
   * if it is one; the batch size inside a shape is `NaN` (`BATCH_VALUE`).
   */
  constInts(name: string): number[] | undefined;
  /** Whether the tensor holds integer data known only when a batch runs (token ids from an input). */
  intData(name: string): boolean;
  /**
   * Whether the tensor's unknown (NaN) values were computed from the batch size by arithmetic (`N·H`, `N − 1`), so
   * are not the batch size itself; false where they are copies of it (`x.size(0)`).
   */
  batchDerived(name: string): boolean;
  /** Whether the tensor is a float initializer. */
  floatInitializer(name: string): boolean;
}

/** A node of the training graph as the rules see it. */
export interface RuleNode {
  readonly node: NodeProto;
  /** Extra forward outputs the rule asked for (e.g. MaxPool's argmax indices). */
  readonly saved: readonly string[];
}

/** Forward and backward rules of one op type. */
export interface OpRule {
  /** Output shapes, or a reason string when this configuration is unsupported. */
  infer(node: NodeProto, ctx: InferContext): Shape[] | string;
  /** Integer outputs' values known at analysis (shape arithmetic), per output; undefined where not known. */
  values?(node: NodeProto, ctx: InferContext): readonly (readonly number[] | undefined)[];
  /**
   * Emits the forward node into the training graph (default: unchanged) and returns the names of extra
   * outputs the backward rule needs.
   */
  forward?(b: GraphBuilder, node: NodeProto): string[];
  /**
   * Emits the node as inference runs it — the forward and evaluate graphs (default: unchanged). A training-mode
   * BatchNormalization uses its running statistics there, a Dropout is an Identity.
   */
  inference?(b: GraphBuilder, node: NodeProto): void;
  /**
   * Emits the gradients of the inputs marked `wanted`, given the gradients of the outputs (undefined: zero).
   * Returns one entry per input (undefined when not wanted or not differentiable).
   */
  backward(b: GraphBuilder, n: RuleNode, dOut: readonly (string | undefined)[], wanted: readonly boolean[]): (string | undefined)[];
}

/** Input `i` of a node (empty string when absent). */
export function input(node: NodeProto, i: number): string {
  return node.input[i] ?? '';
}
