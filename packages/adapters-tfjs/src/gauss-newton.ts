/**
 * The tfjs trainer's Gauss–Newton products (`ifngd`'s `StepCapture.gaussNewton`, KFAC's adaptive
 * `quadraticModel: 'gauss-newton'`): `(1/n)·Σᵢ wᵢ·(Jᵢuₐ)ᵀ·Hᵢ·(Jᵢuᵦ)` along a few parameter vectors. tfjs has no
 * forward-mode differentiation, so each output directional derivative `Jᵢu` is a central difference of the
 * training-mode forward, `(f(θ + t·u) − f(θ − t·u)) / 2t` with `ifngd`'s `differenceStep` t (two passes per
 * vector); the outputs at θ give the named loss's exact Hessian (`gaussNewtonProducts`, float64 on the host).
 * Softmax cross-entropy's targets are taken as distributions (rows summing to 1), as its sampled Fisher takes them.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { HostTree } from 'ifngd';
import { differenceStep, gaussNewtonProducts } from 'ifngd/internal';
import { AdapterArgumentError } from './errors.js';
import { identityTap } from './identity-tap.js';
import { readHost } from './read-host.js';
import type { StepCaptureContext } from './step-capture.js';
import type { TfTree } from './tree-ops.js';

/**
 * Whether a trainer can take Gauss–Newton products of `model` (the optimizer environment's `gaussNewton` flag): a
 * named loss on one output (`sampling`), a forward that draws no random numbers, and training state that can be
 * kept apart from the passes.
 */
export function gaussNewtonAvailable(model: StepCaptureContext['model'], sampling: StepCaptureContext['sampling']): boolean {
  return sampling !== null && model.stochastic !== true && (!model.commitState || model.isolatedState !== undefined);
}

/**
 * The k×k products for the batch `x` (targets `y`, which carry the sample weights during a weighted fit) along
 * `vectors` (tfjs or host trees): 2k + 1 training-mode forward passes for k vectors, as the step's, moving
 * statistics kept apart (`FunctionModel.isolatedState`); two reads (the norms, then the outputs). The variables
 * hold their own values again afterwards, whatever happens. Throws `AdapterArgumentError` where
 * {@link gaussNewtonAvailable} is false.
 */
export async function batchGaussNewton(c: StepCaptureContext, x: Tensor, y: Tensor, n: number, vectors: readonly (TfTree | HostTree)[]): Promise<number[]> {
  const { model, variables, names } = c;
  const s = c.sampling;
  if (!s || !gaussNewtonAvailable(model, s)) {
    throw new AdapterArgumentError(
      'gaussNewton: it needs a named loss on one output and a training forward without random layers whose state can be kept apart (isolatedState)',
    );
  }
  const saved = variables.map((v) => tf.clone(v));
  const made: Tensor[] = [];
  const keep = <T extends Tensor>(t: T): T => (made.push(t), t);
  try {
    // each vector's leaves as tensors in variable order (host leaves uploaded once)
    const leaves = vectors.map((u) =>
      variables.map((v, i) => {
        const p = (u as Record<string, Tensor | Float32Array>)[names[i] as string];
        return p instanceof Float32Array ? keep(tf.tensor(p, v.shape, 'float32')) : (p as Tensor);
      }),
    );
    const forwardAt = (u: readonly Tensor[] | null, t: number): Tensor => {
      variables.forEach((v, i) => {
        if (u === null) return v.assign(saved[i] as Tensor);
        const shifted = tf.tidy(() => tf.add(saved[i] as Tensor, tf.mul(u[i] as Tensor, t)));
        v.assign(shifted);
        shifted.dispose();
      });
      const run = (): Tensor => tf.tidy(() => tf.reshape(model.forward(x, identityTap, true), [n, -1]));
      return keep(model.isolatedState ? model.isolatedState(run) : run());
    };
    const norm = (tree: readonly Tensor[]): Tensor => keep(tf.tidy(() => tf.sqrt(tf.addN(tree.map((t) => tf.sum(tf.square(t)))))));
    const [thetaNorm, ...vectorNorms] = await readHost([norm(saved), ...leaves.map(norm)]);
    const z = forwardAt(null, 0);
    const jvps = leaves.map((u, a) => {
      const t = differenceStep(thetaNorm![0] as number, vectorNorms[a]![0] as number);
      if (t === 0) return keep(tf.zerosLike(z));
      const up = forwardAt(u, t);
      const down = forwardAt(u, -t);
      return keep(tf.tidy(() => tf.div(tf.sub(up, down), 2 * t)));
    });
    const w = s.weights(y);
    if (w) keep(w);
    const [zh, ...rest] = await readHost([z, ...jvps, ...(w ? [w] : [])]);
    return gaussNewtonProducts(s.lossName, zh as Float32Array, rest.slice(0, jvps.length), n, w ? (rest[jvps.length] as Float32Array) : null);
  } finally {
    variables.forEach((v, i) => v.assign(saved[i] as Tensor));
    tf.dispose(saved);
    tf.dispose(made);
  }
}
