/**
 * Damping: a fixed λ > 0, optionally adapted by a Levenberg–Marquardt rule on ρ = actual / predicted loss
 * reduction of a step taken with fresh coefficients. With the direction λ(F + λI)⁻¹g, a larger λ means
 * "trust the Fisher less" (the step tends to the SGD step at the same learning rate), a smaller λ "more":
 * ρ < lowRho (or a step the quadratic model itself predicts to raise the loss) → λ × factor; ρ > highRho → λ ÷ factor.
 * @module
 */
import { InvalidArgumentError } from './errors.js';
import { checkKeys } from './option-keys.js';

/** Options of the adaptive (Levenberg–Marquardt) damping rule. */
export interface AdaptiveDampingOptions {
  /** λ is multiplied by this (> 1) when ρ < `lowRho` and divided by it when ρ > `highRho`. Default 1.5. */
  readonly factor?: number;
  /** Default 0.25. */
  readonly lowRho?: number;
  /** Default 0.75. */
  readonly highRho?: number;
  /** Bounds of λ. Default 1e-8 / 1e8. */
  readonly min?: number;
  readonly max?: number;
}

/** Throws unless λ is finite and > 0. */
export function checkDamping(damping: number, what = 'damping'): number {
  if (typeof damping !== 'number' || !Number.isFinite(damping) || damping <= 0) {
    throw new InvalidArgumentError(`${what} λ must be finite and > 0, got ${String(damping)}`);
  }
  return damping;
}

/** Validates (unknown keys included) and fills in the defaults; throws `InvalidArgumentError` naming the key. */
export function resolveAdaptive(o: AdaptiveDampingOptions): Required<AdaptiveDampingOptions> {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new InvalidArgumentError(`adaptiveDamping must be an options object, got ${String(o)}`);
  checkKeys(o, ['factor', 'lowRho', 'highRho', 'min', 'max'], 'adaptiveDamping');
  const r = { factor: o.factor ?? 1.5, lowRho: o.lowRho ?? 0.25, highRho: o.highRho ?? 0.75, min: o.min ?? 1e-8, max: o.max ?? 1e8 };
  const bad = (key: string, rule: string, v: unknown): never => {
    throw new InvalidArgumentError(`adaptiveDamping: ${key} must be ${rule}, got ${String(v)}`);
  };
  if (typeof r.factor !== 'number' || !(r.factor > 1) || !Number.isFinite(r.factor)) bad('factor', 'finite and > 1', r.factor);
  if (typeof r.lowRho !== 'number' || !Number.isFinite(r.lowRho)) bad('lowRho', 'finite', r.lowRho);
  if (typeof r.highRho !== 'number' || !Number.isFinite(r.highRho)) bad('highRho', 'finite', r.highRho);
  if (!(r.lowRho < r.highRho)) bad('lowRho', `< highRho (${r.highRho})`, r.lowRho);
  checkDamping(r.min, 'adaptiveDamping.min');
  checkDamping(r.max, 'adaptiveDamping.max');
  if (!(r.min <= r.max)) bad('min', `≤ max (${r.max})`, r.min);
  return r;
}

/**
 * Predicted loss reduction of the step −η·λ·Jᵀα under the quadratic model m(δ) = gᵀδ + ½δᵀFδ:
 * `ηλ·(gᵀJᵀα) − ½η²λ²·(JᵀαᵀFJᵀα)`, both terms from the Gram (see `modelTerms`). Momentum is ignored.
 */
export function predictedReduction(lr: number, damping: number, terms: { linear: number; curvature: number }): number {
  const s = lr * damping;
  return s * terms.linear - 0.5 * s * s * terms.curvature;
}

/** One LM update: returns the new λ and ρ. */
export function adaptDamping(
  damping: number,
  lossBefore: number,
  lossAfter: number,
  predicted: number,
  o: Required<AdaptiveDampingOptions>,
): { damping: number; rho: number } {
  const rho = (lossBefore - lossAfter) / predicted;
  let next = damping;
  if (!(rho >= o.lowRho)) next = damping * o.factor;
  else if (rho > o.highRho) next = damping / o.factor;
  return { damping: Math.min(o.max, Math.max(o.min, next)), rho };
}

/**
 * λ after a fresh step whose batch loss went from `pending.lossBefore` to `lossAfter`: the Levenberg–Marquardt
 * rule; a non-positive predicted reduction (the quadratic model itself rejects the step) trusts F less (λ up).
 */
export function dampingAfterStep(
  damping: number,
  pending: { readonly lossBefore: number; readonly predicted: number },
  lossAfter: number,
  o: Required<AdaptiveDampingOptions>,
): { damping: number; rho: number } {
  if (pending.predicted > 0) return adaptDamping(damping, pending.lossBefore, lossAfter, pending.predicted, o);
  return { damping: Math.min(o.max, damping * o.factor), rho: -Infinity };
}
