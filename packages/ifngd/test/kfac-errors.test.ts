/**
 * KFAC's bad inputs (CPU backend): every option is validated with `InvalidArgumentError`; every rejected
 * step throws its typed error and is a transaction that never happened — the optimizer then continues exactly
 * like an undisturbed twin (same parameters bit for bit, same checkpoint bytes, same counters).
 */
import type { LayerFactors } from '@ifngd/fisher';
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InvalidArgumentError,
  kfac,
  NonFiniteError,
  NotInitializedError,
  ShapeError,
  type HostTree,
  type KfacOptimizer,
  type KfacOptions,
} from '../src/index.js';
import {
  deviceFactors,
  disposeFactors,
  forwardBackward,
  initParams,
  makeData,
  weightedGradient,
  type Mlp,
  KFAC_LAYERS,
} from './support/mlp.js';

const MLP: Mlp = { din: 6, hidden: 5, dout: 3, loss: 'ce' };
const LAYERS = KFAC_LAYERS;

let dev: LinalgDevice;
beforeAll(async () => {
  dev = await createDevice({ backend: 'cpu' });
});
afterAll(() => dev.destroy());

describe('options', () => {
  const base = (): KfacOptions => ({ device: dev, layers: LAYERS });
  const bad: [string, (o: KfacOptions) => unknown][] = [
    ['no options', () => undefined],
    ['no device', (o) => ({ ...o, device: undefined })],
    ['no layers', (o) => ({ ...o, layers: undefined })],
    ['empty layers', (o) => ({ ...o, layers: [] })],
    ['a layer that is not an object', (o) => ({ ...o, layers: [null] })],
    ['empty weight name', (o) => ({ ...o, layers: [{ weight: '', layout: 'out-in' }] })],
    ['bias not a name', (o) => ({ ...o, layers: [{ weight: 'W1', bias: 3, layout: 'out-in' }] })],
    ['no layout', (o) => ({ ...o, layers: [{ weight: 'W1', bias: 'b1' }] })],
    ['unknown layout', (o) => ({ ...o, layers: [{ weight: 'W1', layout: 'rows' }] })],
    ['a leaf in two layers', (o) => ({ ...o, layers: [LAYERS[0], { weight: 'W2', bias: 'b1', layout: 'out-in' }] })],
    ...[0, -1, NaN, Infinity, '0.1'].map((v): [string, (o: KfacOptions) => unknown] => [
      `learningRate ${String(v)}`,
      (o) => ({ ...o, learningRate: v }),
    ]),
    ...[0, -1, NaN, Infinity].map((v): [string, (o: KfacOptions) => unknown] => [
      `damping ${v}`,
      (o) => ({ ...o, damping: v }),
    ]),
    ...[-0.1, 1, NaN].map((v): [string, (o: KfacOptions) => unknown] => [`decay ${v}`, (o) => ({ ...o, decay: v })]),
    ...[0, 1.5, NaN].map((v): [string, (o: KfacOptions) => unknown] => [
      `factorEvery ${v}`,
      (o) => ({ ...o, factorEvery: v }),
    ]),
    ...[0, 2.5, -3].map((v): [string, (o: KfacOptions) => unknown] => [
      `inverseEvery ${v}`,
      (o) => ({ ...o, inverseEvery: v }),
    ]),
    ...[0, -1, NaN, true].map((v): [string, (o: KfacOptions) => unknown] => [
      `klClip ${String(v)}`,
      (o) => ({ ...o, klClip: v }),
    ]),
    ...[1, -0.1, NaN, { decay: 2 }].map((v): [string, (o: KfacOptions) => unknown] => [
      `momentum ${JSON.stringify(v)}`,
      (o) => ({ ...o, momentum: v }),
    ]),
    ...[-1, NaN].map((v): [string, (o: KfacOptions) => unknown] => [
      `weightDecay ${v}`,
      (o) => ({ ...o, weightDecay: v }),
    ]),
    ...[0, NaN].map((v): [string, (o: KfacOptions) => unknown] => [`clipNorm ${v}`, (o) => ({ ...o, clipNorm: v })]),
    ['onNonFinite', (o) => ({ ...o, onNonFinite: 'ignore' })],
  ];
  it.each(bad)('%s → InvalidArgumentError', (_name, make) => {
    expect(() => kfac(make(base()) as KfacOptions)).toThrow(InvalidArgumentError);
  });

  it('defaults: kfac({ device, layers }) alone is valid', () => {
    expect(kfac(base()).layers).toEqual(LAYERS.map((l) => ({ ...l })));
  });
});

/** Batch t at `params`: mean gradients and a fresh set of device factors. */
function batch(params: HostTree, t: number) {
  const pass = forwardBackward(MLP, params, makeData(MLP, 9, 900 + t));
  return {
    pass,
    grads: weightedGradient(pass, new Float64Array(pass.n).fill(1 / pass.n)),
    factors: () => deviceFactors(dev, pass),
  };
}

async function good(opt: KfacOptimizer, params: HostTree, t: number): Promise<HostTree> {
  const b = batch(params, t);
  const fs = b.factors();
  return opt.step(b.grads, params, { factors: fs, loss: 1 }).finally(() => disposeFactors(fs));
}

/** Two optimizers with the same options and one step behind them. */
async function twins(options: Partial<KfacOptions> = {}) {
  const make = (): KfacOptimizer =>
    kfac({ device: dev, layers: LAYERS, momentum: 0.9, damping: 0.1, inverseEvery: 2, ...options });
  const [a, b] = [make(), make()];
  const p0 = initParams(MLP, 4);
  a.init(p0);
  b.init(p0);
  const p1 = await good(a, p0, 0);
  await good(b, p0, 0);
  return { a, b, p1 };
}

/** Both continue with the same two good steps: identical parameters, checkpoints and counters. */
async function expectSameFuture(a: KfacOptimizer, b: KfacOptimizer, p: HostTree): Promise<void> {
  expect(a.serialize()).toEqual(b.serialize());
  let [pa, pb] = [p, p];
  for (const t of [1, 2]) {
    pa = await good(a, pa, t);
    pb = await good(b, pb, t);
  }
  for (const k of Object.keys(pa)) expect(Array.from(pa[k]!)).toEqual(Array.from(pb[k]!));
  expect(a.stats).toEqual(b.stats);
  expect(a.serialize()).toEqual(b.serialize());
}

const mutate = (t: HostTree, name: string, f: (x: Float32Array) => Float32Array): HostTree => ({
  ...t,
  [name]: f(t[name]!.slice()),
});

describe('a rejected step changes nothing (against an undisturbed twin)', () => {
  type Case = [
    string,
    (p: HostTree) => { grads: HostTree; params: HostTree; extras: unknown; cleanup?: () => void },
    new (...a: never[]) => Error,
  ];
  /** Good factors of batch 1 (`fs`) from which `make` builds the step's; every matrix is released afterwards. */
  const withFactors = (
    p: HostTree,
    make: (pass: ReturnType<typeof batch>['pass'], fs: LayerFactors[]) => LayerFactors[],
  ) => {
    const b = batch(p, 1);
    const fs = deviceFactors(dev, b.pass);
    const used = make(b.pass, fs);
    return {
      grads: b.grads,
      params: p,
      extras: { factors: used },
      cleanup: () => disposeFactors([...fs, ...used.filter((f) => f.kind === 'dense')]),
    };
  };
  const dense = (
    a: Float64Array,
    d: Float64Array,
    n: number,
    din: number,
    dout: number,
    extra: object = {},
  ): LayerFactors =>
    ({
      kind: 'dense',
      inputs: dev.matrix(Float32Array.from(a), [n, din]),
      outputGrads: dev.matrix(Float32Array.from(d), [d.length / dout, dout]),
      ...extra,
    } as LayerFactors);
  const cases: Case[] = [
    ['one factor for two layers', (p) => withFactors(p, (_, fs) => fs.slice(0, 1)), ShapeError],
    [
      'inputs of the wrong width',
      (p) => withFactors(p, (pass, fs) => [dense(pass.layers[0].A.slice(0, 9 * 5), pass.layers[0].D, 9, 5, 5), fs[1]!]),
      ShapeError,
    ],
    [
      'inputs and output-gradients of different n',
      (p) => withFactors(p, (pass, fs) => [dense(pass.layers[0].A.slice(0, 8 * 6), pass.layers[0].D, 8, 6, 5), fs[1]!]),
      ShapeError,
    ],
    [
      'jacobian factors',
      (p) =>
        withFactors(p, (_, fs) => [
          { kind: 'jacobian', jacobian: fs[0]!.kind === 'dense' ? fs[0]!.inputs : fs[0]! } as LayerFactors,
          fs[1]!,
        ]),
      InvalidArgumentError,
    ],
    [
      'factors without bias for a layer with bias',
      (p) =>
        withFactors(p, (pass, fs) => [dense(pass.layers[0].A, pass.layers[0].D, 9, 6, 5, { bias: false }), fs[1]!]),
      InvalidArgumentError,
    ],
    [
      'NaN in the inputs',
      (p) =>
        withFactors(p, (pass, fs) => [
          dense(
            pass.layers[0].A.map((v, i) => (i === 7 ? NaN : v)),
            pass.layers[0].D,
            9,
            6,
            5,
          ),
          fs[1]!,
        ]),
      NonFiniteError,
    ],
    [
      'Infinity in the output-gradients',
      (p) =>
        withFactors(p, (pass, fs) => [
          fs[0]!,
          dense(
            pass.layers[1].A,
            pass.layers[1].D.map((v, i) => (i === 2 ? -Infinity : v)),
            9,
            5,
            3,
          ),
        ]),
      NonFiniteError,
    ],
    [
      'NaN in the gradients',
      (p) => ({ ...withFactors(p, (_, fs) => fs), grads: mutate(batch(p, 1).grads, 'W2', (x) => x.fill(NaN, 3, 4)) }),
      NonFiniteError,
    ],
    [
      'NaN in the parameters',
      (p) => ({ ...withFactors(p, (_, fs) => fs), params: mutate(p, 'b1', (x) => x.fill(NaN, 0, 1)) }),
      NonFiniteError,
    ],
    [
      'gradients that overflow the update',
      (p) => ({ ...withFactors(p, (_, fs) => fs), grads: mutate(batch(p, 1).grads, 'W1', (x) => x.fill(3e38)) }),
      NonFiniteError,
    ],
    [
      'gradients missing a leaf',
      (p) => ({ ...withFactors(p, (_, fs) => fs), grads: { W1: batch(p, 1).grads.W1! } }),
      ShapeError,
    ],
    ['a NaN loss', (p) => ({ ...withFactors(p, (_, fs) => fs), extras: { factors: [], loss: NaN } }), NonFiniteError],
    [
      'extras that are not an object',
      (p) => ({ grads: batch(p, 1).grads, params: p, extras: 'factors' }),
      InvalidArgumentError,
    ],
    [
      'factors that are not an array',
      (p) => ({ grads: batch(p, 1).grads, params: p, extras: { factors: 7 } }),
      InvalidArgumentError,
    ],
    [
      'a factor source that throws',
      (p) => ({
        grads: batch(p, 1).grads,
        params: p,
        extras: {
          factors: () => {
            throw new ShapeError('capture failed');
          },
        },
      }),
      ShapeError,
    ],
    [
      'a factor source that rejects',
      (p) => ({
        grads: batch(p, 1).grads,
        params: p,
        extras: { factors: () => Promise.reject(new NonFiniteError('capture failed')) },
      }),
      NonFiniteError,
    ],
  ];

  it.each(cases)('%s', async (_name, make, errorClass) => {
    const { a, b, p1 } = await twins();
    const bad = make(p1);
    try {
      await expect(a.step(bad.grads, bad.params, bad.extras as never)).rejects.toBeInstanceOf(errorClass);
    } finally {
      bad.cleanup?.();
    }
    await expectSameFuture(a, b, p1);
  });

  it('a second step while one is running is refused; the first completes', async () => {
    const { a, b, p1 } = await twins();
    const bt = batch(p1, 1);
    const fs = bt.factors();
    const first = a.step(bt.grads, p1, { factors: fs });
    await expect(a.step(bt.grads, p1, { factors: fs })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => a.serialize()).toThrow(InvalidArgumentError);
    const pa = await first;
    const pb = await b.step(bt.grads, p1, { factors: fs }).finally(() => disposeFactors(fs));
    for (const k of Object.keys(pa)) expect(Array.from(pa[k]!)).toEqual(Array.from(pb[k]!));
    await expectSameFuture(a, b, pa);
  });

  it('a factor float32 cannot factorize (rank-1 batch ×1e8, decay 0) is inverted with a diagonal jitter: the step goes through', async () => {
    const { a, b, p1 } = await twins({ decay: 0, inverseEvery: 1 });
    const pass = batch(p1, 1).pass;
    const one = pass.layers.map((f) => ({
      kind: 'dense' as const,
      inputs: dev.matrix(
        Float32Array.from(f.A.subarray(0, f.din), (v) => 1e8 * v),
        [1, f.din],
      ),
      outputGrads: dev.matrix(
        Float32Array.from(f.D.subarray(0, f.dout), (v) => 1e8 * v),
        [1, f.dout],
      ),
    }));
    // without the jitter retry this step threw linalg's NotPositiveDefiniteError (a zero pivot in float32)
    const out = await a.step(batch(p1, 1).grads, p1, { factors: one }).finally(() => disposeFactors(one));
    for (const k of Object.keys(out)) expect(out[k]!.every(Number.isFinite)).toBe(true);
    expect(a.stats.inverseRefreshes).toBe(b.stats.inverseRefreshes + 1);
  });

  it('a failed init keeps the previous state', async () => {
    const { a, b, p1 } = await twins();
    expect(() => a.init({ W1: p1.W1!, b1: p1.b1! })).toThrow(ShapeError);
    expect(() => a.init(mutate(p1, 'W2', (x) => x.fill(Infinity)))).toThrow(NonFiniteError);
    await expectSameFuture(a, b, p1);
  });

  it('before init: step, serialize and restore throw NotInitializedError', async () => {
    const opt = kfac({ device: dev, layers: LAYERS });
    const p = initParams(MLP, 1);
    await expect(opt.step(p, p, { factors: [] })).rejects.toBeInstanceOf(NotInitializedError);
    expect(() => opt.serialize()).toThrow(NotInitializedError);
    expect(() => opt.restore(new Uint8Array(64))).toThrow(NotInitializedError);
  });

  it("onNonFinite 'skip': non-finite gradients return params, request no factors, count the skip", async () => {
    const { a, b, p1 } = await twins({ onNonFinite: 'skip' });
    let called = 0;
    const grads = mutate(batch(p1, 1).grads, 'b2', (x) => x.fill(NaN));
    const out = await a.step(grads, p1, { factors: () => (called++, []) });
    expect(out).toBe(p1);
    expect(called).toBe(0);
    expect(a.stats).toMatchObject({ steps: 1, skippedSteps: 1, factorUpdates: 1 });
    // overflowing updates are skipped too, after the curvature work (which is discarded)
    const b1 = batch(p1, 1);
    const fs = b1.factors();
    expect(
      await a
        .step(
          mutate(b1.grads, 'W1', (x) => x.fill(3e38)),
          p1,
          { factors: fs },
        )
        .finally(() => disposeFactors(fs)),
    ).toBe(p1);
    expect(a.stats).toMatchObject({ steps: 1, skippedSteps: 2, factorUpdates: 1, inverseRefreshes: 1 });
    let [pa, pb] = [p1, p1];
    for (const t of [1, 2]) {
      pa = await good(a, pa, t);
      pb = await good(b, pb, t);
    }
    for (const k of Object.keys(pa)) expect(Array.from(pa[k]!)).toEqual(Array.from(pb[k]!));
  });
});
