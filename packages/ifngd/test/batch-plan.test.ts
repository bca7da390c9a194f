import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchKeyOf, checkPlan, InvalidArgumentError, planBatches, type SampleId } from '../src/index.js';

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

describe('batch plan: keys follow sample identity', () => {
  it('a first plan is a seeded permutation cut into batches; every sample once; keys do not depend on the sample count', () => {
    const ids = range(0, 1003);
    const { plan, change } = planBatches(ids, { batchSize: 128, seed: 7 });
    expect(plan.batches.length).toBe(8);
    expect(plan.batches.map((b) => b.ids.length)).toEqual([128, 128, 128, 128, 128, 128, 128, 107]);
    expect(new Set(plan.batches.flatMap((b) => b.ids)).size).toBe(1003);
    expect(change).toEqual({ kept: 0, dropped: 0, added: 8 });
    for (const b of plan.batches) expect(b.key).toBe(batchKeyOf(b.ids));
    expect(planBatches(ids, { batchSize: 128, seed: 7 }).plan).toEqual(plan); // deterministic
    expect(planBatches(ids, { batchSize: 128, seed: 8 }).plan.batches[0]!.key).not.toBe(plan.batches[0]!.key);
  });

  it('10 % appended: every old batch keeps its key; only the new samples form new batches', () => {
    const { plan } = planBatches(range(0, 1000), { batchSize: 100, seed: 1 });
    const next = planBatches(range(0, 1100), { batchSize: 100, seed: 1, previous: plan });
    expect(next.change).toEqual({ kept: 10, dropped: 0, added: 1 });
    expect(next.plan.batches.slice(0, 10)).toEqual(plan.batches);
    expect([...next.plan.batches[10]!.ids].sort((a, b) => Number(a) - Number(b))).toEqual(range(1000, 1100));
  });

  it('samples replaced: only the batches that held them change; their survivors and the new samples regroup', () => {
    const { plan } = planBatches(range(0, 1000), { batchSize: 100, seed: 1 });
    const victims = [plan.batches[2]!.ids[5]!, plan.batches[7]!.ids[0]!];
    const ids = range(0, 1000).filter((i) => !victims.includes(i)).concat([5000, 5001]);
    const next = planBatches(ids, { batchSize: 100, seed: 1, previous: plan });
    expect(next.change).toEqual({ kept: 8, dropped: 2, added: 2 });
    const keys = new Set(next.plan.batches.map((b) => b.key));
    plan.batches.forEach((b, i) => expect(keys.has(b.key)).toBe(i !== 2 && i !== 7));
    expect(new Set(next.plan.batches.flatMap((b) => b.ids))).toEqual(new Set(ids));
  });

  it('another batch size or seed replans from scratch', () => {
    const { plan } = planBatches(range(0, 300), { batchSize: 100, seed: 1 });
    expect(planBatches(range(0, 300), { batchSize: 50, seed: 1, previous: plan }).change).toEqual({ kept: 0, dropped: 3, added: 6 });
    expect(planBatches(range(0, 300), { batchSize: 100, seed: 2, previous: plan }).change.kept).toBe(0);
  });

  it('property: any change keeps exactly the untouched batches and covers every sample once', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 64 }), fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 40 }), fc.integer({ min: 0, max: 60 }), (n, bs, removed, added) => {
        const { plan } = planBatches(range(0, n), { batchSize: bs, seed: 3 });
        const gone = new Set(removed);
        const ids: SampleId[] = [...range(0, n).filter((i) => !gone.has(i)), ...range(0, added).map((i) => `new-${i}`)];
        const next = planBatches(ids, { batchSize: bs, seed: 3, previous: plan });
        const untouched = plan.batches.filter((b) => b.ids.every((i) => !gone.has(i as number)));
        const keys = new Set(next.plan.batches.map((b) => b.key));
        const all = next.plan.batches.flatMap((b) => b.ids);
        return (
          next.change.kept === untouched.length &&
          untouched.every((b) => keys.has(b.key)) &&
          all.length === ids.length &&
          new Set(all).size === ids.length &&
          next.plan.batches.every((b) => b.ids.length >= 1 && b.ids.length <= bs)
        );
      }),
    );
  });

  it('1 and "1" are different samples; member order is part of the key', () => {
    expect(batchKeyOf([1, 2])).not.toBe(batchKeyOf(['1', 2]));
    expect(batchKeyOf([1, 2])).not.toBe(batchKeyOf([2, 1]));
  });

  it('keys are injective over id lists: ids containing the old separator cannot forge another list', () => {
    expect(batchKeyOf(['x', 'a\u0000sb'])).not.toBe(batchKeyOf(['x\u0000sa', 'b']));
    expect(batchKeyOf(['ab', 'c'])).not.toBe(batchKeyOf(['a', 'bc']));
    fc.assert(
      fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 4 }), fc.array(fc.string(), { minLength: 1, maxLength: 4 }), (a, b) => {
        fc.pre(JSON.stringify(a) !== JSON.stringify(b));
        expect(batchKeyOf(a)).not.toBe(batchKeyOf(b));
      }),
    );
  });

  it('version 1 plans (the earlier key) are still read, and re-planned when given as previous', () => {
    const legacy = {
      version: 1,
      batchSize: 2,
      seed: 0,
      batches: [
        { key: '', ids: [0, 1] },
        { key: '', ids: [2] },
      ],
    };
    // keyed as a version 1 plan was: ids joined by NUL, hashed (FNV-1a, two lanes)
    const hash = (text: string): string => {
      let a = 0x811c9dc5;
      let b = 0x01000193 ^ 0x9e3779b9;
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        a = Math.imul(a ^ c, 0x01000193) >>> 0;
        b = Math.imul(b ^ c, 0x0100019b) >>> 0;
      }
      return a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0');
    };
    for (const b of legacy.batches) b.key = `b${b.ids.length}:${hash(b.ids.map((id) => `n${id}`).join('\u0000'))}`;
    expect(checkPlan(legacy)).toEqual(legacy);
    expect(() => checkPlan({ ...legacy, version: 2 })).toThrow(/does not match its key/);
    const { plan, change } = planBatches([0, 1, 2], { batchSize: 2, seed: 0, previous: legacy as never });
    expect(plan.version).toBe(2);
    expect(change).toEqual({ kept: 0, dropped: 2, added: 2 });
    for (const b of plan.batches) expect(b.key).toBe(batchKeyOf(b.ids));
  });

  it('bad input: typed errors naming the value', () => {
    expect(() => planBatches([1, 2, 1], { batchSize: 2, seed: 0 })).toThrow(/appears twice/);
    expect(() => planBatches([1, NaN], { batchSize: 2, seed: 0 })).toThrow(InvalidArgumentError);
    expect(() => planBatches([1, {} as never], { batchSize: 2, seed: 0 })).toThrow(InvalidArgumentError);
    expect(() => planBatches([1], { batchSize: 0, seed: 0 })).toThrow(/batchSize/);
    expect(() => planBatches([1], { batchSize: 1, seed: 0.5 })).toThrow(/seed/);
    expect(() => planBatches('abc' as never, { batchSize: 1, seed: 0 })).toThrow(InvalidArgumentError);
  });

  it('checkPlan accepts a JSON round trip and refuses tampered plans', () => {
    const { plan } = planBatches(range(0, 10), { batchSize: 4, seed: 0 });
    expect(checkPlan(JSON.parse(JSON.stringify(plan)))).toEqual(plan);
    const t = JSON.parse(JSON.stringify(plan));
    t.batches[0].ids[0] = 99;
    expect(() => checkPlan(t)).toThrow(/does not match its key/);
    expect(() => checkPlan({ version: 3 })).toThrow(InvalidArgumentError);
    // a batch size that planBatches itself refuses, and a batch larger than the plan's batch size
    for (const bad of [0, -4]) expect(() => checkPlan({ ...JSON.parse(JSON.stringify(plan)), batchSize: bad })).toThrow(/batchSize must be an integer ≥ 1/);
    expect(() => checkPlan({ ...JSON.parse(JSON.stringify(plan)), batchSize: 2 })).toThrow(/larger than batchSize/);
  });
});
