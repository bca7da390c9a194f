/**
 * A trainer's side of the optimizer contract for the tests' MLP (`mlp.ts`): the batch's factors on a device, its
 * α-weighted gradients, its loss. Records which passes an optimizer asked for.
 */
import type { LayerFactors } from '@ifngd/fisher';
import type { LinalgDevice } from '@ifngd/linalg-gpu';
import type { CapturedGradients, FactorOptions, FactorSet, GradientRequest, HostTree, MatrixLayer, OptimizerEnv, StepCapture, StepReading } from '../../src/index.js';
import { sampleTargets } from '../../src/internal.js';
import { hostTreeOps } from '../../src/index.js';
import { deviceFactors, disposeFactors, forwardBackward, NAMES, weightedGradient, type Batch, type Mlp } from './mlp.js';

/** The MLP's layers as a trainer describes them (weights `[out, in]`). */
export function mlpLayers(m: Mlp): MatrixLayer[] {
  return [
    { weight: 'W1', bias: 'b1', layout: 'out-in', outputs: m.hidden },
    { weight: 'W2', bias: 'b2', layout: 'out-in', outputs: m.dout },
  ];
}

/** The environment a trainer of the MLP gives an optimizer. */
export function mlpEnv(m: Mlp, device: LinalgDevice): OptimizerEnv<HostTree> {
  return { device, ops: hostTreeOps, layers: mlpLayers(m), leaves: [...NAMES], plain: [], secondMoments: false, sampledTargets: true };
}

/** The MLP's logits `z = W₂·A₂ + b₂` at `params` (float32 rows), and targets drawn from softmax(z). */
export function sampledTargetsOf(m: Mlp, params: HostTree, batch: Batch, seed: number): Float64Array {
  const pass = forwardBackward(m, params, batch);
  const h = pass.layers[1]!.A;
  const [W, b] = [params['W2']!, params['b2']!];
  const z = new Float32Array(batch.n * m.dout);
  for (let i = 0; i < batch.n; i++) for (let o = 0; o < m.dout; o++) {
    let s = b[o]!;
    for (let j = 0; j < m.hidden; j++) s += W[o * m.hidden + j]! * h[i * m.hidden + j]!;
    z[i * m.dout + o] = s;
  }
  return Float64Array.from(sampleTargets('softmax-cross-entropy', z, batch.n, seed));
}

/** One batch of the MLP at `params`, as a {@link StepCapture}. */
export class MlpCapture implements StepCapture<HostTree> {
  readonly n: number;
  readonly asked: string[] = [];
  readonly #made: LayerFactors[] = [];

  constructor(
    readonly m: Mlp,
    readonly params: HostTree,
    readonly batch: Batch,
    readonly device: LinalgDevice,
    readonly batchKey: string | number = 'b0',
    readonly epoch = 0,
    /** A loss to report instead of the batch's (a NaN to feed the non-finite rule). */
    readonly lossOverride?: number,
  ) {
    this.n = batch.n;
  }

  async factors(set: FactorSet, options?: FactorOptions): Promise<LayerFactors[]> {
    this.asked.push(`factors:${set}${options?.targets === 'sampled' ? `:sampled:${options.seed}` : ''}`);
    const batch = options?.targets === 'sampled' ? { ...this.batch, y: sampledTargetsOf(this.m, this.params, this.batch, options.seed ?? 0) } : this.batch;
    const f = deviceFactors(this.device, forwardBackward(this.m, this.params, batch));
    this.#made.push(...f);
    return f;
  }

  async gradients(request: GradientRequest): Promise<CapturedGradients<HostTree>> {
    this.asked.push('gradients');
    const pass = forwardBackward(this.m, this.params, this.batch);
    const w = request.weights;
    const alpha = typeof w === 'function' ? Float32Array.from([...w(0), ...w(1)]) : w;
    return { grads: weightedGradient(pass, alpha), params: this.params, ...(request.penalties === 'apart' ? { penalties: {} } : {}) };
  }

  contain<R>(fn: () => R): R {
    return fn();
  }

  async read(scalars: readonly unknown[]): Promise<StepReading> {
    this.asked.push('read');
    const loss = this.lossOverride ?? forwardBackward(this.m, this.params, this.batch).meanLoss;
    return { values: scalars as number[], loss };
  }

  /** Releases the factors it made. */
  dispose(): void {
    disposeFactors(this.#made);
  }
}
