import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdapterArgumentError, AdapterCheckpointError, FngdTrainer, type TrainerFngdOptions } from '../src/index.js';
import { sampleIdsOf } from '../src/sample-ids.js';
import { classData, mlp, useCpu } from './helpers.js';

beforeAll(useCpu);

/** `x`, `y` with rows `rows` replaced by other samples (new content). */
function replaceRows(x: tf.Tensor, y: tf.Tensor, rows: number[]): [tf.Tensor, tf.Tensor] {
  const xv = x.arraySync() as number[][];
  const yv = y.arraySync() as number[][];
  for (const r of rows) {
    xv[r] = (xv[r] as number[]).map((v) => v + 0.5);
  }
  return [tf.tensor2d(xv), tf.tensor2d(yv)];
}

const firstEpoch: TrainerFngdOptions = { learningRate: 0.05, damping: 1, momentum: 0.9, refresh: 'first-epoch' };

describe('data that changes between runs: batch keys follow sample identity', () => {
  it('repeated fits on freshly jittered copies (content ids): the cache and the checkpoint stay at one plan', async () => {
    const [x, y] = classData(32, [6], 3, 12);
    const model = mlp(6, 8, 3, 6);
    const tr = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy', fngd: firstEpoch });
    const sizes: number[] = [];
    for (let k = 0; k < 6; k++) {
      const xj = tf.tidy(() => tf.add(x, tf.randomNormal(x.shape, 0, 0.01, 'float32', k)));
      await tr.fit(xj, y, { epochs: 1, batchSize: 8, seed: 1 });
      xj.dispose();
      expect(tr.stats?.cachedBatches).toBe(4);
      sizes.push(tr.serializeState().length);
    }
    expect(tr.stats?.evictedBatches).toBe(20);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThan(64);
    tr.dispose();
    tf.dispose([x, y]);
  });

  it('resuming after 10 % appended and 3 samples replaced: unchanged batches hit the cache, changed and new ones are computed', async () => {
    const [x, y] = classData(200, [6], 3, 11);
    const model = mlp(6, 8, 3, 5);
    const a = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy', fngd: firstEpoch });
    await a.fit(x, y, { epochs: 2, batchSize: 20, seed: 4 });
    expect(a.stats?.factorizations).toBe(10);
    const bytes = a.serializeState();
    const plan = a.batchPlan!;
    expect(plan.batches.length).toBe(10);
    a.dispose();

    // the next run: 3 samples replaced (content changed), 20 appended
    const [extraX, extraY] = classData(20, [6], 3, 99);
    const rows = [3, 77, 150];
    const [xr, yr] = replaceRows(x, y, rows);
    const x2 = tf.concat([xr, extraX]);
    const y2 = tf.concat([yr, extraY]);
    const b = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy', fngd: firstEpoch });
    b.restoreState(bytes, 2, plan);
    const before = b.stats!;
    await b.fit(x2, y2, { epochs: 1, batchSize: 20, seed: 4 });
    const change = b.lastPlanChange!;
    // the batches that held a replaced sample (content ids: replaced = removed + new) are dropped
    const ids = await sampleIdsOf(x, y, 'content');
    const touched = new Set(rows.map((r) => plan.batches.findIndex((bt) => bt.ids.includes(ids[r]!))));
    expect(touched.size).toBeGreaterThanOrEqual(1);
    expect(change.kept).toBe(10 - touched.size);
    expect(change.dropped).toBe(touched.size);
    const after = b.stats!;
    expect(after.cacheHits - before.cacheHits).toBe(change.kept);
    expect(after.cacheMisses - before.cacheMisses).toBe(change.added);
    expect(after.factorizations - before.factorizations).toBe(change.added);
    // every kept batch still has its old key
    const keys = new Set(b.batchPlan!.batches.map((bt) => bt.key));
    expect(plan.batches.filter((bt) => keys.has(bt.key)).length).toBe(change.kept);
    b.dispose();
    model.dispose();
    tf.dispose([x, y, extraX, extraY, xr, yr, x2, y2]);
  });

  it('the plan travels with model.save; a restored trainer on grown data keeps every old batch', async () => {
    const [x, y] = classData(90, [6], 3, 2);
    const model = mlp(6, 8, 3, 6);
    const t = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy', fngd: firstEpoch });
    await t.fit(x, y, { epochs: 1, batchSize: 16, seed: 1 });
    let saved: tf.io.ModelArtifacts | null = null;
    await t.save(tf.io.withSaveHandler(async (art) => {
      saved = art;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    const plan = t.batchPlan!;
    t.dispose();
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(saved as unknown as tf.io.ModelArtifacts));
    const r = await FngdTrainer.create(loaded, { loss: 'softmax-cross-entropy', fngd: firstEpoch });
    r.restore();
    expect(r.batchPlan).toEqual(plan);
    const [ex, ey] = classData(9, [6], 3, 3);
    const x2 = tf.concat([x, ex]);
    const y2 = tf.concat([y, ey]);
    await r.fit(x2, y2, { epochs: 1, batchSize: 16, seed: 1 });
    expect(r.lastPlanChange).toEqual({ kept: plan.batches.length, dropped: 0, added: 1 });
    expect(r.stats!.cacheHits).toBe(plan.batches.length);
    r.dispose();
    loaded.dispose();
    model.dispose();
    tf.dispose([x, y, ex, ey, x2, y2]);
  });

  it("with caller ids, a batch whose content shifted under the same ids keeps its key, and `auto` marks it stale by its loss", async () => {
    // learnable labels (a fixed linear rule), so that the trained loss is low and a shift shows
    const x = tf.randomNormal([60, 6], 0, 1, 'float32', 8);
    const y = tf.tidy(() => tf.cast(tf.oneHot(tf.argMax(tf.matMul(x, tf.randomNormal([6, 3], 0, 1, 'float32', 9)), 1), 3), 'float32'));
    const ids = Array.from({ length: 60 }, (_, i) => `sample-${i}`);
    const model = mlp(6, 8, 3, 9);
    // a refresh priced out of reach: only the shift test can trigger one
    const t = await FngdTrainer.create(model, {
      loss: 'softmax-cross-entropy',
      fngd: { learningRate: 0.3, damping: 1, momentum: 0, refresh: { auto: { price: 1e6, warmup: 1 } } },
    });
    await t.fit(x, y, { epochs: 8, batchSize: 20, seed: 5, sampleIds: ids });
    const plan = t.batchPlan!;
    const marks = t.stats!.drift.staleMarks.loss;
    // labels of one batch's samples rotated: same ids, new content, a much larger loss
    const shifted = plan.batches[1]!.ids.map((id) => Number(String(id).slice(7)));
    const yv = y.arraySync() as number[][];
    for (const r of shifted) yv[r] = [...(yv[r] as number[]).slice(1), (yv[r] as number[])[0] as number];
    const y2 = tf.tensor2d(yv);
    await t.fit(x, y2, { epochs: 1, batchSize: 20, seed: 5, sampleIds: ids });
    expect(t.lastPlanChange).toEqual({ kept: 3, dropped: 0, added: 0 });
    expect(t.stats!.drift.staleMarks.loss).toBe(marks + 1);
    expect(t.optimizer!.cached(plan.batches[1]!.key)!.stale).toBe(true);
    const f = t.stats!.factorizations;
    await t.fit(x, y2, { epochs: 1, batchSize: 20, seed: 5, sampleIds: ids });
    expect(t.stats!.factorizations).toBe(f + 1); // exactly the shifted batch is recomputed
    t.dispose();
    model.dispose();
    tf.dispose([x, y, y2]);
  });

  it("'index' ids: append-only data keeps keys; bad ids are typed errors and train nothing", async () => {
    const [x, y] = classData(40, [6], 3, 1);
    const model = mlp(6, 8, 3, 2);
    const t = await FngdTrainer.create(model, { loss: 'softmax-cross-entropy', fngd: firstEpoch });
    await expect(t.fit(x, y, { epochs: 1, batchSize: 10, sampleIds: [1, 2, 3] })).rejects.toThrow(AdapterArgumentError);
    await expect(t.fit(x, y, { epochs: 1, batchSize: 10, sampleIds: Array.from({ length: 40 }, () => 7) })).rejects.toThrow(/appears twice/);
    await expect(t.fit(x, y, { epochs: 1, batchSize: 10, sampleIds: 'rows' as never })).rejects.toThrow(AdapterArgumentError);
    await expect(t.fit(x, y, { epochs: 1, batchSize: 10, seed: 0.5 })).rejects.toThrow(/seed/);
    expect(t.stats!.steps).toBe(0);
    expect(t.batchPlan).toBeNull();
    await t.fit(x, y, { epochs: 1, batchSize: 10, sampleIds: 'index' });
    const [ex, ey] = classData(5, [6], 3, 4);
    const x2 = tf.concat([x, ex]);
    const y2 = tf.concat([y, ey]);
    await t.fit(x2, y2, { epochs: 1, batchSize: 10, sampleIds: 'index' });
    expect(t.lastPlanChange).toEqual({ kept: 4, dropped: 0, added: 1 });
    const plan = t.batchPlan;
    const stats = t.stats;
    const epoch = t.epoch;
    const tensors = tf.memory().numTensors;
    expect(() => t.restoreState(t.serializeState(), 1, { version: 1, batchSize: 10, seed: 0, batches: [{ key: 'x', ids: [1] }] })).toThrow(AdapterCheckpointError);
    expect(t.batchPlan).toBe(plan); // the refused restore changed nothing
    expect(t.stats).toEqual(stats);
    expect(t.epoch).toBe(epoch);
    expect(tf.memory().numTensors).toBe(tensors);
    t.dispose();
    model.dispose();
    tf.dispose([x, y, ex, ey, x2, y2]);
  });
});


describe("fit with shuffle: 'samples' (tfjs's shuffle)", () => {
  it('re-partitions every epoch: every batch is new (fresh coefficients), the cache keeps the last epoch', async () => {
    const [x, y] = classData(24, [6], 3, 13);
    const tr = await FngdTrainer.create(mlp(6, 5, 3, 14), { loss: 'softmax-cross-entropy', fngd: firstEpoch });
    const h = await tr.fit(x, y, { epochs: 3, batchSize: 8, seed: 2, shuffle: 'samples' });
    expect(h.logs.map((l) => l.freshBatches)).toEqual([3, 3, 3]);
    expect(tr.stats?.cachedBatches).toBe(3);
    expect(tr.stats?.evictedBatches).toBe(6);
    const keys = tr.batchPlan!.batches.map((b) => b.key);
    await tr.fit(x, y, { epochs: 1, batchSize: 8, seed: 2 }); // back to a fixed partition: a new one
    expect(tr.batchPlan!.batches.map((b) => b.key)).not.toEqual(keys);
    await expect(tr.fit(x, y, { epochs: 1, shuffle: 'rows' as never })).rejects.toThrow(/'samples'/);
    tr.dispose();
    tf.dispose([x, y]);
  });
});
