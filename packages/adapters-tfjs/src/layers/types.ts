/**
 * Layer blocks: how a tfjs layer class runs inside the trainer's forward pass — which of its weights train,
 * which parameter sites it taps, what state it commits. One module per kind of layer, registered in
 * `registry.ts`; the graph compiler (`graph.ts`) calls the block of each layer it meets.
 * @module
 */
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import type { FoldActivation, Tap, TapWeights } from '../model.js';

/** The parts of a tfjs layer the blocks read (tfjs-layers' `Layer`, structurally). */
export interface LayerLike {
  readonly name: string;
  readonly trainable: boolean;
  getClassName(): string;
  getConfig(): Record<string, unknown>;
  apply(x: Tensor | Tensor[], kwargs?: Record<string, unknown>): Tensor | Tensor[];
  readonly trainableWeights: readonly { read(): Tensor; readonly name: string }[];
  readonly weights: readonly { read(): Tensor; readonly name: string; readonly trainable: boolean }[];
}

/** What a block may do while it is compiled. */
export interface CompileContext {
  /** The layer sits inside a frozen (`trainable: false`) model. */
  readonly frozen: boolean;
  /** Registers a trainable variable under `name` (once per variable; a shared layer registers once). */
  param(v: Variable, name: string): void;
  /** Registers a Kronecker layer for KFAC (dense/conv kernel and bias, tfjs `[…, in, out]` layout). */
  kronecker(w: TapWeights): void;
  /** The model's samples interact in a training forward pass (batch statistics). */
  couplesSamples(): void;
  /** Keeps `values` (kept tensors) to assign to `targets` when the step commits; replaces an earlier pending one. */
  pendingState(key: object, targets: readonly Variable[], values: readonly Tensor[]): void;
  /** Compiles a model used as a layer (nested), frozen when it or its parent is. */
  nested(model: unknown, frozen: boolean): LayerOp;
}

/** A compiled layer: applied at every node that calls it. */
export interface LayerOp {
  /**
   * Outputs of one call. `fold`: this call produces the model's output and its {@link LayerOp.foldable}
   * activation goes into the loss (the op returns the logits).
   */
  apply(inputs: readonly Tensor[], tap: Tap, training: boolean, fold: boolean): Tensor[];
  /** The final activation this op can leave to the loss ('softmax' / 'sigmoid'), else null. */
  readonly foldable: FoldActivation;
}

/** How to compile one kind of layer. */
export interface LayerBlock {
  /** The tfjs class names it compiles (`layer.getClassName()`). */
  readonly classNames: readonly string[];
  compile(layer: LayerLike, ctx: CompileContext): LayerOp;
  /**
   * The block compiles frozen layers of its classes itself (`ctx.frozen`), e.g. to run them in inference mode;
   * otherwise a frozen layer is applied as tfjs applies it, forward only.
   */
  readonly compilesFrozen?: boolean;
  /** Why a layer of these classes may be applied at one place of a model only (refused at several), if so. */
  readonly onePlaceOnly?: string;
}
