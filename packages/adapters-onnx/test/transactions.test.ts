/**
 * Every step is a transaction: for each kind of rejected step — bad targets, feeds or step options, NaN inputs,
 * an infinite loss with finite gradients, a failing session run (factors or gradients), the FNGD core or KFAC
 * throwing — with FNGD (fresh and cached coefficients) and with KFAC (factor and gradient-only steps):
 * parameters, optimizer checkpoint, stats and `epoch` are bit for bit as before, every factor matrix the
 * step uploaded is disposed, and training then continues bit-identically to an undisturbed twin.
 *
 * The FNGD kinds that throw *after* `coefficients()` returned (a NaN gradient or an infinite loss on cached
 * coefficients, the gradients session failing after fresh or cached ones) need `ifngd` to stage what
 * `coefficients()` does (cache entry, hit/miss counters) until `step()` succeeds; the adapter cannot undo it.
 */
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { BatchSizeMismatchError, InvalidArgumentError, NonFiniteError } from 'ifngd';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeedError, InvalidOptionError, OnnxTrainer, TargetError, type OnnxTrainerOptions } from '../src/index.js';
import { buildModel } from '../src/internal.js';
import { expectSame, snapshot, spyRuntime, trackUploads, type SpyRuntime } from './harness.js';
import { testModels } from './models.js';
import { rng } from './reference.js';

const model = testModels(6)[1]!; // MatMul+Add, Sigmoid, MatMul+Add, a Sub constant, a trainable Mul scale → MSE; input [3], output [2]
const bytes = buildModel(model.spec);
const N = 6;

/** A batch of n samples; `fill` replaces every input, `target` every target value. */
function batch(seed: number, o: { n?: number; fill?: number; target?: number } = {}) {
  const n = o.n ?? N;
  const r = rng(seed);
  return {
    x: new ort.Tensor('float32', Float32Array.from({ length: n * 3 }, () => o.fill ?? r(1)), [n, 3]),
    t: new ort.Tensor('float32', Float32Array.from({ length: n * 2 }, () => o.target ?? r(1)), [n, 2]),
  };
}

let device: LinalgDevice;
beforeAll(async () => {
  device = await createDevice({ backend: 'cpu' });
});
afterAll(() => device.destroy());

/** A rejected step: what it does to the trainer, and what it throws. */
interface Kind {
  readonly name: string;
  /** Good steps before it (shifts KFAC between factor and gradient-only steps). */
  readonly prep?: number;
  readonly act: (t: OnnxTrainer, spy: SpyRuntime) => Promise<unknown>;
  readonly error: (new (...a: never[]) => Error) | RegExp;
}

const good = batch(100);
const common: Kind[] = [
  { name: 'targets of the wrong shape', act: (t) => t.step({ x: good.x }, batch(1, { n: N - 1 }).t, { batchKey: 0, epoch: 1 }), error: TargetError },
  { name: 'feeds of the wrong shape', act: (t) => t.step({ x: new ort.Tensor('float32', new Float32Array(N * 4), [N, 4]) }, good.t, { batchKey: 0, epoch: 1 }), error: FeedError },
  { name: 'an unknown step option', act: (t) => t.step({ x: good.x }, good.t, { batchKey: 0, epoch: 1, bachSize: 3 } as never), error: InvalidOptionError },
];

const fngdKinds: Kind[] = [
  ...common,
  { name: 'NaN inputs, fresh coefficients (factor pass)', act: (t) => t.step({ x: batch(2, { fill: NaN }).x }, good.t, { batchKey: 'new', epoch: 0 }), error: NonFiniteError },
  { name: 'NaN inputs, cached coefficients (NaN gradient)', act: (t) => t.step({ x: batch(2, { fill: NaN }).x }, good.t, { batchKey: 0, epoch: 1 }), error: NonFiniteError },
  { name: 'infinite loss with finite gradients, cached coefficients', act: (t) => t.step({ x: good.x }, batch(3, { target: 1e20 }).t, { batchKey: 0, epoch: 1 }), error: NonFiniteError },
  { name: 'infinite loss, fresh coefficients', act: (t) => t.step({ x: good.x }, batch(3, { target: 1e20 }).t, { batchKey: 'new', epoch: 0 }), error: NonFiniteError },
  { name: 'the factors session fails (fresh coefficients)', act: (t, s) => ((s.fail = 'factors'), t.step({ x: good.x }, good.t, { batchKey: 'new', epoch: 0 })), error: /injected factors/ },
  { name: 'the gradients session fails after fresh coefficients', act: (t, s) => ((s.fail = 'gradients'), t.step({ x: good.x }, good.t, { batchKey: 'new', epoch: 0 })), error: /injected gradients/ },
  { name: 'the gradients session fails after cached coefficients', act: (t, s) => ((s.fail = 'gradients'), t.step({ x: good.x }, good.t, { batchKey: 0, epoch: 1 })), error: /injected gradients/ },
  { name: 'the core: a cached batch with another n', act: (t) => t.step({ x: batch(4, { n: 4 }).x }, batch(4, { n: 4 }).t, { batchKey: 0, epoch: 1 }), error: BatchSizeMismatchError },
  { name: 'the core: a negative epoch', act: (t) => t.step({ x: good.x }, good.t, { batchKey: 0, epoch: -1 }), error: InvalidArgumentError },
];

const kfacKinds: Kind[] = [
  ...common,
  { name: 'NaN inputs on a factor step', act: (t) => t.step({ x: batch(2, { fill: NaN }).x }, good.t, { batchKey: 0 }), error: NonFiniteError },
  { name: 'NaN inputs on a gradient-only step', prep: 1, act: (t) => t.step({ x: batch(2, { fill: NaN }).x }, good.t, { batchKey: 0 }), error: NonFiniteError },
  { name: 'infinite loss with finite gradients on a gradient-only step', prep: 1, act: (t) => t.step({ x: good.x }, batch(3, { target: 1e20 }).t, { batchKey: 0 }), error: NonFiniteError },
  { name: 'infinite loss on a factor step', act: (t) => t.step({ x: good.x }, batch(3, { target: 1e20 }).t, { batchKey: 0 }), error: NonFiniteError },
  { name: 'the factors session fails', act: (t, s) => ((s.fail = 'factors'), t.step({ x: good.x }, good.t, { batchKey: 0 })), error: /injected factors/ },
  { name: 'the gradients session fails on a factor step', act: (t, s) => ((s.fail = 'gradients'), t.step({ x: good.x }, good.t, { batchKey: 0 })), error: /injected gradients/ },
  { name: 'the gradients session fails on a gradient-only step', prep: 1, act: (t, s) => ((s.fail = 'gradients'), t.step({ x: good.x }, good.t, { batchKey: 0 })), error: /injected gradients/ },
];

const FNGD: Partial<OnnxTrainerOptions> = { learningRate: 0.3, damping: 0.1, momentum: 0.9 };
const KFAC: Partial<OnnxTrainerOptions> = { kfac: { learningRate: 0.2, damping: 0.01, factorEvery: 2, inverseEvery: 3, momentum: 0.9 } };

describe.each([
  ['FNGD', FNGD, fngdKinds],
  ['KFAC', KFAC, kfacKinds],
] as const)('%s: a rejected step changes nothing', (_opt, options, kinds) => {
  it.each(kinds.map((k) => [k.name, k] as const))('%s', async (_name, kind) => {
    const spy = spyRuntime();
    const trainer = await OnnxTrainer.create(bytes, { loss: 'mse', device, ort: spy.ort, ...options });
    const twin = await OnnxTrainer.create(bytes, { loss: 'mse', device, ...options });
    const both = async (b: ReturnType<typeof batch>, key: number, epoch: number) => {
      const [la, lb] = [await trainer.step({ x: b.x }, b.t, { batchKey: key, epoch }), await twin.step({ x: b.x }, b.t, { batchKey: key, epoch })];
      expect(la).toBe(lb);
    };
    // epoch 0: batches 0 and 1 (FNGD caches their coefficients), plus `prep` more steps
    await both(good, 0, 0);
    await both(batch(101), 1, 0);
    for (let p = 0; p < (kind.prep ?? 0); p++) await both(batch(110 + p), 1, 0);
    if (trainer.kfacOptimizer) expect(trainer.kfacOptimizer.factorsDue).toBe(kind.prep === undefined);
    const before = snapshot(trainer);
    const uploads = trackUploads(device);
    try {
      await expect(kind.act(trainer, spy)).rejects.toThrow(kind.error);
      expect(uploads.live()).toEqual([]);
    } finally {
      uploads.restore();
      spy.fail = null;
    }
    expectSame(snapshot(trainer), before);
    expectSame(snapshot(trainer), snapshot(twin));
    // training continues exactly as the twin's: cached and fresh batches, epoch 1
    await both(good, 0, 1);
    await both(batch(102), 2, 1);
    await both(batch(101), 1, 1);
    expectSame(snapshot(trainer), snapshot(twin));
    await Promise.all([trainer.dispose(), twin.dispose()]);
  });
});

describe("onNonFinite: 'skip' is the optimizer's to apply", () => {
  it.each([
    ['FNGD', { ...FNGD, onNonFinite: 'skip' }],
    ['KFAC', { kfac: { ...KFAC.kfac, onNonFinite: 'skip' } }],
  ] as const)('%s: NaN gradients are a counted skip, not an adapter throw', async (_name, options) => {
    const trainer = await OnnxTrainer.create(bytes, { loss: 'mse', device, ...(options as Partial<OnnxTrainerOptions>) });
    await trainer.step({ x: good.x }, good.t, { batchKey: 0, epoch: 0 });
    await trainer.step({ x: good.x }, good.t, { batchKey: 0, epoch: 1 }); // FNGD: cached; KFAC: gradient-only
    const before = trainer.params();
    const loss = await trainer.step({ x: batch(2, { fill: NaN }).x }, good.t, { batchKey: 0, epoch: 1 });
    expect(loss).toBeNaN();
    expect(trainer.params()).toEqual(before);
    expect((trainer.optimizer ?? trainer.kfacOptimizer)!.stats.skippedSteps).toBe(1);
    await trainer.dispose();
  });

  it.each([
    ['FNGD', 'fresh', FNGD],
    ['FNGD', 'cached', FNGD],
    ['KFAC', 'fresh', KFAC],
  ] as const)("%s, NaN outputs on a %s batch: 'throw' throws with nothing changed, 'skip' is a counted skip (the tfjs trainer's rule)", async (_name, which, base) => {
    for (const onNonFinite of ['throw', 'skip'] as const) {
      const o = 'kfac' in base ? { kfac: { ...base.kfac, onNonFinite } } : { ...base, onNonFinite };
      const trainer = await OnnxTrainer.create(bytes, { loss: 'mse', device, ...(o as Partial<OnnxTrainerOptions>) });
      await trainer.step({ x: good.x }, good.t, { batchKey: 0, epoch: 0 });
      const key = which === 'fresh' ? 7 : 0;
      const before = snapshot(trainer);
      const nan = { x: batch(2, { fill: NaN }).x };
      if (onNonFinite === 'throw') {
        await expect(trainer.step(nan, good.t, { batchKey: key, epoch: 1 })).rejects.toThrow(NonFiniteError);
        expectSame(snapshot(trainer), before);
      } else {
        expect(await trainer.step(nan, good.t, { batchKey: key, epoch: 1 })).toBeNaN();
        expect(trainer.params()).toEqual(before.params);
        expect((trainer.optimizer ?? trainer.kfacOptimizer)!.stats.skippedSteps).toBe(1);
      }
      expect(Number.isFinite(await trainer.step({ x: good.x }, good.t, { batchKey: key, epoch: 1 }))).toBe(true);
      await trainer.dispose();
    }
  });
});
