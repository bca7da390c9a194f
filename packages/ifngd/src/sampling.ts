/**
 * Targets drawn from a model's predictive distribution — what a loss is the negative log-likelihood of — for the
 * true Fisher (KFAC's `fisher: 'sampled'`, kfac-jax's default): softmax cross-entropy, a class per sample from
 * softmax(z); sigmoid cross-entropy, a Bernoulli per output from sigmoid(z); mean squared error over d outputs,
 * `t = z + √(d/2)·ε` (ℓ = (1/d)Σ(z − t)² is −log N(t; z, (d/2)I) up to a constant). Seeded, on the host: the
 * same draw on every backend.
 * @module
 */
import { mulberry32 } from './rng.js';

/** The losses a target can be sampled for. */
export type SampledLoss = 'softmax-cross-entropy' | 'sigmoid-cross-entropy' | 'mse';

/** What the model's outputs are: logits (default), or a final softmax's probabilities or log-probabilities. */
export type OutputForm = 'logits' | 'probabilities' | 'log-probabilities';

/**
 * Targets `[n, d]` (row-major, as the outputs) sampled from the predictive distribution of `loss` at the outputs
 * `z` (`[n, d]`, row-major): one-hot rows, 0/1 entries, or Gaussian draws.
 */
export function sampleTargets(loss: SampledLoss, z: Float32Array, n: number, seed: number, form: OutputForm = 'logits'): Float32Array {
  const d = z.length / n;
  const rand = mulberry32(seed);
  const out = new Float32Array(z.length);
  for (let i = 0; i < n; i++) {
    const row = z.subarray(i * d, (i + 1) * d);
    if (loss === 'softmax-cross-entropy') {
      const p = probabilities(row, form);
      let u = rand();
      let c = d - 1;
      for (let j = 0; j < d; j++) {
        u -= p[j]!;
        if (u < 0) {
          c = j;
          break;
        }
      }
      out[i * d + c] = 1;
    } else if (loss === 'sigmoid-cross-entropy') {
      for (let j = 0; j < d; j++) out[i * d + j] = rand() < 1 / (1 + Math.exp(-row[j]!)) ? 1 : 0;
    } else {
      const sd = Math.sqrt(d / 2);
      for (let j = 0; j < d; j++) {
        // Box–Muller
        const g = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
        out[i * d + j] = row[j]! + sd * g;
      }
    }
  }
  return out;
}

function probabilities(row: Float32Array, form: OutputForm): Float64Array {
  if (form === 'probabilities') {
    const s = row.reduce((a, v) => a + v, 0);
    return Float64Array.from(row, (v) => v / s);
  }
  const m = Math.max(...row);
  const e = Float64Array.from(row, (v) => (form === 'log-probabilities' ? Math.exp(v) : Math.exp(v - m)));
  const s = e.reduce((a, v) => a + v, 0);
  return e.map((v) => v / s);
}
