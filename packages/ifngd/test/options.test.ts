/**
 * Options are validated at creation, at the top level and in nested option objects: every bad value is an
 * `InvalidArgumentError` whose message names the key and the value; every unknown (misspelled) key an
 * `InvalidOptionError` with the key's path and the value.
 */
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { constantSchedule, fngd, hostTreeOps, InvalidArgumentError, InvalidOptionError, kfac, type FngdOptions, type KfacOptions } from '../src/index.js';
import { KFAC_LAYERS } from './support/mlp.js';

let dev: LinalgDevice;
beforeAll(async () => {
  dev = await createDevice({ backend: 'cpu' });
});
afterAll(() => dev.destroy());

/** [extra options, substrings the message must contain]. */
const fngdBad: [Record<string, unknown>, string[]][] = [
  [{ learningRate: 0 }, ['learningRate', '0']],
  [{ learningRate: -1 }, ['learningRate', '-1']],
  [{ learningRate: NaN }, ['learningRate', 'NaN']],
  [{ learningRate: Infinity }, ['learningRate', 'Infinity']],
  [{ learningRate: '0.1' }, ['learningRate', '0.1']],
  [{ damping: 0 }, ['damping', '0']],
  [{ damping: NaN }, ['damping', 'NaN']],
  [{ mode: 'blockwise' }, ['mode', 'blockwise']],
  [{ weightDecay: -0.1 }, ['weightDecay', '-0.1']],
  [{ weightDecay: NaN }, ['weightDecay', 'NaN']],
  [{ weightDecay: '0' }, ['weightDecay']],
  [{ clipNorm: 0 }, ['clipNorm', '0']],
  [{ clipNorm: NaN }, ['clipNorm', 'NaN']],
  [{ momentum: 1 }, ['momentum', '1']],
  [{ momentum: -0.1 }, ['momentum', '-0.1']],
  [{ momentum: NaN }, ['momentum', 'NaN']],
  [{ momentum: { decay: 2 } }, ['momentum.decay', '2']],
  [{ momentum: { decay: 0.5, nesterov: 'yes' } }, ['momentum.nesterov', 'yes']],
  [{ guard: 'on' }, ['guard', 'on']],
  [{ guard: { factor: 0 } }, ['guard.factor', '0']],
  [{ guard: { reference: 'max' } }, ['guard.reference', 'max']],
  [{ adaptiveDamping: true }, ['adaptiveDamping', 'true']],
  [{ adaptiveDamping: { factor: 1 } }, ['factor', '1']],
  [{ adaptiveDamping: { lowRho: NaN } }, ['lowRho', 'NaN']],
  [{ adaptiveDamping: { lowRho: -Infinity } }, ['lowRho', '-Infinity']],
  [{ adaptiveDamping: { min: 10, max: 1 } }, ['min', '10']],
  [{ onNonFinite: 'ignore' }, ['onNonFinite', 'ignore']],
  [{ maxJitterRetries: -1 }, ['maxJitterRetries', '-1']],
  [{ maxJitterRetries: 1.5 }, ['maxJitterRetries', '1.5']],
  [{ ops: 5 }, ['ops', '5']],
  [{ refresh: 'sometimes' }, ['refresh', 'sometimes']],
  [{ refresh: { everyEpochs: 0 } }, ['everyEpochs', '0']],
  [{ refresh: { everyEpochs: 1, drift: {} } }, ['everyEpochs, drift']],
  [{ refresh: { drift: { probeEvery: 0 } } }, ['probeEvery', '0']],
  [{ refresh: { drift: { markOnCap: 'yes' } } }, ['markOnCap', 'yes']],
  [{ refresh: { drift: { minCosine: NaN } } }, ['minCosine', 'NaN']],
  [{ refresh: { drift: { minProbeEvery: 8, maxProbeEvery: 4 } } }, ['minProbeEvery', '8']],
  [{ refresh: { drift: null } }, ['drift', 'null']],
  [{ refresh: { auto: { price: -1 } } }, ['price', '-1']],
  [{ refresh: { auto: { warmup: 0 } } }, ['warmup', '0']],
  [{ maxCachedBatches: 0 }, ['maxCachedBatches', '0']],
  [{ maxCachedBatches: 2.5 }, ['maxCachedBatches', '2.5']],
];

const fngdUnknown: [Record<string, unknown>, string, string[]][] = [
  [{ learningrate: 0.1 }, 'learningrate', ["'learningrate'", "did you mean 'learningRate'"]],
  [{ lr: 0.1 }, 'lr', ["'lr'"]],
  [{ momentum: { decay: 0.5, nestrov: true } }, 'momentum.nestrov', ["'nestrov'"]],
  [{ guard: { factr: 2 } }, 'guard.factr', ["'factr'"]],
  [{ adaptiveDamping: { facter: 2 } }, 'adaptiveDamping.facter', ["'facter'"]],
  [{ refresh: { evryEpochs: 2 } }, 'refresh.evryEpochs', ["'evryEpochs'"]],
  [{ refresh: { drift: { probeevery: 4 } } }, 'refresh.drift.probeevery', ["'probeevery'", "did you mean 'probeEvery'"]],
  [{ refresh: { auto: { prise: 1 } } }, 'refresh.auto.prise', ["'prise'"]],
];

const kfacUnknown: [Record<string, unknown>, string, string[]][] = [
  [{ learningrate: 0.1 }, 'learningrate', ["'learningrate'", "did you mean 'learningRate'"]],
  [{ inverseevery: 5 }, 'inverseevery', ["'inverseevery'"]],
  [{ momentum: { decay: 0.9, nestrov: true } }, 'momentum.nestrov', ["'nestrov'"]],
  [{ layers: [{ ...KFAC_LAYERS[0], layuot: 'out-in' }, KFAC_LAYERS[1]] }, 'layers[0].layuot', ["'layuot'", 'layers[0]']],
];

describe('unknown option keys: InvalidOptionError with the key path and the value', () => {
  it.each(fngdUnknown)('fngd %j → key %s', (extra, key, words) => {
    const make = () => fngd({ device: dev, ...extra } as FngdOptions);
    expect(make).toThrow(InvalidOptionError);
    try {
      make();
    } catch (e) {
      expect((e as InvalidOptionError).key).toBe(key);
      expect((e as InvalidOptionError).value).toBeDefined();
      for (const w of words) expect((e as Error).message).toContain(w);
    }
  });
  it.each(kfacUnknown)('kfac %j → key %s', (extra, key, words) => {
    const make = () => kfac({ device: dev, layers: KFAC_LAYERS, ...extra } as KfacOptions);
    expect(make).toThrow(InvalidOptionError);
    try {
      make();
    } catch (e) {
      expect((e as InvalidOptionError).key).toBe(key);
      for (const w of words) expect((e as Error).message).toContain(w);
    }
  });
});

describe('fngd options', () => {
  it.each(fngdBad)('%j → InvalidArgumentError naming it', (extra, words) => {
    const make = () => fngd({ device: dev, ...extra } as FngdOptions);
    expect(make).toThrow(InvalidArgumentError);
    try {
      make();
    } catch (e) {
      for (const w of words) expect((e as Error).message).toContain(w);
    }
  });

  it('every known key is accepted, with schedules and nested objects', () => {
    const all: Required<FngdOptions> = {
      device: dev,
      learningRate: constantSchedule(0.1),
      damping: 1,
      mode: 'layerwise',
      refresh: { drift: { lengthRatio: 3, markOnCap: false, lossRatio: null, probeEvery: 4, minProbeEvery: 2, maxProbeEvery: 8, minCosine: 0.5 } },
      momentum: { decay: 0.9, nesterov: true },
      weightDecay: 0,
      clipNorm: 10,
      guard: { reference: 'batch', factor: 2 },
      adaptiveDamping: { factor: 2, lowRho: 0.1, highRho: 0.9, min: 1e-3, max: 1e3 },
      onNonFinite: 'skip',
      maxJitterRetries: 0,
      maxCachedBatches: 16,
      ops: hostTreeOps,
    };
    expect(fngd(all).mode).toBe('layerwise');
    expect(fngd({ device: dev, refresh: { auto: { price: 0, warmup: 1, smoothing: 1, maxAge: 8, lengthRatio: 2, lossRatio: null, clock: () => 0 } } })).toBeDefined();
    expect(fngd({ device: dev, momentum: 0, guard: false, refresh: { everyEpochs: 3 } })).toBeDefined();
  });
});

const kfacBad: [Record<string, unknown>, string[]][] = [
  [{ learningRate: -1 }, ['learningRate', '-1']],
  [{ weightDecay: NaN }, ['weightDecay', 'NaN']],
  [{ momentum: { decay: 0.9, nesterov: 1 } }, ['momentum.nesterov', '1']],
  [{ ops: 'host' }, ['ops', 'host']],
  [{ onNonFinite: 'ignore' }, ['onNonFinite', 'ignore']],
  [{ diagonal: 'b1' }, ['diagonal must be an array']],
  [{ diagonal: [''] }, ['diagonal[0]']],
  [{ diagonal: ['W1'] }, ["'W1'", 'twice']],
  [{ diagonal: ['g', 'g'] }, ["'g'", 'twice']],
  [{ layers: [], diagonal: [] }, ['nothing to precondition']],
  [{ layers: 'W1' }, ['layers must be an array']],
  [{ adaptive: 'yes' }, ['adaptive must be a boolean or options', 'yes']],
  [{ adaptive: true, momentum: { decay: 0.9, nesterov: true } }, ["adaptive mode's momentum is a fixed coefficient", 'a number in [0, 1)', '"nesterov":true']],
  [{ adaptive: true, momentum: 1 }, ['momentum must be in [0, 1)', '1']],
  [{ adaptive: true, learningRate: -0.1 }, ['learningRate', '-0.1']],
  [{ adaptive: true, clipNorm: 1 }, ['clipNorm does not apply in the adaptive mode']],
  [{ adaptive: true, weightDecay: 0.01 }, ['weightDecay does not apply in the adaptive mode']],
  [{ adaptive: true, klClip: 0.001 }, ['klClip in the adaptive mode bounds the step −lr·P, so it needs a fixed learningRate']],
  [{ adaptive: true, learningRate: 0.1, klClip: -1 }, ['klClip must be finite and > 0', '-1']],
  [{ adaptive: true, factorEvery: 2 }, ['factorEvery must be 1']],
  [{ adaptive: { decay: 1 } }, ['adaptive.decay must be in (0, 1)', '1']],
  [{ adaptive: { interval: 0 } }, ['adaptive.interval must be an integer ≥ 1', '0']],
  [{ adaptive: { initialDamping: -1 } }, ['adaptive.initialDamping must be finite and > 0', '-1']],
  [{ adaptive: { minDamping: 1, maxDamping: 0.5 } }, ['adaptive.maxDamping must be ≥ minDamping', '0.5']],
];

describe('kfac options', () => {
  it.each(kfacBad)('%j → InvalidArgumentError naming it', (extra, words) => {
    const make = () => kfac({ device: dev, layers: KFAC_LAYERS, ...extra } as KfacOptions);
    expect(make).toThrow(InvalidArgumentError);
    try {
      make();
    } catch (e) {
      for (const w of words) expect((e as Error).message).toContain(w);
    }
  });

  it('an unknown adaptive option → InvalidOptionError naming its path', () => {
    const make = () => kfac({ device: dev, layers: KFAC_LAYERS, adaptive: { interval: 5, every: 2 } } as KfacOptions);
    expect(make).toThrow(InvalidOptionError);
    expect(make).toThrow(/kfac: adaptive: unknown option 'every'/);
  });

  it('every known key is accepted', () => {
    const all: Required<KfacOptions> = {
      device: dev,
      layers: KFAC_LAYERS,
      diagonal: [],
      learningRate: constantSchedule(0.1),
      damping: 0.01,
      decay: 0.9,
      factorEvery: 2,
      inverseEvery: 4,
      klClip: false,
      momentum: { decay: 0.9, nesterov: false },
      weightDecay: 1e-4,
      clipNorm: 1,
      onNonFinite: 'skip',
      adaptive: false,
      ops: hostTreeOps,
    };
    expect(kfac(all).layers).toHaveLength(2);
    const adaptive: KfacOptions = {
      device: dev,
      layers: KFAC_LAYERS,
      damping: 0.5,
      factorEvery: 1,
      adaptive: { initialDamping: 1, interval: 3, decay: 0.8, minDamping: 1e-6, maxDamping: 100 },
    };
    expect(kfac(adaptive).layers).toHaveLength(2);
  });
});
