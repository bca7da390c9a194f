/**
 * FNGD against Adam on the same model, the same initial weights and the same batches, one epoch each in turn,
 * both through `FngdTrainer` (Adam via its `optimizer` option), on the chosen tfjs backend, each epoch's `fit`
 * validating on the test digits (its `val_acc` is the lane's test accuracy) — and a third lane:
 * FNGD on ONNX Runtime Web (`@ifngd/adapters-onnx`' `OnnxTrainer`, wasm execution provider, single-threaded) on
 * the same MLP as an ONNX model (same initial weights, same partition into batches), whatever the tfjs backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as ort from 'onnxruntime-web';
import { FngdTrainer, type FitOptions } from '@ifngd/adapters-tfjs';
import { OnnxTrainer } from '@ifngd/adapters-onnx';
import { buildModel, type ModelSpec } from '@ifngd/adapters-onnx/internal';
import { createDevice } from '@ifngd/linalg-gpu';
import { permutation, planBatches, type BatchPlan } from 'ifngd';
import { mixSeed } from 'ifngd/internal';
import type { Digits } from './data.js';
import { OPTIMIZERS, type Optimizer, type Point } from './lanes.js';

/** Where src/serve.ts serves onnxruntime-web's wasm files (node_modules/onnxruntime-web/dist). */
export const ORT_WASM_PATH = '/ort-wasm/';

/** The 784-64-10 ReLU classifier, seeded: every call gives the same initial weights. */
function mlp(): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 64, inputShape: [784], activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }),
      tfl.layers.dense({ units: 10, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
}

/** Progress callbacks of {@link race}. */
export interface RaceCallbacks {
  /** After each optimizer's epoch (test accuracy measured). */
  readonly onPoint: (p: Point) => void;
  /** After each step: `at` is in epochs (0 → `epochs`), `loss` the batch's mean loss before the step. */
  readonly onBatch?: (optimizer: Optimizer, at: number, loss: number) => void;
  /** Once the trainers and ONNX Runtime Web are set up, before the first step. */
  readonly onReady?: () => void;
  /**
   * More callbacks for the FNGD lane's `fit`, as tfjs takes them (e.g. tfjs-vis's `fitCallbacks`), given to each
   * epoch's `fit` as they are. Its logs carry `loss` per batch and `loss`, `val_loss`, `val_acc` per epoch.
   */
  readonly fngd?: NonNullable<FitOptions['callbacks']>;
}

/**
 * The {@link mlp} as an ONNX model with the same initial weights: x `[N,784]` → Gemm → Relu → Gemm → logits
 * (tfjs kernels are `[in, out]`, so the Gemms have no `transB`).
 */
export async function mlpOnnx(model: tfl.LayersModel): Promise<Uint8Array> {
  const [w0, b0, w1, b1] = await Promise.all(model.getWeights().map((w) => w.data() as Promise<Float32Array>));
  const spec: ModelSpec = {
    inputs: [{ name: 'x', shape: ['N', 784] }],
    outputs: ['logits'],
    nodes: [
      { op: 'Gemm', inputs: ['x', 'W0', 'b0'], outputs: ['z0'] },
      { op: 'Relu', inputs: ['z0'], outputs: ['a0'] },
      { op: 'Gemm', inputs: ['a0', 'W1', 'b1'], outputs: ['logits'] },
    ],
    initializers: [
      { name: 'W0', dims: [784, 64], data: w0! },
      { name: 'b0', dims: [64], data: b0! },
      { name: 'W1', dims: [64, 10], data: w1! },
      { name: 'b1', dims: [10], data: b1! },
    ],
  };
  return buildModel(spec);
}

/** onnxruntime-web: wasm binaries from {@link ORT_WASM_PATH}, one thread (the page sets no COOP/COEP headers). */
function ortRuntime(): typeof ort {
  ort.env.wasm.wasmPaths = ORT_WASM_PATH;
  ort.env.wasm.numThreads = 1;
  return ort;
}

/** The seed of the batch plan and of each epoch's order, shared by the three lanes. */
const SEED = 7;

/**
 * The repository's one batch contract (the one `FngdTrainer.fit` follows with `sampleIds: 'index'`): samples
 * 0…n−1 partitioned by `planBatches`, each epoch's order `permutation(B, mixSeed(seed, epoch))`.
 */
function batchContract(n: number, batchSize: number): { plan: BatchPlan; order: (epoch: number) => number[] } {
  const { plan } = planBatches(Array.from({ length: n }, (_, i) => i), { batchSize, seed: SEED });
  return { plan, order: (epoch) => permutation(plan.batches.length, mixSeed(SEED, epoch)) };
}

/** The ONNX lane: `OnnxTrainer` on onnxruntime-web (wasm EP), FNGD defaults, the CPU linear-algebra device. */
class OnnxLane {
  private constructor(
    private readonly trainer: OnnxTrainer,
    private readonly device: Awaited<ReturnType<typeof createDevice>>,
    private readonly data: { xTrain: Float32Array; yTrain: Float32Array; xTest: Float32Array; yTest: Float32Array; nTrain: number; nTest: number },
  ) {}

  static async create(data: Digits): Promise<OnnxLane> {
    const rt = ortRuntime();
    const model = mlp();
    const bytes = await mlpOnnx(model).finally(() => model.dispose());
    const device = await createDevice({ backend: 'cpu' });
    try {
      const trainer = await OnnxTrainer.create(bytes, {
        loss: 'softmax-cross-entropy',
        ort: rt,
        device,
        sessionOptions: { executionProviders: ['wasm'] },
      });
      // tfjs may hand back another typed array (e.g. the one-hot labels on cpu); onnxruntime-web wants Float32Array
      const f32 = async (t: tf.Tensor) => Float32Array.from(await t.data());
      const [xTrain, yTrain, xTest, yTest] = await Promise.all([f32(data.xTrain), f32(data.yTrain), f32(data.xTest), f32(data.yTest)]);
      return new OnnxLane(trainer, device, { xTrain: xTrain!, yTrain: yTrain!, xTest: xTest!, yTest: yTest!, nTrain: data.xTrain.shape[0], nTest: data.xTest.shape[0] });
    } catch (err) {
      device.destroy();
      throw err;
    }
  }

  /** One epoch over the planned batches in the contract's order for `epoch`; the mean training loss and seconds. */
  async epoch(epoch: number, batches: ReturnType<typeof batchContract>, onBatch: (b: number, loss: number) => void): Promise<{ loss: number; seconds: number }> {
    const { xTrain, yTrain, nTrain } = this.data;
    const t0 = performance.now();
    let sum = 0;
    for (const [b, index] of batches.order(epoch).entries()) {
      const { ids, key } = batches.plan.batches[index]!;
      const n = ids.length;
      const xb = new Float32Array(n * 784);
      const yb = new Float32Array(n * 10);
      ids.forEach((id, i) => {
        const r = id as number;
        xb.set(xTrain.subarray(r * 784, (r + 1) * 784), i * 784);
        yb.set(yTrain.subarray(r * 10, (r + 1) * 10), i * 10);
      });
      const loss = await this.trainer.step({ x: new ort.Tensor('float32', xb, [n, 784]) }, new ort.Tensor('float32', yb, [n, 10]), { batchKey: key, epoch });
      sum += loss * n;
      onBatch(b, loss);
    }
    return { loss: sum / nTrain, seconds: (performance.now() - t0) / 1000 };
  }

  /** Test accuracy (argmax of the logits against the one-hot labels). */
  async accuracy(): Promise<number> {
    const { xTest, yTest, nTest } = this.data;
    const out = await this.trainer.predict({ x: new ort.Tensor('float32', xTest, [nTest, 784]) });
    const logits = out.logits!.data as Float32Array;
    const argmax = (v: Float32Array, i: number) => {
      let best = 0;
      for (let c = 1; c < 10; c++) if (v[i * 10 + c]! > v[i * 10 + best]!) best = c;
      return best;
    };
    let correct = 0;
    for (let i = 0; i < nTest; i++) if (argmax(logits, i) === argmax(yTest, i)) correct++;
    return correct / nTest;
  }

  dispose(): void {
    this.trainer.dispose();
    this.device.destroy();
  }
}

/** Trains the three lanes for `epochs` epochs, one epoch each in turn. */
export async function race(data: Digits, epochs: number, batchSize: number, cb: RaceCallbacks): Promise<Point[]> {
  const loss = 'softmax-cross-entropy';
  const trainers: Record<'fngd' | 'adam', FngdTrainer> = {
    fngd: await FngdTrainer.create(mlp(), { loss }),
    adam: await FngdTrainer.create(mlp(), { loss, optimizer: tf.train.adam() }),
  };
  let onnx: OnnxLane | null = null;
  const seconds: Record<Optimizer, number> = { fngd: 0, adam: 0, onnx: 0 };
  const points: Point[] = [];
  try {
    onnx = await OnnxLane.create(data);
    cb.onReady?.();
    const contract = batchContract(data.xTrain.shape[0], batchSize);
    const batches = contract.plan.batches.length;
    for (let epoch = 1; epoch <= epochs; epoch++) {
      for (const optimizer of OPTIMIZERS) {
        let log: { trainLoss: number; seconds: number; testAccuracy: number };
        if (optimizer === 'onnx') {
          const r = await onnx.epoch(epoch - 1, contract, (b, l) => cb.onBatch?.(optimizer, epoch - 1 + (b + 1) / batches, l));
          log = { trainLoss: r.loss, seconds: r.seconds, testAccuracy: await onnx.accuracy() };
        } else {
          const onBatchEnd = (b: number, l: { loss: number; batches: number }) => cb.onBatch?.(optimizer, epoch - 1 + (b + 1) / l.batches, l.loss);
          const extra = optimizer === 'fngd' && cb.fngd ? [cb.fngd].flat() : [];
          // validation on the test digits inside fit: its val_acc is the lane's test accuracy
          const fit = await trainers[optimizer].fit(data.xTrain, data.yTrain, {
            epochs: 1,
            batchSize,
            seed: SEED,
            sampleIds: 'index',
            validationData: [data.xTest, data.yTest],
            callbacks: [{ onBatchEnd }, ...extra],
          });
          const l = fit.logs[0]!;
          log = { trainLoss: l.trainLoss, seconds: l.seconds, testAccuracy: l.valAccuracy ?? NaN };
        }
        seconds[optimizer] += log.seconds;
        const p: Point = { optimizer, epoch, trainLoss: log.trainLoss, testAccuracy: log.testAccuracy, seconds: seconds[optimizer] };
        points.push(p);
        cb.onPoint(p);
      }
    }
  } finally {
    trainers.fngd.dispose();
    trainers.adam.dispose();
    onnx?.dispose();
  }
  return points;
}
