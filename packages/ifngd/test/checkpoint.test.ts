import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCheckpoint, encodeCheckpoint } from '../src/checkpoint.js';
import { CheckpointError, cosineSchedule, fngd, type FngdOptions, type HostTree } from '../src/index.js';
import { batches, initParams, makeData, type Mlp } from './support/mlp.js';
import { train } from './support/train.js';

let dev: LinalgDevice;
beforeAll(async () => {
  dev = await createDevice({ backend: 'cpu' });
});
afterAll(() => dev.destroy());

const model: Mlp = { din: 4, hidden: 6, dout: 3, loss: 'ce' };
const data = batches(model, makeData(model, 40, 5), 8);
const order = (e: number): number[] => [0, 1, 2, 3, 4].map((i) => (2 * i + e) % 5);
const config = (): FngdOptions => ({
  device: dev,
  learningRate: cosineSchedule(0.5, 40),
  damping: 0.05,
  momentum: { decay: 0.9, nesterov: true },
  weightDecay: 1e-3,
  refresh: { drift: { probeEvery: 3 } },
  adaptiveDamping: {},
});

const same = (a: HostTree, b: HostTree): boolean =>
  Object.keys(a).every((k) => Buffer.from(a[k]!.buffer).equals(Buffer.from(b[k]!.buffer)));

async function trained() {
  const opt = fngd(config());
  opt.init(initParams(model, 2));
  const r = await train(dev, model, opt, initParams(model, 2), data, { epochs: 2, order, observeLoss: true });
  return { opt, params: r.params };
}

describe('checkpoint', () => {
  it('restore and continue = never stopping, bit for bit (CPU backend)', async () => {
    const { opt, params } = await trained();
    const bytes = opt.serialize();
    const straight = await train(dev, model, opt, params, data, { epochs: 2, startEpoch: 3, order, observeLoss: true });

    const resumed = fngd(config());
    resumed.init(params);
    resumed.restore(bytes);
    expect(resumed.stats.cachedBatches).toBe(5);
    const again = await train(dev, model, resumed, params, data, { epochs: 2, startEpoch: 3, order, observeLoss: true });
    expect(same(again.params, straight.params)).toBe(true);
    expect(resumed.stats).toEqual(opt.stats);
    expect(again.factorCalls).toBe(straight.factorCalls);
    expect(Buffer.from(resumed.serialize()).equals(Buffer.from(opt.serialize()))).toBe(true);
  });

  it('rejects corrupted, truncated, foreign-version, other-model and other-configuration checkpoints; nothing changes', async () => {
    const { opt } = await trained();
    const bytes = opt.serialize();
    const target = fngd(config());
    const { opt: other } = await trained();
    target.init(initParams(model, 7));
    target.restore(other.serialize());
    const before = target.serialize();
    const expectCode = (b: Uint8Array, code: string, t = target) => {
      let err: unknown;
      try {
        t.restore(b);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CheckpointError);
      expect((err as CheckpointError).code).toBe(code);
    };
    const flipped = bytes.slice();
    flipped[bytes.length - 3]! ^= 0x10;
    expectCode(flipped, 'CHECKPOINT_CHECKSUM');
    expectCode(bytes.slice(0, 30), 'CHECKPOINT_CHECKSUM');
    expectCode(bytes.slice(0, 10), 'CHECKPOINT_FORMAT');
    const magic = bytes.slice();
    magic[0] = 0x41;
    expectCode(magic, 'CHECKPOINT_FORMAT');
    const version = bytes.slice();
    version[8] = 2;
    expectCode(version, 'CHECKPOINT_VERSION');
    expectCode(new Uint8Array(0), 'CHECKPOINT_FORMAT');
    expect(Buffer.from(target.serialize()).equals(Buffer.from(before))).toBe(true);

    const otherModel = fngd(config());
    otherModel.init(initParams({ ...model, hidden: 7 }, 1));
    expectCode(bytes, 'CHECKPOINT_MODEL', otherModel);
    const noMomentum = fngd({ ...config(), momentum: 0 });
    noMomentum.init(initParams(model, 1));
    expectCode(bytes, 'CHECKPOINT_MODEL', noMomentum);
    const layerwise = fngd({ ...config(), mode: 'layerwise' });
    layerwise.init(initParams(model, 1));
    expectCode(bytes, 'CHECKPOINT_MODEL', layerwise);
  });
});

describe('checkpoint values no run can produce are refused before anything is restored', () => {
  /** A checkpoint's payload edited and re-encoded with a valid checksum. */
  const edited = (bytes: Uint8Array, edit: (p: any) => void): Uint8Array => {
    const p = decodeCheckpoint(bytes) as any;
    edit(p);
    return encodeCheckpoint(p);
  };
  /** The first Float32Array found in the chain state (a momentum buffer). */
  const firstArray = (v: any): Float32Array | null => {
    if (v instanceof Float32Array) return v;
    if (typeof v !== 'object' || v === null) return null;
    for (const x of Object.values(v)) {
      const f = firstArray(x);
      if (f) return f;
    }
    return null;
  };
  const autoConfig = (): FngdOptions => {
    const { adaptiveDamping: _off, ...rest } = config();
    return { ...rest, refresh: { auto: { warmup: 1 } } };
  };
  async function trainedAuto() {
    const opt = fngd(autoConfig());
    opt.init(initParams(model, 2));
    const r = await train(dev, model, opt, initParams(model, 2), data, { epochs: 3, order, observeLoss: true });
    return { opt, params: r.params };
  }

  it.each([
    ['NaN in a momentum buffer', (p: any) => (firstArray(p.chain)![0] = NaN), 'transformation state'],
    ['a negative step', (p: any) => (p.core.step = -1), 'core state'],
    ['a negative maxFreshNorm (the reuse guard would be off)', (p: any) => (p.core.maxFreshNorm = -1), 'core state'],
    ['a negative cached freshNorm', (p: any) => (p.cache[0].freshNorm = -2), 'cache entry norm'],
    ['a negative reuse count', (p: any) => (p.cache[0].reuses = -1), 'cache entry fields'],
    ['a negative probe countdown', (p: any) => (p.core.sinceProbe = -3), 'core state'],
  ])('%s', async (_name, edit, message) => {
    const { opt } = await trained();
    const bytes = opt.serialize();
    const bad = edited(bytes, edit);
    expect(() => opt.restore(bad)).toThrow(CheckpointError);
    expect(() => opt.restore(bad)).toThrow(message);
    expect(Buffer.from(opt.serialize()).equals(Buffer.from(bytes))).toBe(true);
  });

  it.each([
    ['a NaN efficiency in auto state', (p: any) => (p.core.auto.last = { age: 1, efficiency: NaN })],
    ['a negative observation count in auto state', (p: any) => (p.core.auto.observations = -4)],
    ['a negative age in auto state', (p: any) => (p.core.auto.last = { age: -1, efficiency: 0.5 })],
  ])('%s', async (_name, edit) => {
    const { opt } = await trainedAuto();
    const bytes = opt.serialize();
    expect((decodeCheckpoint(bytes) as any).core.auto).not.toBeNull();
    const bad = edited(bytes, edit);
    expect(() => opt.restore(bad)).toThrow(/auto policy state/);
    expect(Buffer.from(opt.serialize()).equals(Buffer.from(bytes))).toBe(true);
  });
});
