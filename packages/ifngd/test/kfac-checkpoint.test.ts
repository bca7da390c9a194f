/**
 * KFAC checkpoints (CPU backend): a restored optimizer continues bit for bit like the original (running
 * averages, inverses, momentum, schedule position, counters); bad checkpoints are refused with the matching
 * `CheckpointError` code and leave the optimizer unchanged.
 */
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCheckpoint, encodeCheckpoint } from '../src/checkpoint.js';
import { checkModelRecord, modelRecord } from '../src/optimizer-checkpoint.js';
import {
  checkpointKind,
  CheckpointError,
  fngd,
  kfac,
  stepSchedule,
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

const make = (o: Partial<KfacOptions> = {}): KfacOptimizer =>
  kfac({
    device: dev,
    layers: LAYERS,
    learningRate: stepSchedule(0.2, 2, 0.5),
    momentum: 0.9,
    inverseEvery: 3,
    factorEvery: 2,
    klClip: 0.01,
    ...o,
  });

async function train(opt: KfacOptimizer, params: HostTree, from: number, steps: number): Promise<HostTree> {
  let p = params;
  for (let t = from; t < from + steps; t++) {
    const pass = forwardBackward(MLP, p, makeData(MLP, 10, 700 + t));
    const fs = deviceFactors(dev, pass);
    p = await opt
      .step(weightedGradient(pass, new Float64Array(pass.n).fill(1 / pass.n)), p, { factors: () => fs })
      .finally(() => disposeFactors(fs));
  }
  return p;
}

const same = (a: HostTree, b: HostTree): void => {
  for (const k of Object.keys(a)) expect(Array.from(a[k]!), k).toEqual(Array.from(b[k]!));
};

describe('round trip', () => {
  it.each([0, 1, 4])('after %i steps, the restored optimizer continues bit for bit', async (before) => {
    const p0 = initParams(MLP, 2);
    const a = make();
    a.init(p0);
    const p = await train(a, p0, 0, before);
    const bytes = a.serialize();
    const b = make();
    b.init(p0);
    b.restore(bytes);
    expect(b.stats).toEqual(a.stats);
    expect(b.serialize()).toEqual(bytes);
    same(await train(a, p, before, 4), await train(b, p, before, 4));
    expect(b.stats).toEqual(a.stats);
    expect(b.serialize()).toEqual(a.serialize());
  });
});

describe('refused checkpoints change nothing', () => {
  /** A trained optimizer and its checkpoint. */
  async function trained() {
    const p0 = initParams(MLP, 3);
    const opt = make();
    opt.init(p0);
    await train(opt, p0, 0, 2);
    return { opt, bytes: opt.serialize() };
  }
  /** Re-encodes the payload after `edit`. */
  const edited = (bytes: Uint8Array, edit: (p: Record<string, any>) => void): Uint8Array => {
    const p = decodeCheckpoint(bytes) as Record<string, any>;
    edit(p);
    return encodeCheckpoint(p);
  };

  const fngdCheckpoint = (): Uint8Array => {
    const f = fngd({ device: dev });
    f.init(initParams(MLP, 3));
    return f.serialize();
  };
  const cases: [string, (bytes: Uint8Array) => Uint8Array, string][] = [
    ['a flipped byte', (b) => b.map((v, i) => (i === b.length - 5 ? v ^ 1 : v)), 'CHECKPOINT_CHECKSUM'],
    ['truncated bytes', (b) => b.subarray(0, 12), 'CHECKPOINT_FORMAT'],
    ['a payload version from the future', (b) => edited(b, (p) => (p.version = 4)), 'CHECKPOINT_VERSION'],
    ['NaN in a running average', (b) => edited(b, (p) => (p.states[0].a[3] = NaN)), 'CHECKPOINT_FORMAT'],
    [
      'an inverse of the wrong size',
      (b) => edited(b, (p) => (p.states[1].gInv = new Float32Array(4))),
      'CHECKPOINT_FORMAT',
    ],
    ['dimensions that do not fit the leaves', (b) => edited(b, (p) => (p.states[1].dims.q = 4)), 'CHECKPOINT_MODEL'],
    ['a negative step counter', (b) => edited(b, (p) => (p.core.step = -1)), 'CHECKPOINT_FORMAT'],
    [
      'NaN in a momentum buffer',
      (b) =>
        edited(b, (p) => {
          const first = (v: any): Float32Array | null =>
            v instanceof Float32Array ? v : typeof v === 'object' && v !== null ? Object.values(v).map(first).find((f) => f) ?? null : null;
          first(p.chain)![0] = NaN;
        }),
      'CHECKPOINT_FORMAT',
    ],
    ['an FNGD checkpoint', fngdCheckpoint, 'CHECKPOINT_FORMAT'],
  ];

  it.each(cases)('%s', async (_name, corrupt, code) => {
    const { opt, bytes } = await trained();
    const bad = corrupt(bytes);
    expect(() => opt.restore(bad)).toThrow(expect.objectContaining({ code }));
    expect(() => opt.restore(bad)).toThrow(CheckpointError);
    expect(opt.serialize()).toEqual(bytes);
  });

  it.each([
    ['another model', { params: { ...initParams(MLP, 3), extra: new Float32Array(2) } }],
    ["other layers ('in-out')", { options: { layers: LAYERS.map((l) => ({ ...l, layout: 'in-out' as const })) } }],
    ['another chain (no momentum)', { options: { momentum: 0 } }],
  ] as const)('from %s: CHECKPOINT_MODEL', async (_name, other) => {
    const { bytes } = await trained();
    const opt = make('options' in other ? other.options : {});
    opt.init('params' in other ? other.params : initParams(MLP, 3));
    const before = opt.serialize();
    expect(() => opt.restore(bytes)).toThrow(expect.objectContaining({ code: 'CHECKPOINT_MODEL' }));
    expect(opt.serialize()).toEqual(before);
  });

  it('checkpointKind tells a KFAC checkpoint from an FNGD one (null for other bytes)', async () => {
    const { bytes } = await trained();
    expect(checkpointKind(bytes)).toBe('kfac');
    expect(checkpointKind(fngdCheckpoint())).toBe('fngd');
    expect(checkpointKind(new Uint8Array(0))).toBeNull();
    expect(checkpointKind(encodeCheckpoint({ format: 'something-else' }))).toBeNull();
    expect(() => checkpointKind(bytes.subarray(0, 12))).toThrow(CheckpointError);
  });
});

describe('model records of checkpoints', () => {
  const spec = [
    { name: 'a', size: 24, shape: [6, 4] },
    { name: 'b', size: 24, shape: [4, 6] },
  ];
  it('cover shapes in order: a transposed architecture with the same names and sizes is another model', () => {
    expect(() => checkModelRecord(modelRecord(spec), spec)).not.toThrow();
    const transposed = [
      { name: 'a', size: 24, shape: [4, 6] },
      { name: 'b', size: 24, shape: [6, 4] },
    ];
    expect(() => checkModelRecord(modelRecord(spec), transposed)).toThrow(CheckpointError);
    expect(() => checkModelRecord(modelRecord(spec), transposed)).toThrow(/another model: \{a:\[6,4\], b:\[4,6\]\} vs \{a:\[4,6\], b:\[6,4\]\}/);
  });
  it('a record without shapes (host trees, earlier checkpoints) is compared by names and sizes', () => {
    const shapeless = modelRecord(spec.map(({ name, size }) => ({ name, size })));
    expect(() => checkModelRecord(shapeless, spec)).not.toThrow();
    expect(() => checkModelRecord(shapeless, [spec[0]!, { name: 'b', size: 25, shape: [5, 5] }])).toThrow(CheckpointError);
    expect(() => checkModelRecord(undefined, spec)).toThrow(/another model: \{\?\}/);
  });
});
