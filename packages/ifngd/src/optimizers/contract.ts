/**
 * The optimizer contract: what a trainer drives, whatever the optimizer. A trainer implements
 * {@link StepCapture} once — the passes it can run on a batch — and every registered optimizer (FNGD, KFAC,
 * SGD, Adam, AdamW, Muon, Shampoo, one of your own) drives it: it asks for the factors and the weighted gradients it needs,
 * reads its scalars with the trainer's own, and returns the new parameters. Nothing in a trainer branches on the
 * optimizer's kind.
 *
 * A step is a transaction: the optimizer commits its state only once everything that can throw has thrown, and a
 * trainer assigns the returned parameters last.
 * @module
 */
import type { LayerFactors } from '@ifngd/fisher';
import type { LinalgDevice } from '@ifngd/linalg-gpu';
import type { BatchKey } from '../cache.js';
import type { HostTree, TreeOps } from '../tree.js';

/** Which factors a step asks for. */
export type FactorSet =
  /** Every block of the per-sample Gram, in the trainer's block order (dense, conv2d and jacobian kinds). */
  | 'gram'
  /** The Kronecker layers of {@link OptimizerEnv.layers}, in that order (dense and conv2d kinds only). */
  | 'kronecker';

/** How the factors are taken. */
export interface FactorOptions {
  /**
   * `'batch'` (default): the loss on the batch's targets (the empirical Fisher); `'sampled'`: on targets drawn from
   * the model's predictive distribution at the batch (the true Fisher; `StepCapture.factors` then needs the
   * trainer's `OptimizerEnv.sampledTargets`). The gradient stays the batch's.
   */
  readonly targets?: 'batch' | 'sampled';
  /** The draw's seed (`'sampled'`). */
  readonly seed?: number;
}

/** The weighted gradient a step asks for: `∇ Σᵢ wᵢℓᵢ`, blockwise weights allowed. */
export interface GradientRequest {
  /**
   * The per-sample weights `w` (n values): one vector for every parameter in a Gram block, or block `b`'s own
   * (the blocks of the last `factors('gram')`).
   */
  readonly weights: Float32Array | ((block: number) => Float32Array);
  /** The per-sample weight of the parameters in no block (the trainer's plain parameters, e.g. `skipLayers`). */
  readonly plainWeight: number;
  /**
   * The regularizers' gradients ∇R: added to the gradient times this factor, or returned apart by leaf
   * (`'apart'`, in {@link CapturedGradients.penalties}).
   */
  readonly penalties: number | 'apart';
}

/** What {@link StepCapture.gradients} returns. */
export interface CapturedGradients<T> {
  /** The gradient tree (every parameter leaf). */
  readonly grads: T;
  /** The parameters the gradient was taken at: the step's starting point. */
  readonly params: T;
  /** ∇R by leaf, for `penalties: 'apart'` (leaves without a regularizer absent). */
  readonly penalties?: Readonly<Record<string, Float32Array>>;
}

/** The values a step reads, and the batch's mean loss. */
export interface StepReading {
  /** The values of the scalars passed to {@link StepCapture.read}, in order. */
  readonly values: readonly number[];
  /** The batch's mean loss before the step. */
  readonly loss: number;
}

/**
 * A batch as the optimizer sees it: the passes the trainer runs on it. Each is called at most once per step, in
 * the order factors → second moments → gradients → read.
 */
export interface StepCapture<T> {
  /** The batch's cache key (`ifngd`'s batch contract). */
  readonly batchKey: BatchKey;
  /** The epoch the step belongs to. */
  readonly epoch: number;
  /** The batch size. */
  readonly n: number;
  /** The batch's per-sample factors on the optimizer's device; the trainer releases them after the step. */
  factors(set: FactorSet, options?: FactorOptions): Promise<LayerFactors[]>;
  /**
   * The per-sample second moments `(1/n)Σᵢ(∂ℓᵢ/∂θₖ)²` of the given leaves, by leaf (KFAC's diagonal block); absent
   * where the trainer cannot compute them.
   */
  secondMoments?(leaves: readonly string[]): Promise<Record<string, Float32Array>>;
  /** The weighted gradient and the parameters it was taken at. */
  gradients(request: GradientRequest): Promise<CapturedGradients<T>>;
  /**
   * The batch's mean loss at other parameters — the same samples and targets, a training-mode forward pass (a trainer
   * may draw new Dropout masks for it) — changing nothing (KFAC's adaptive damping compares it with the quadratic
   * model). Called after `read`, at most once.
   */
  lossAt?(params: T): Promise<number>;
  /**
   * The batch's Gauss–Newton matrix along `vectors` (k of them, parameter trees of the trainer's kind): the k×k
   * matrix (row-major) `Cₐᵦ = (1/n)·Σᵢ wᵢ·(Jᵢuₐ)ᵀ·Hᵢ·(Jᵢuᵦ)` — Jᵢ sample i's output Jacobian, Hᵢ the named loss's
   * Hessian in the outputs, wᵢ the sample's weight — at the step's parameters, from training-mode forward passes
   * (`ifngd/internal`'s `gaussNewtonProducts` and `differenceStep`), changing nothing (KFAC's adaptive mode with
   * `quadraticModel: 'gauss-newton'`). Called after `read`, at most once; present where
   * {@link OptimizerEnv.gaussNewton} says so.
   */
  gaussNewton?(vectors: readonly T[]): Promise<number[]>;
  /**
   * Runs the device-side half of a step (`fn` creates trees of the trainer's kind) in the trainer's memory scope:
   * what `fn` returns stays alive until the step ends, the rest is released at once.
   */
  contain<R>(fn: () => R): R;
  /**
   * Reads `scalars` (of the tree ops' scalar kind) together with the trainer's own pending values (the loss, a
   * target check) in one read, after the gradients; throws the trainer's errors (a bad target) before the
   * optimizer commits anything.
   */
  read(scalars: readonly unknown[]): Promise<StepReading>;
}

/** A trainer's layer with a weight matrix (a Kronecker layer: dense, convolution, recurrent kernel). */
export interface MatrixLayer {
  /** The weight leaf. */
  readonly weight: string;
  /** The bias leaf, or null. */
  readonly bias: string | null;
  /** How the weight is stored: `[in, out]` (`'in-out'`, tfjs kernels, ONNX MatMul) or `[out, in]` (`'out-in'`). */
  readonly layout: 'in-out' | 'out-in';
  /** Output features (the weight's out dimension; its in dimension is size / outputs). */
  readonly outputs: number;
}

/** What a trainer gives an optimizer it creates. */
export interface OptimizerEnv<T> {
  /** The linear-algebra device. */
  readonly device: LinalgDevice;
  /** The tree operations of the trainer's parameter trees (host trees for `trees: 'host'` definitions). */
  readonly ops: TreeOps<T, any>;
  /** The trainer's matrix layers in factor order. */
  readonly layers: readonly MatrixLayer[];
  /** Every parameter leaf, in tree order. */
  readonly leaves: readonly string[];
  /** Leaves the trainer keeps out of every block (plain gradient: e.g. `skipLayers`). */
  readonly plain: readonly string[];
  /** Whether the trainer's captures implement {@link StepCapture.secondMoments}. */
  readonly secondMoments: boolean;
  /** Whether the trainer can take factors on sampled targets (`FactorOptions.targets: 'sampled'`): a named loss. */
  readonly sampledTargets: boolean;
  /**
   * Whether the trainer's captures implement {@link StepCapture.gaussNewton}: a named loss on one output, a
   * training-mode forward that draws no random numbers or draws the same ones on every pass of a step (the ONNX
   * trainer feeds the step's Dropout masks), and training state (moving statistics) that can be kept apart from it.
   * Default false.
   */
  readonly gaussNewton?: boolean;
}

/** What one step did. */
export interface StepOutcome<T> {
  /** The parameters to keep (the step's input when it was skipped). */
  readonly params: T;
  /** The batch's mean loss before the step. */
  readonly loss: number;
  /** Whether the step computed fresh curvature (FNGD coefficients, KFAC inverses). */
  readonly fresh: boolean;
}

/**
 * An optimizer as trainers drive it. `inner` is the optimizer's own object (an `FngdOptimizer`, a
 * `KfacOptimizer`, …) for what only it has (stats, cache control, damping).
 */
export interface TrainingOptimizer<T = HostTree> {
  /** The registered kind (`'fngd'`, `'kfac'`, `'adamw'`, …). */
  readonly kind: string;
  /** The optimizer's own object. */
  readonly inner: unknown;
  /** What it keeps between steps (a trainer releases the framework tensors it no longer holds); null before init. */
  readonly state: unknown;
  /** Its counters (a snapshot). */
  readonly stats: unknown;
  /** Starts at `params` (awaits reads where the trees live on a device). */
  init(params: T): Promise<void>;
  /** One step on a captured batch (see {@link StepCapture}). */
  step(capture: StepCapture<T>): Promise<StepOutcome<T>>;
  /** Drops cached per-batch state of batches not in `keys` (a trainer's adopted plan); returns how many. */
  retain?(keys: Iterable<BatchKey>): number;
  /** The state as checkpoint bytes (`ifngd`'s container; its format names the kind). */
  serialize(): Uint8Array;
  /** Restores {@link TrainingOptimizer.serialize} output; throws `CheckpointError` and changes nothing for a bad one. */
  restore(bytes: Uint8Array): void;
  /** Releases device-resident state (not the device, not the trainer's tensors). */
  dispose(): void;
}

/** A registered optimizer kind: how to make one from its options for a trainer. */
export interface OptimizerDefinition<O = unknown> {
  /** The kind, as options name it (`{ kind: 'adamw', … }`). */
  readonly kind: string;
  /** The payload format of its checkpoints (unique: a trainer tells a checkpoint's kind by it). */
  readonly checkpointFormat: string;
  /**
   * `'host'`: it takes host trees (`Float32Array` leaves); `'any'`: any {@link TreeOps} (a trainer may keep the
   * trees where its framework's tensors live).
   */
  readonly trees: 'host' | 'any';
  /**
   * Whether it uses per-sample gradients (a Gram of them, as FNGD): a trainer then checks first that the model's
   * forward does not couple the samples of a batch. Default false (the mean gradient and batch statistics).
   */
  readonly perSampleGradients?: boolean;
  /**
   * Creates it (throws `InvalidArgumentError` for bad options: unknown keys, values out of range). `env.ops` works
   * on the trees `trees` asks for: host trees for `'host'`, the trainer's own for `'any'`.
   */
  create(options: O, env: OptimizerEnv<any>): TrainingOptimizer<any>;
}
