/**
 * KFAC's diagonal block against a float64 reference: second moments `(1/n)·Σᵢ Jᵢₖ²` from explicit per-sample
 * gradients, running averages, stale damped inverses `1/(d + λ)`, beside a Kronecker layer (checked against the
 * Kronecker reference) and alone; its share of the KL-clip inner product; bad second moments refused with nothing
 * changed; checkpoints (round trip, version 1 payloads, corrupt or mismatched diagonal state).
 */
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCheckpoint, encodeCheckpoint } from '../src/checkpoint.js';
import {
  CheckpointError,
  InvalidArgumentError,
  kfac,
  NonFiniteError,
  ShapeError,
  type HostTree,
  type KfacOptimizer,
  type SecondMoments,
} from '../src/index.js';
import { KfacReference } from './support/kfac-reference.js';
import {
  deviceFactors,
  disposeFactors,
  forwardBackward,
  initParams,
  jacobian,
  makeData,
  weightedGradient,
  type Mlp,
  type Pass,
} from './support/mlp.js';
import { relativeError } from './support/reference.js';

const MLP: Mlp = { din: 7, hidden: 5, dout: 3, loss: 'ce' };
const N = 11;
const DIAG = ['W2', 'b2'] as const;
const DAMPING = 0.03;

let dev: LinalgDevice;
beforeAll(async () => {
  dev = await createDevice({ backend: 'cpu' });
});
afterAll(() => dev.destroy());

const meanGradient = (pass: Pass): HostTree => weightedGradient(pass, new Float64Array(pass.n).fill(1 / pass.n));

/** Float64 second moments of every leaf from explicit per-sample gradients. */
function secondMoments(pass: Pass): Record<string, Float64Array> {
  const { J, d } = jacobian(pass);
  const m = new Float64Array(d);
  for (let i = 0; i < pass.n; i++) for (let k = 0; k < d; k++) m[k]! += (J[i * d + k] as number) ** 2 / pass.n;
  const sizes = { W1: MLP.hidden * MLP.din, b1: MLP.hidden, W2: MLP.dout * MLP.hidden, b2: MLP.dout };
  const out: Record<string, Float64Array> = {};
  let at = 0;
  for (const [name, size] of Object.entries(sizes)) {
    out[name] = m.slice(at, at + size);
    at += size;
  }
  return out;
}
const pick = (m: Record<string, Float64Array>, names: readonly string[]): SecondMoments =>
  Object.fromEntries(names.map((k) => [k, m[k] as Float64Array]));

/** The float64 reference of the diagonal block alone (no momentum, no KL clip, constant rate). */
class DiagonalReference {
  #d: Float64Array | null = null;
  #inv: Float64Array | null = null;
  #step = 0;
  constructor(
    readonly o: { lr: number; decay: number; inverseEvery: number; damping: number },
    readonly names: readonly string[],
  ) {}
  /** The update −lr·g/(d + λ) of the diagonal leaves, flattened in `names` order. */
  step(m: Record<string, Float64Array>, g: HostTree): Float64Array {
    const batch = Float64Array.from(this.names.flatMap((k) => Array.from(m[k] as Float64Array)));
    this.#d = this.#d ? this.#d.map((v, k) => this.o.decay * v + (1 - this.o.decay) * (batch[k] as number)) : batch;
    if (this.#step % this.o.inverseEvery === 0) this.#inv = this.#d.map((v) => 1 / (v + this.o.damping));
    this.#step++;
    const grad = Float64Array.from(this.names.flatMap((k) => Array.from(g[k] as Float32Array)));
    return grad.map((v, k) => -this.o.lr * v * (this.#inv![k] as number));
  }
}

const delta = (next: HostTree, params: HostTree, names: readonly string[]): Float64Array =>
  Float64Array.from(names.flatMap((k) => Array.from(next[k] as Float32Array, (v, i) => v - (params[k] as Float32Array)[i]!)));

describe('KFAC diagonal block', () => {
  it('beside a Kronecker layer: four steps of running averages and stale inverses match float64 references', async () => {
    const o = { lr: 0.2, decay: 0.7, inverseEvery: 2, damping: DAMPING };
    const diagRef = new DiagonalReference(o, DIAG);
    const kronRef = new KfacReference([{ weight: 'W1', bias: 'b1' }], {
      lr: () => o.lr,
      damping: o.damping,
      decay: o.decay,
      inverseEvery: o.inverseEvery,
      factorEvery: 1,
      momentum: 0,
      weightDecay: 0,
      klClip: null,
    });
    const opt = kfac({
      device: dev,
      layers: [{ weight: 'W1', bias: 'b1', layout: 'out-in' }],
      diagonal: DIAG,
      learningRate: o.lr,
      damping: o.damping,
      decay: o.decay,
      inverseEvery: o.inverseEvery,
      momentum: 0,
      klClip: false,
    });
    let params = initParams(MLP, 3);
    opt.init(params);
    for (let t = 0; t < 4; t++) {
      const pass = forwardBackward(MLP, params, makeData(MLP, N, 40 + t));
      const g = meanGradient(pass);
      const m = secondMoments(pass);
      const f = pass.layers[0];
      const kron = kronRef.step([{ A: f.A, D: f.D, p: f.din, q: f.dout, n: pass.n, T: 1, bias: true }], g, params);
      const fs = deviceFactors(dev, pass).slice(0, 1);
      const next = await opt
        .step(g, params, { factors: fs, secondMoments: () => pick(m, DIAG) })
        .finally(() => disposeFactors(fs));
      expect(relativeError(delta(next, params, DIAG), diagRef.step(m, g)), `diagonal, step ${t}`).toBeLessThan(1e-5);
      const expectKron = Float64Array.from(['W1', 'b1'].flatMap((k) => Array.from(kron[k] as Float64Array)));
      expect(relativeError(delta(next, params, ['W1', 'b1']), expectKron), `kronecker, step ${t}`).toBeLessThan(2e-4);
      params = next;
    }
    expect(opt.stats).toMatchObject({ steps: 4, factorUpdates: 4, inverseRefreshes: 2 });
    const st = opt.diagonalState();
    expect(st.d).toHaveLength(MLP.dout * MLP.hidden + MLP.dout);
    expect(opt.diagonal).toEqual(DIAG);
    opt.dispose();
  });

  it('alone (no Kronecker layer), with factors every second step: the off steps need no second moments', async () => {
    const o = { lr: 0.1, decay: 0.5, inverseEvery: 1, damping: DAMPING };
    const names = ['W1', 'b1', 'W2', 'b2'];
    const opt = kfac({ device: dev, layers: [], diagonal: names, learningRate: o.lr, damping: o.damping, decay: o.decay, factorEvery: 2, inverseEvery: 1, momentum: 0, klClip: false });
    let params = initParams(MLP, 5);
    opt.init(params);
    let d: Float64Array | null = null;
    for (let t = 0; t < 4; t++) {
      const pass = forwardBackward(MLP, params, makeData(MLP, N, 60 + t));
      const g = meanGradient(pass);
      const m = secondMoments(pass);
      const due = opt.factorsDue;
      expect(due).toBe(t % 2 === 0);
      if (due) {
        const batch = Float64Array.from(names.flatMap((k) => Array.from(m[k] as Float64Array)));
        d = d ? d.map((v, k) => o.decay * v + (1 - o.decay) * batch[k]!) : batch;
      }
      const next = await opt.step(g, params, due ? { secondMoments: pick(m, names) } : {});
      const grad = Float64Array.from(names.flatMap((k) => Array.from(g[k] as Float32Array)));
      const expected = grad.map((v, k) => (-o.lr * v) / (d![k]! + o.damping));
      expect(relativeError(delta(next, params, names), expected), `step ${t}`).toBeLessThan(1e-5);
      params = next;
    }
  });

  it('adds Σ g²/(d + λ) to the KL-clip inner product', async () => {
    const params = initParams(MLP, 7);
    const pass = forwardBackward(MLP, params, makeData(MLP, N, 70));
    const g = meanGradient(pass);
    const m = secondMoments(pass);
    const base = { device: dev, learningRate: 0.1, damping: DAMPING, momentum: 0, klClip: 1e9 } as const;
    const kronOnly = kfac({ ...base, layers: [{ weight: 'W1', bias: 'b1', layout: 'out-in' }] });
    const both = kfac({ ...base, layers: [{ weight: 'W1', bias: 'b1', layout: 'out-in' }], diagonal: DIAG });
    for (const opt of [kronOnly, both]) {
      opt.init(params);
      const fs = deviceFactors(dev, pass).slice(0, 1);
      await opt.step(g, params, { factors: fs, secondMoments: pick(m, DIAG) }).finally(() => disposeFactors(fs));
    }
    let vg = 0;
    for (const k of DIAG) (g[k] as Float32Array).forEach((v, i) => (vg += (v * v) / ((m[k] as Float64Array)[i]! + DAMPING)));
    expect(both.stats.klClip.lastVg).toBeCloseTo(kronOnly.stats.klClip.lastVg + vg, 3);
    kronOnly.dispose();
    both.dispose();
  });
});

describe('KFAC diagonal block: refusals and checkpoints', () => {
  const setup = async (): Promise<{ opt: KfacOptimizer; params: HostTree; pass: Pass; m: Record<string, Float64Array> }> => {
    const opt = kfac({ device: dev, layers: [{ weight: 'W1', bias: 'b1', layout: 'out-in' }], diagonal: DIAG, momentum: 0.9 });
    const params = initParams(MLP, 9);
    opt.init(params);
    const pass = forwardBackward(MLP, params, makeData(MLP, N, 90));
    return { opt, params, pass, m: secondMoments(pass) };
  };
  const stepWith = async (opt: KfacOptimizer, params: HostTree, pass: Pass, secondMoments: unknown): Promise<HostTree> => {
    const fs = deviceFactors(dev, pass).slice(0, 1);
    return opt
      .step(meanGradient(pass), params, { factors: fs, secondMoments: secondMoments as SecondMoments })
      .finally(() => disposeFactors(fs));
  };

  it('init refuses a diagonal leaf that is not a parameter', () => {
    const opt = kfac({ device: dev, layers: [], diagonal: ['W3'] });
    expect(() => opt.init(initParams(MLP, 1))).toThrow(ShapeError);
    expect(() => opt.init(initParams(MLP, 1))).toThrow(/diagonal leaf 'W3'/);
  });

  it.each([
    ['missing', undefined, InvalidArgumentError, /secondMoments is required/],
    ['an array', [1, 2], InvalidArgumentError, /must be an object/],
    ['a leaf missing', { W2: new Float64Array(15) }, InvalidArgumentError, /secondMoments\['b2'\]/],
    ['a foreign leaf', { W1: new Float64Array(35), W2: new Float64Array(15), b2: new Float64Array(3) }, InvalidArgumentError, /'W1', which is not a diagonal leaf/],
    ['a wrong size', { W2: new Float64Array(14), b2: new Float64Array(3) }, ShapeError, /14 values, the leaf 15/],
    ['a NaN', { W2: new Float64Array(15).fill(NaN), b2: new Float64Array(3) }, NonFiniteError, /NaN/],
    ['a negative value', { W2: new Float64Array(15).fill(-1), b2: new Float64Array(3) }, InvalidArgumentError, /≥ 0/],
    ['plain numbers', { W2: Array(15).fill(0), b2: new Float64Array(3) }, InvalidArgumentError, /Float32Array or Float64Array/],
  ])('second moments %s: typed error, nothing changes', async (_name, bad, type, message) => {
    const { opt, params, pass, m } = await setup();
    await stepWith(opt, params, pass, pick(m, DIAG));
    const before = opt.serialize();
    const p2 = forwardBackward(MLP, params, makeData(MLP, N, 91));
    const error = await stepWith(opt, params, p2, bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(type);
    expect(String(error)).toMatch(message);
    expect(opt.serialize()).toEqual(before);
    opt.dispose();
  });

  it('a checkpoint restores the diagonal state; the restored optimizer continues bit for bit', async () => {
    const { opt, params, pass, m } = await setup();
    const p1 = await stepWith(opt, params, pass, pick(m, DIAG));
    const twin = kfac({ device: dev, layers: [{ weight: 'W1', bias: 'b1', layout: 'out-in' }], diagonal: DIAG, momentum: 0.9 });
    twin.init(params);
    twin.restore(opt.serialize());
    expect(twin.diagonalState()).toEqual(opt.diagonalState());
    const p2 = forwardBackward(MLP, p1, makeData(MLP, N, 92));
    const m2 = pick(secondMoments(p2), DIAG);
    const a = await stepWith(opt, p1, p2, m2);
    const b = await stepWith(twin, p1, p2, m2);
    for (const k of Object.keys(a)) expect(b[k]).toEqual(a[k]);
    opt.dispose();
    twin.dispose();
  });

  const edited = (bytes: Uint8Array, edit: (p: any) => void): Uint8Array => {
    const p = decodeCheckpoint(bytes) as any;
    edit(p);
    return encodeCheckpoint(p);
  };

  it.each([
    ['second moments of the wrong size', (p: any) => (p.diagonalState.d = new Float64Array(3)), 'CHECKPOINT_FORMAT'],
    ['a negative second moment', (p: any) => (p.diagonalState.d[0] = -1), 'CHECKPOINT_FORMAT'],
    ['a zero inverse', (p: any) => (p.diagonalState.inv[0] = 0), 'CHECKPOINT_FORMAT'],
    ['an inverse without second moments', (p: any) => (p.diagonalState.d = null), 'CHECKPOINT_FORMAT'],
    ['other diagonal leaves', (p: any) => (p.diagonal = ['W2']), 'CHECKPOINT_MODEL'],
    ['a version 1 payload (no diagonal block) into an optimizer with one', (p: any) => (p.version = 1), 'CHECKPOINT_VERSION'],
  ])('refuses %s, nothing changes', async (_name, edit, code) => {
    const { opt, params, pass, m } = await setup();
    await stepWith(opt, params, pass, pick(m, DIAG));
    const bytes = opt.serialize();
    expect(() => opt.restore(edited(bytes, edit))).toThrow(CheckpointError);
    expect(() => opt.restore(edited(bytes, edit))).toThrow(expect.objectContaining({ code }));
    expect(opt.serialize()).toEqual(bytes);
    opt.dispose();
  });

  it('a version 1 payload restores into an optimizer without diagonal leaves', async () => {
    const opt = kfac({ device: dev, layers: [{ weight: 'W1', bias: 'b1', layout: 'out-in' }], momentum: 0.9 });
    const params = initParams(MLP, 9);
    opt.init(params);
    const pass = forwardBackward(MLP, params, makeData(MLP, N, 90));
    const fs = deviceFactors(dev, pass).slice(0, 1);
    await opt.step(meanGradient(pass), params, { factors: fs }).finally(() => disposeFactors(fs));
    const bytes = opt.serialize();
    const v1 = edited(bytes, (p) => {
      p.version = 1;
      delete p.diagonal;
      delete p.diagonalState;
    });
    const twin = kfac({ device: dev, layers: [{ weight: 'W1', bias: 'b1', layout: 'out-in' }], momentum: 0.9 });
    twin.init(params);
    twin.restore(v1);
    expect(twin.serialize()).toEqual(bytes);
    opt.dispose();
    twin.dispose();
  });
});
