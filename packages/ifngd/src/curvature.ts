/**
 * From curvature factors to coefficients: the only module that talks to `@ifngd/fisher`. Builds the layer
 * Grams on the device, sums (global) or stacks (layer-wise) them, reads the n×n Gram(s) back — n² floats,
 * used for the finiteness check, the drift probe and the damping model — and solves α = (G + nλI)⁻¹1.
 * @module
 */
import {
  factorSamples,
  FisherArgumentError,
  layerGram,
  ShapeMismatchError,
  solveCoefficients,
  stackGrams,
  sumGrams,
  type LayerFactors,
} from '@ifngd/fisher';
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';
import { InvalidArgumentError, NonFiniteError, ShapeError } from './errors.js';

/** Global: one α for the model (Gram summed over layers). Layer-wise: one αₗ per layer (block-diagonal F). */
export type FngdMode = 'global' | 'layerwise';

/** Coefficients with the Gram(s) they were solved from. */
export interface CurvatureSolution {
  readonly n: number;
  /** 1 (global) or L (layer-wise). */
  readonly layers: number;
  /** α, layer-major, length `layers·n`. */
  readonly alpha: Float32Array;
  /** The Gram(s) G (global: Σₗ Gₗ) on the host, layer-major `layers·n·n`. */
  readonly grams: Float32Array;
  /** Cholesky retries with a growing diagonal shift. */
  readonly jitterRetries: number;
}

/**
 * Number of samples a layer's factors describe, checked by their registered kind (`@ifngd/fisher`'s
 * `registerFactorKind`): `ShapeError` when their parts disagree, `InvalidArgumentError` for an unknown kind.
 */
export function factorRows(f: LayerFactors): number {
  try {
    return factorSamples(f);
  } catch (e) {
    if (e instanceof ShapeMismatchError) throw new ShapeError(e.message);
    if (e instanceof FisherArgumentError) throw new InvalidArgumentError(e.message);
    throw e;
  }
}

/** Checks that every layer describes `n` samples. */
export function checkFactors(factors: readonly LayerFactors[], n: number): void {
  if (!Array.isArray(factors) || factors.length === 0) {
    throw new InvalidArgumentError('factors: expected a non-empty array of LayerFactors');
  }
  factors.forEach((f, l) => {
    const rows = factorRows(f);
    if (rows !== n) throw new ShapeError(`factors: layer ${l} describes ${rows} samples, the batch has n = ${n}`);
  });
}

/**
 * Solves the coefficients of one batch. Throws {@link ShapeError} when layers disagree on n,
 * {@link NonFiniteError} when the factors (hence the Gram) hold NaN/±Infinity; disposes everything it made.
 */
export async function solveCurvature(
  dev: LinalgDevice,
  factors: readonly LayerFactors[],
  options: { mode: FngdMode; damping: number; n: number; maxJitterRetries?: number },
): Promise<CurvatureSolution> {
  const { mode, damping, n } = options;
  checkFactors(factors, n);
  const made: Matrix[] = [];
  try {
    const grams = factors.map((f) => {
      const g = layerGram(dev, f);
      made.push(g);
      return g;
    });
    let g: Matrix;
    if (mode === 'global') g = grams.length === 1 ? (grams[0] as Matrix) : sumGrams(dev, grams);
    else g = stackGrams(dev, grams);
    if (!made.includes(g)) made.push(g);
    const host = await dev.read(g);
    for (let i = 0; i < host.length; i++) {
      if (!Number.isFinite(host[i] as number)) {
        throw new NonFiniteError(`factors: the Gram of the batch holds non-finite values (first at element ${i}): NaN or ±Infinity in the curvature factors`);
      }
    }
    const opts = options.maxJitterRetries === undefined ? {} : { maxJitterRetries: options.maxJitterRetries };
    const sol = await solveCoefficients(dev, g, damping, opts);
    const layers = mode === 'global' ? 1 : factors.length;
    if (sol.alpha.length !== layers * n) {
      throw new ShapeError(`solveCoefficients returned ${sol.alpha.length} coefficients, expected ${layers}·${n}`);
    }
    for (const a of sol.alpha) {
      if (!Number.isFinite(a)) throw new NonFiniteError('coefficients: the solve produced non-finite α');
    }
    return { n, layers, alpha: Float32Array.from(sol.alpha), grams: host, jitterRetries: sol.jitterRetries };
  } finally {
    for (const m of made) m.dispose();
  }
}
