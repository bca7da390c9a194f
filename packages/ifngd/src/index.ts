/**
 * `ifngd`: FNGD — inverse-free fast natural gradient descent (arXiv 2403.03473) — as an optax-style optimizer
 * with a per-batch coefficient cache, refresh policies (incl. `drift` and `auto`), a reuse guard, batch plans
 * keyed by sample identity, and checkpoints.
 *
 * Conventions: batch of n, loss L = (1/n)Σℓᵢ, J = per-sample gradients (rows), G = JJᵀ, α = (G + nλI)⁻¹1.
 * The natural gradient is Jᵀα = Σαᵢ∇ℓᵢ; the step direction is **λ·Jᵀα** = λ(F + λI)⁻¹g, which tends to the
 * mean gradient g as λ → ∞ — learning rates sit on SGD's scale.
 *
 * ```ts
 * const opt = fngd({ device }); // learningRate, damping, momentum, mode: FNGD_DEFAULTS (each overridable)
 * opt.init(params);
 * const c = await opt.coefficients({ batchKey, epoch, n, factors: () => layerFactors() });
 * params = opt.step(weightedGradient(c.alpha), params, { coefficients: c, loss });
 * ```
 * @packageDocumentation
 */
export { fngd, FngdOptimizer, type ChainState, type FngdProposal } from './fngd.js';
export type { CoefficientRequest, Coefficients, FngdStepExtras } from './coefficients.js';
export type { FngdOptions, GuardOptions } from './options.js';
export { FNGD_DEFAULTS } from './defaults.js';
export * from './kfac/index.js';
export { checkpointKind, type CheckpointKind } from './checkpoint-kind.js';
export {
  registerOptimizer,
  createOptimizer,
  resolveOptimizer,
  optimizerKinds,
  type OptimizerKinds,
  type OptimizerSpec,
  type ResolvedOptimizer,
} from './optimizers/registry.js';
export type {
  CapturedGradients,
  FactorOptions,
  FactorSet,
  GradientRequest,
  MatrixLayer,
  OptimizerDefinition,
  OptimizerEnv,
  StepCapture,
  StepOutcome,
  StepReading,
  TrainingOptimizer,
} from './optimizers/contract.js';
export { FngdTraining, type FngdTrainingOptions } from './optimizers/fngd.js';
export { KfacTraining, type KfacTrainingOptions } from './optimizers/kfac.js';
export { HostOptimizer, hostOptions, type HostOptimizerOptions, type HostOptimizerStats, type RuleUpdate, type UpdateRule } from './optimizers/host-optimizer.js';
export type { SgdOptions, SgdState } from './optimizers/sgd.js';
export type { AdamOptions } from './optimizers/adam.js';
export type { MuonAdamOptions, MuonOptions, MuonState } from './optimizers/muon.js';
export type { ShampooBlockState, ShampooGraftingOptions, ShampooOptions, ShampooState } from './optimizers/shampoo.js';
export { scaleByAdam, type AdamMoments, type AdamState } from './transforms/adam.js';
export type { FngdStats } from './stats.js';
export type { DriftOptions } from './drift-options.js';
export { registerRefreshPolicy } from './policies/registry.js';
export type {
  RefreshPolicy,
  RefreshPolicyForms,
  RefreshPolicyDefinition,
  RefreshPolicyRule,
  PolicyPlan,
  PolicyEffect,
  PolicyContext,
  PolicyFields,
  ComputedCoefficients,
  ReusedStep,
  ReuseVerdict,
  Decision,
} from './policies/types.js';
export type { AutoOptions } from './auto.js';
export { permutation } from './rng.js';
export { planBatches, batchKeyOf, checkPlan, type BatchPlan, type PlannedBatch, type PlanChange, type SampleId } from './batch-plan.js';
export type { AdaptiveDampingOptions } from './damping.js';
export type { BatchKey, CacheEntry } from './cache.js';
export type { FngdMode } from './curvature.js';
export type { ProbeResult, StaleReason } from './drift.js';
export { chain, identity, type StateOf, type GradientTransformation, type StepExtras, type FngdStepInfo, type UpdateResult } from './transform.js';
export { scaleByFngd, type FngdScaleState } from './transforms/fngd-scale.js';
export { momentum, type MomentumOptions, type MomentumState } from './transforms/momentum.js';
export { weightDecay } from './transforms/weight-decay.js';
export { clipByGlobalNorm, type ClipState } from './transforms/clip.js';
export { scaleByLearningRate, type LearningRateState } from './transforms/learning-rate.js';
export { applyIfFinite, type ApplyIfFiniteState } from './transforms/apply-if-finite.js';
export { constantSchedule, cosineSchedule, stepSchedule, warmup, type Schedule } from './schedule.js';
export { hostTreeOps, isThenable, type HostTree, type LeafSpec, type TreeOps } from './tree.js';
export {
  BatchSizeMismatchError,
  CheckpointError,
  DeviceLostError,
  DisposedError,
  FactorizationError,
  IfngdError,
  InvalidArgumentError,
  InvalidOptionError,
  NonFiniteError,
  NotInitializedError,
  ShapeError,
  StaleCoefficientsError,
  TargetError,
  UnsupportedModelError,
  type IfngdErrorCode,
  type TensorSignature,
} from './errors.js';
