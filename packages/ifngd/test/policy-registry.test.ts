/**
 * Refresh policies by registration: a policy defined outside the package (one module, one `registerRefreshPolicy`
 * call) trains, stages its state with each request (a rejected step leaves it as it was), checkpoints it, and
 * converts to and from the built-in policies; registrations that would clash are refused; a misspelt policy
 * name is named.
 */
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, fngd, InvalidArgumentError, InvalidOptionError, registerRefreshPolicy, type FngdOptimizer, type HostTree, type RefreshPolicy } from '../src/index.js';
import { decodeCheckpoint, encodeCheckpoint } from '../src/checkpoint.js';
import { everyVisitsPolicy } from './support/every-visits-policy.js';
import { batches, deviceFactors, disposeFactors, forwardBackward, initParams, makeData, weightedGradient, type Mlp } from './support/mlp.js';

let dev: LinalgDevice;
beforeAll(async () => {
  dev = await createDevice({ backend: 'cpu' });
  registerRefreshPolicy(everyVisitsPolicy);
});
afterAll(() => dev.destroy());

const model: Mlp = { din: 4, hidden: 5, dout: 3, loss: 'ce' };
const data = batches(model, makeData(model, 24, 3), 8);
const make = (refresh: RefreshPolicy): FngdOptimizer => fngd({ device: dev, learningRate: 0.2, damping: 0.1, momentum: 0.5, refresh });

async function visit(opt: FngdOptimizer, params: HostTree, key: number, epoch: number): Promise<{ params: HostTree; source: string }> {
  const pass = forwardBackward(model, params, data[key]!);
  let made: ReturnType<typeof deviceFactors> | null = null;
  const c = await opt.coefficients({ batchKey: key, epoch, n: 8, factors: () => (made = deviceFactors(dev, pass)) }).finally(() => made && disposeFactors(made));
  return { params: opt.step(weightedGradient(pass, c.alpha), params, { coefficients: c, loss: pass.meanLoss }), source: c.source };
}

describe('a registered refresh policy', () => {
  it('serves batches as it decides, with its state committed only with a step', async () => {
    const opt = make({ everyVisits: 3 });
    let params = initParams(model, 1);
    opt.init(params);
    const sources: string[] = [];
    for (let epoch = 0; epoch < 3; epoch++) {
      for (const key of [0, 1, 2]) {
        const r = await visit(opt, params, key, epoch);
        params = r.params;
        sources.push(r.source);
      }
    }
    // visits 1–3 are misses (visits 0, 1, 2 before them); then every third visit refreshes
    expect(sources).toEqual(['miss', 'miss', 'miss', 'hit', 'hit', 'refresh', 'hit', 'hit', 'refresh']);
    expect(opt.stats.refreshes).toBe(2);
    // a request whose step never comes changes nothing: the next request decides as if it had not happened
    const pass = forwardBackward(model, params, data[0]!);
    await opt.coefficients({ batchKey: 0, epoch: 3, n: 8, factors: () => deviceFactors(dev, pass) });
    const bytes = Buffer.from(opt.serialize());
    expect((decodeCheckpoint(bytes) as { core: { visits: number }; policy: string }).core.visits).toBe(9);
    expect((decodeCheckpoint(bytes) as { policy: string }).policy).toBe('every-visits');
  });

  it('checkpoints its state and converts to and from the built-in policies', async () => {
    const a = make({ everyVisits: 2 });
    let params = initParams(model, 2);
    a.init(params);
    for (const key of [0, 1, 2, 0]) params = (await visit(a, params, key, 0)).params;
    const bytes = a.serialize();
    const same = make({ everyVisits: 2 });
    same.init(params);
    same.restore(bytes);
    expect(Buffer.from(same.serialize()).equals(Buffer.from(bytes))).toBe(true);
    expect((await visit(same, params, 1, 1)).source).toBe((await visit(a, params, 1, 1)).source);
    // into drift: the cache is kept, drift's countdown starts fresh
    const drift = make({ drift: { probeEvery: 4 } });
    drift.init(params);
    drift.restore(bytes);
    expect(drift.stats.drift.probeInterval).toBe(4);
    expect(drift.cached(2)).toEqual(a.cached(2));
    // and back: a drift checkpoint into everyVisits starts its counter at 0
    const back = make({ everyVisits: 2 });
    back.init(params);
    back.restore(drift.serialize());
    expect((decodeCheckpoint(back.serialize()) as { core: { visits: number } }).core.visits).toBe(0);
  });

  it('a checkpoint of another policy that carries its state is corrupt: CheckpointError, nothing changed', async () => {
    const a = make('first-epoch');
    const params = initParams(model, 3);
    a.init(params);
    await visit(a, params, 0, 0);
    const p = decodeCheckpoint(a.serialize()) as { core: Record<string, unknown> };
    p.core['visits'] = 5;
    const before = Buffer.from(a.serialize());
    expect(() => a.restore(encodeCheckpoint(p))).toThrow(CheckpointError);
    expect(Buffer.from(a.serialize()).equals(before)).toBe(true);
  });

  it('clashing registrations are refused; a misspelt policy name is named', () => {
    expect(() => registerRefreshPolicy(everyVisitsPolicy)).toThrow(/registered already/);
    expect(() => registerRefreshPolicy({ ...everyVisitsPolicy, kind: 'other', idleFields: { probeInterval: 0 } })).toThrow(/belongs to policy 'drift'/);
    expect(() => registerRefreshPolicy({ kind: 'x' } as never)).toThrow(InvalidArgumentError);
    expect(() => registerRefreshPolicy({ ...everyVisitsPolicy, kind: 'y', idleFields: { step: 0 } })).toThrow(/'step' is the optimizer's own/);
    expect(() => registerRefreshPolicy({ ...everyVisitsPolicy, kind: 'z', idleFields: undefined } as never)).toThrow(InvalidArgumentError);
    const e = (() => {
      try {
        fngd({ device: dev, refresh: { everyVisit: 2 } as never });
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(InvalidOptionError);
    expect((e as InvalidOptionError).key).toBe('refresh.everyVisit');
    expect(() => fngd({ device: dev, refresh: 'sometimes' as never })).toThrow(/one of first-epoch, everyEpochs, always, drift, auto, everyVisits/);
  });
});
