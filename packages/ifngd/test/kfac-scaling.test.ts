/**
 * Which loss scaling the KFAC factors carry. Δ are the output-gradients of the *summed* loss (row i = ∇ℓᵢ
 * w.r.t. zᵢ, as fisher's LayerFactors and the FNGD capture), and `G ⊗ A` must approximate the empirical Fisher
 * of the *mean* loss, `F = (1/n)·Σᵢ gᵢgᵢᵀ` with gᵢ = ∇ℓᵢ (row-major vec of W̄ = [W | b], out-in). On batches
 * where the Kronecker factorisation is exact, `G ⊗ A` must equal F to rounding — which pins down the 1/n of
 * both factors and, for convolutions, where the spatial size T goes (Grosse & Martens 2016: `Ω ⊗ Γ`).
 */
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kfac } from '../src/index.js';
import { disposeAll, toDevice } from './support/convnet.js';
import { kron, type HostLayer } from './support/kfac-reference.js';
import { forwardBackward, initParams, jacobian, rng, type Mlp } from './support/mlp.js';
import { relativeError } from './support/reference.js';

/** (1/n)·Σᵢ gᵢgᵢᵀ for rows gᵢ of `[n, d]`. */
function empiricalFisher(J: Float64Array, n: number, d: number): Float64Array {
  const F = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    for (let r = 0; r < d; r++)
      for (let c = 0; c < d; c++)
        F[r * d + c] = (F[r * d + c] as number) + ((J[i * d + r] as number) * (J[i * d + c] as number)) / n;
  }
  return F;
}

/** G ⊗ A of a one-layer KFAC optimizer after one step (the running averages are then the batch factors). */
async function kfacProduct(dev: LinalgDevice, layer: HostLayer, kind: 'dense' | 'conv2d'): Promise<Float64Array> {
  const { p, q } = layer;
  const params = { W: new Float32Array(p * q), b: new Float32Array(q) };
  const opt = kfac({ device: dev, layers: [{ weight: 'W', bias: 'b', layout: 'out-in' }], klClip: false, momentum: 0 });
  opt.init(params);
  const fs = [toDevice(dev, layer, kind)];
  await opt
    .step({ W: new Float32Array(p * q).fill(0.1), b: new Float32Array(q).fill(0.1) }, params, { factors: fs })
    .finally(() => disposeAll(fs));
  const s = opt.layerState(0);
  opt.dispose();
  return kron(s.g as Float64Array, q, s.a as Float64Array, p + 1);
}

describe('G ⊗ A is the empirical Fisher of the mean loss where the factorisation is exact (CPU)', () => {
  let dev: LinalgDevice;
  beforeAll(async () => {
    dev = await createDevice({ backend: 'cpu' });
  });
  afterAll(() => dev.destroy());

  it('dense: n copies of one sample (F = g·gᵀ): no factor n or 1/n left over', async () => {
    const m: Mlp = { din: 5, hidden: 4, dout: 3, loss: 'ce' };
    const n = 6;
    const r = rng(11);
    const x = Float64Array.from({ length: m.din }, () => r.normal());
    const y = Float64Array.from([0, 1, 0]);
    const pass = forwardBackward(m, initParams(m, 2), { n, x: repeat(x, n), y: repeat(y, n) });
    const { J, d } = jacobian(pass);
    // the first layer's block of J, reordered from [W (o·din + j) …, b (o) …] to W̄ = [W | b] row-major
    const [q, p] = [m.hidden, m.din];
    const a = p + 1;
    const Jl = new Float64Array(n * q * a);
    for (let i = 0; i < n; i++) {
      for (let o = 0; o < q; o++) {
        for (let j = 0; j < p; j++) Jl[i * q * a + o * a + j] = J[i * d + o * p + j] as number;
        Jl[i * q * a + o * a + p] = J[i * d + q * p + o] as number;
      }
    }
    const f = pass.layers[0];
    const got = await kfacProduct(dev, { A: f.A, D: f.D, p, q, n, T: 1, bias: true }, 'dense');
    expect(relativeError(got, empiricalFisher(Jl, n, q * a))).toBeLessThan(1e-6);
  });

  it('conv (KFC): equal patches, uncorrelated positions (Hadamard signs): A averages, G sums over T', async () => {
    // n = 4 samples, T = 3 positions, δᵢₜ = sᵢₜ·uₜ with orthogonal sign columns, the same patch ā everywhere:
    // F = (1/n)·Σᵢ (Σₜ sᵢₜuₜ)(Σₜ sᵢₜuₜ)ᵀ ⊗ āāᵀ = Σₜ uₜuₜᵀ ⊗ āāᵀ exactly.
    const [n, T, p, q] = [4, 3, 5, 3];
    const signs = [
      [1, 1, 1],
      [-1, 1, -1],
      [1, -1, -1],
      [-1, -1, 1],
    ];
    const r = rng(5);
    const patch = Array.from({ length: p }, () => r.normal());
    const u = Array.from({ length: T }, () => Array.from({ length: q }, () => r.normal()));
    const A = new Float64Array(n * T * p);
    const D = new Float64Array(n * T * q);
    for (let i = 0; i < n; i++) {
      for (let t = 0; t < T; t++) {
        A.set(patch, (i * T + t) * p);
        D.set(
          u[t]!.map((v) => signs[i]![t]! * v),
          (i * T + t) * q,
        );
      }
    }
    // explicit per-sample gradients gᵢ = vec(Σₜ δᵢₜ āᵀ), ā = [patch; 1]
    const a = p + 1;
    const J = new Float64Array(n * q * a);
    for (let i = 0; i < n; i++) {
      for (let t = 0; t < T; t++) {
        for (let o = 0; o < q; o++) {
          const dlt = D[(i * T + t) * q + o] as number;
          for (let j = 0; j < a; j++)
            J[i * q * a + o * a + j] = (J[i * q * a + o * a + j] as number) + dlt * (j < p ? (patch[j] as number) : 1);
        }
      }
    }
    const got = await kfacProduct(dev, { A, D, p, q, n, T, bias: true }, 'conv2d');
    expect(relativeError(got, empiricalFisher(J, n, q * a))).toBeLessThan(1e-6);
  });
});

function repeat(x: Float64Array, n: number): Float64Array {
  const out = new Float64Array(x.length * n);
  for (let i = 0; i < n; i++) out.set(x, i * x.length);
  return out;
}
