/**
 * Registered optimizers through `FngdTrainer` (`optimizer: { kind, … }`, `ifngd`'s contract; tfjs cpu): an AdamW
 * step equals the same rule driven on tfjs's own mean-loss gradient (`tf.variableGrads`), with a regularizer's
 * gradient added; SGD equals tfjs's `tf.train.momentum` in the same loop; Muon orthogonalizes the hidden kernel
 * and trains; checkpoints, a device move, option errors and tensor hygiene.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Tensor } from '@tensorflow/tfjs-core';
import { createDevice } from '@ifngd/linalg-gpu';
import { InvalidArgumentError, registerOptimizer, type OptimizerSpec, type StepCapture } from 'ifngd';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdapterCheckpointError, FngdTrainer, InvalidOptionError, softmaxCrossEntropy } from '../src/index.js';
import { classData, flatParams, mlp, relErr, useCpu, variablesOf } from './helpers.js';

beforeAll(useCpu);

const LOSS = 'softmax-cross-entropy' as const;

describe('registered optimizers in the tfjs trainer', () => {
  it('an adamw step is PyTorch AdamW on the mean-loss gradient (with an L2 regularizer’s gradient added)', async () => {
    const make = () => {
      const m = tfl.sequential();
      m.add(tfl.layers.dense({ inputShape: [6], units: 5, activation: 'tanh', kernelInitializer: tfl.initializers.glorotNormal({ seed: 3 }), kernelRegularizer: tfl.regularizers.l2({ l2: 0.01 }) }));
      m.add(tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.glorotNormal({ seed: 4 }) }));
      return m;
    };
    const a = make();
    const b = make();
    const [x, y] = classData(9, [6], 3, 5);
    const tr = await FngdTrainer.create(a, { loss: LOSS, optimizer: { kind: 'adamw', learningRate: 0.01 } });
    expect(tr.optimizer).toBeNull();
    expect(tr.kfacOptimizer).toBeNull();
    expect(tr.trainingOptimizer?.kind).toBe('adamw');
    const vars = variablesOf(b);
    const m = vars.map((v) => new Float64Array(v.size));
    const s = vars.map((v) => new Float64Array(v.size));
    for (let t = 1; t <= 3; t++) {
      await tr.trainBatch(x, y, { batchKey: 0 });
      const { grads } = tf.variableGrads(() => tf.add(tf.mean(softmaxCrossEntropy(b.apply(x) as Tensor, y)), tf.mul(0.01, tf.sum(tf.square(vars[0]!)))) as tf.Scalar, vars);
      vars.forEach((v, k) => {
        const g = grads[v.name]!.dataSync();
        const p = v.dataSync();
        const next = Float32Array.from(p, (pi, i) => {
          m[k]![i] = 0.9 * m[k]![i]! + 0.1 * g[i]!;
          s[k]![i] = 0.999 * s[k]![i]! + 0.001 * g[i]! * g[i]!;
          const u = m[k]![i]! / (1 - 0.9 ** t) / (Math.sqrt(s[k]![i]! / (1 - 0.999 ** t)) + 1e-8);
          return pi - 0.01 * (u + 0.01 * pi);
        });
        v.assign(tf.tensor(next, v.shape));
      });
      tf.dispose(Object.values(grads));
    }
    expect(relErr(flatParams(variablesOf(a)), flatParams(vars))).toBeLessThan(1e-5);
    expect(tr.trainingOptimizer?.stats).toEqual({ steps: 3, skippedSteps: 0 });
    tr.dispose();
    tf.dispose([x, y]);
  });

  it('sgd with momentum equals tfjs’s tf.train.momentum in the same loop', async () => {
    const a = mlp(6, 5, 3, 8);
    const b = mlp(6, 5, 3, 8);
    const [x, y] = classData(10, [6], 3, 2);
    const ours = await FngdTrainer.create(a, { loss: LOSS, optimizer: { kind: 'sgd', learningRate: 0.1, momentum: 0.9 } });
    const theirs = await FngdTrainer.create(b, { loss: LOSS, optimizer: tf.train.momentum(0.1, 0.9) });
    for (let s = 0; s < 4; s++) {
      await ours.trainBatch(x, y, { batchKey: 0 });
      await theirs.trainBatch(x, y, { batchKey: 0 });
    }
    expect(relErr(flatParams(variablesOf(a)), flatParams(variablesOf(b)))).toBeLessThan(1e-5);
    ours.dispose();
    theirs.dispose();
    tf.dispose([x, y]);
  });

  it.each<[string, OptimizerSpec]>([
    ['adam', { kind: 'adam', learningRate: 0.02 }],
    ['muon', { kind: 'muon', learningRate: 0.05, adam: { learningRate: 0.02 } }],
    ['shampoo', { kind: 'shampoo', learningRate: 0.02, blockSize: 4, preconditionFrequency: 5 }],
  ])('%s trains with fit: the loss falls; no tensor leaks across steps', async (_n, spec) => {
    const model = mlp(6, 8, 3, 11);
    const [x, y] = classData(48, [6], 3, 9);
    const tr = await FngdTrainer.create(model, { loss: LOSS, optimizer: spec });
    await tr.fit(x, y, { epochs: 1, batchSize: 12, seed: 1 });
    const before = tf.memory().numTensors;
    const h = await tr.fit(x, y, { epochs: 10, batchSize: 12, seed: 1 });
    expect(tf.memory().numTensors).toBe(before);
    const loss = h.history['loss'] as number[];
    expect(loss.at(-1)!).toBeLessThan(0.8 * loss[0]!);
    tr.dispose();
    tf.dispose([x, y]);
  });

  it('a checkpoint resumes bit-identically; another kind is refused and changes nothing', async () => {
    const spec: OptimizerSpec = { kind: 'muon', outputLayer: 'muon' };
    const a = mlp(6, 5, 3, 4);
    const [x, y] = classData(8, [6], 3, 4);
    const tr = await FngdTrainer.create(a, { loss: LOSS, optimizer: spec });
    await tr.trainBatch(x, y, { batchKey: 0 });
    const bytes = tr.serializeState();
    const p1 = variablesOf(a).map((v) => v.clone());
    await tr.trainBatch(x, y, { batchKey: 0 });
    await tr.trainBatch(x, y, { batchKey: 0 });
    const p3 = flatParams(variablesOf(a));
    variablesOf(a).forEach((v, i) => v.assign(p1[i]!));
    tr.restoreState(bytes);
    await tr.trainBatch(x, y, { batchKey: 0 });
    await tr.trainBatch(x, y, { batchKey: 0 });
    expect(flatParams(variablesOf(a))).toEqual(p3);
    const fngdTrainer = await FngdTrainer.create(mlp(6, 5, 3, 4), { loss: LOSS });
    const before = tr.serializeState();
    expect(() => tr.restoreState(fngdTrainer.serializeState())).toThrow(AdapterCheckpointError);
    expect(() => tr.restoreState(fngdTrainer.serializeState())).toThrow(/an FNGD checkpoint; the trainer trains with muon/);
    expect(tr.serializeState()).toEqual(before);
    tr.dispose();
    fngdTrainer.dispose();
    tf.dispose([x, y, ...p1]);
  });

  it('useDevice keeps the trajectory (adamw)', async () => {
    const a = mlp(6, 5, 3, 6);
    const b = mlp(6, 5, 3, 6);
    const [x, y] = classData(8, [6], 3, 6);
    const ta = await FngdTrainer.create(a, { loss: LOSS, optimizer: 'adamw' });
    const tb = await FngdTrainer.create(b, { loss: LOSS, optimizer: 'adamw' });
    for (const t of [ta, tb]) await t.trainBatch(x, y, { batchKey: 0 });
    const dev = await createDevice({ backend: 'cpu' });
    await ta.useDevice(dev);
    for (const t of [ta, tb]) await t.trainBatch(x, y, { batchKey: 0 });
    expect(flatParams(variablesOf(a))).toEqual(flatParams(variablesOf(b)));
    ta.dispose();
    tb.dispose();
    dev.destroy();
    tf.dispose([x, y]);
  });

  it("FNGD named as { kind: 'fngd' } is FNGD: skipping every layer is refused as with fngd: {}", async () => {
    for (const o of [{ fngd: {} }, { optimizer: { kind: 'fngd' } }]) {
      const model = mlp(6, 5, 3, 2);
      await expect(FngdTrainer.create(model, { loss: LOSS, skipLayers: model.layers.map((l) => l.name), ...o } as never)).rejects.toThrow(/FNGD: every trainable weight is skipped/);
    }
    // a first-order optimizer needs no preconditioned weight
    const model = mlp(6, 5, 3, 2);
    const tr = await FngdTrainer.create(model, { loss: LOSS, skipLayers: model.layers.map((l) => l.name), optimizer: 'adamw' });
    tr.dispose();
  });

  it("a kind on the backend's tensors that asks for the regularizers' gradients apart is refused at its step; nothing changes", async () => {
    registerOptimizer({
      kind: 'apart-probe',
      checkpointFormat: 'test-apart-probe',
      trees: 'any',
      create: () =>
        ({
          kind: 'apart-probe',
          inner: null,
          state: null,
          stats: {},
          init: async () => {},
          step: async (cap: StepCapture<unknown>) => {
            await cap.gradients({ weights: new Float32Array(cap.n).fill(1 / cap.n), plainWeight: 1 / cap.n, penalties: 'apart' });
            throw new Error('unreachable');
          },
          serialize: () => new Uint8Array(0),
          restore: () => {},
          dispose: () => {},
        }) as never,
    });
    const model = mlp(6, 5, 3, 3);
    const [x, y] = classData(6, [6], 3, 3);
    const tr = await FngdTrainer.create(model, { loss: LOSS, optimizer: { kind: 'apart-probe' } as unknown as OptimizerSpec });
    const before = flatParams(variablesOf(model));
    const tensors = tf.memory().numTensors;
    await expect(tr.trainBatch(x, y, { batchKey: 0 })).rejects.toThrow(/penalties: 'apart' needs host trees/);
    expect(flatParams(variablesOf(model))).toEqual(before);
    expect(tf.memory().numTensors).toBe(tensors);
    tr.dispose();
    tf.dispose([x, y]);
  });

  it('option errors name their key and change nothing', async () => {
    const model = mlp(6, 5, 3, 2);
    const before = flatParams(variablesOf(model));
    const key = async (o: object): Promise<string | undefined> => {
      try {
        await FngdTrainer.create(model, { loss: LOSS, ...o } as never);
      } catch (e) {
        expect(e).toBeInstanceOf(InvalidOptionError);
        return (e as InvalidOptionError).key;
      }
      return undefined;
    };
    expect(await key({ optimizer: { kind: 'lion' } })).toBe('optimizer');
    expect(await key({ optimizer: 'adamw', kfac: {} })).toBe('optimizer'); // at most one of fngd, kfac, optimizer
    expect(await key({ optimizer: 42 })).toBe('optimizer');
    expect(await key({ optimizer: { kind: 'adamw', learningrate: 0.1 } })).toBe('learningrate');
    expect(await key({ fngd: { kind: 'sgd' } })).toBe('fngd.kind');
    expect(await key({ kfac: { kind: 'adamw' } })).toBe('kfac.kind');
    await expect(FngdTrainer.create(model, { loss: LOSS, optimizer: { kind: 'sgd', momentum: 1.5 } })).rejects.toThrow(InvalidArgumentError);
    expect(flatParams(variablesOf(model))).toEqual(before);
  });
});
