import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-wasm';
import { Conv2DBackpropFilter, getKernel } from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdapterArgumentError, FngdTrainer, registerWasmConvFilterGradient } from '../src/index.js';

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

/** Float64 filter gradient of Σ conv2d(x, w) ⊙ dy, NHWC, from its definition. */
function reference(x: Float64Array, xs: number[], dy: Float64Array, ys: number[], k: [number, number], stride: [number, number], pad: [number, number]): Float64Array {
  const [N, H, W, C] = xs as [number, number, number, number];
  const [, OH, OW, O] = ys as [number, number, number, number];
  const [KH, KW] = k;
  const out = new Float64Array(KH * KW * C * O);
  for (let kh = 0; kh < KH; kh++)
    for (let kw = 0; kw < KW; kw++)
      for (let c = 0; c < C; c++)
        for (let o = 0; o < O; o++) {
          let s = 0;
          for (let n = 0; n < N; n++)
            for (let y = 0; y < OH; y++)
              for (let z = 0; z < OW; z++) {
                const iy = y * stride[0] + kh - pad[0];
                const ix = z * stride[1] + kw - pad[1];
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                s += (x[((n * H + iy) * W + ix) * C + c] as number) * (dy[((n * OH + y) * OW + z) * O + o] as number);
              }
          out[((kh * KW + kw) * C + c) * O + o] = s;
        }
  return out;
}

function seeded(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

describe('Conv2DBackpropFilter on wasm', () => {
  it('is registered by the trainer on wasm, once (a second registration keeps the first)', async () => {
    const model = tfl.sequential({ layers: [tfl.layers.conv2d({ inputShape: [5, 5, 1], filters: 2, kernelSize: 3 }), tfl.layers.flatten(), tfl.layers.dense({ units: 2 })] });
    (await FngdTrainer.create(model, { loss: 'mse' })).dispose();
    const k = getKernel(Conv2DBackpropFilter, 'wasm');
    expect(k).toBeDefined();
    registerWasmConvFilterGradient();
    expect(getKernel(Conv2DBackpropFilter, 'wasm')).toBe(k);
    model.dispose();
  });

  it('equals the float64 definition over shapes, strides and paddings that are not tile multiples', () => {
    registerWasmConvFilterGradient();
    fc.assert(
      fc.property(
        fc.record({
          n: fc.integer({ min: 1, max: 3 }),
          h: fc.integer({ min: 3, max: 9 }),
          w: fc.integer({ min: 3, max: 9 }),
          c: fc.integer({ min: 1, max: 5 }),
          o: fc.integer({ min: 1, max: 6 }),
          kh: fc.integer({ min: 1, max: 3 }),
          kw: fc.integer({ min: 1, max: 3 }),
          sh: fc.integer({ min: 1, max: 3 }),
          sw: fc.integer({ min: 1, max: 3 }),
          same: fc.boolean(),
          seed: fc.integer({ min: 1, max: 1e6 }),
        }),
        (p) => {
          const before = tf.memory().numTensors;
          const backend = tf.backend() as unknown as { numDataIds(): number };
          const buffers = backend.numDataIds();
          const xs = [p.n, p.h, p.w, p.c];
          const xv = seeded(xs.reduce((a, b) => a * b), p.seed);
          const wv = seeded(p.kh * p.kw * p.c * p.o, p.seed + 7);
          const pad = p.same ? 'same' : 'valid';
          const x = tf.tensor4d(xv, xs as [number, number, number, number]);
          const w = tf.tensor4d(wv, [p.kh, p.kw, p.c, p.o]);
          const y = tf.conv2d(x, w, [p.sh, p.sw], pad);
          const dyv = seeded(y.size, p.seed + 13);
          const dy = tf.tensor(dyv, y.shape);
          const g = tf.grad((f: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, f as tf.Tensor4D, [p.sh, p.sw], pad), dy)))(w);
          // 'same' pads (k − 1) − ⌊…⌋ split with the extra row/column after, as tfjs computes it
          const padTop = p.same ? Math.floor(Math.max((y.shape[1] - 1) * p.sh + p.kh - p.h, 0) / 2) : 0;
          const padLeft = p.same ? Math.floor(Math.max((y.shape[2] - 1) * p.sw + p.kw - p.w, 0) / 2) : 0;
          const want = reference(Float64Array.from(xv), xs, Float64Array.from(dyv), y.shape, [p.kh, p.kw], [p.sh, p.sw], [padTop, padLeft]);
          const got = g.dataSync();
          expect(g.shape).toEqual([p.kh, p.kw, p.c, p.o]);
          const scale = Math.max(1, ...Array.from(want, Math.abs));
          for (let i = 0; i < want.length; i++) expect(Math.abs((got[i] as number) - (want[i] as number))).toBeLessThan(1e-5 * scale);
          tf.dispose([x, w, y, dy, g]);
          // the kernel frees its patch matrix and intermediate products (wasm buffers the engine does not count)
          expect(tf.memory().numTensors).toBe(before);
          expect(backend.numDataIds()).toBe(buffers);
        },
      ),
      { numRuns: 40, seed: 20261207 },
    );
  });

  it('refuses channels-first data, naming the layout to use', () => {
    registerWasmConvFilterGradient();
    const x = tf.zeros([1, 4, 4, 2]);
    const dy = tf.zeros([1, 4, 4, 3]);
    const buffers = (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
    const run = (): unknown => tf.engine().runKernel(Conv2DBackpropFilter, { x, dy }, { strides: 1, pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 2, 3] });
    expect(run).toThrow(AdapterArgumentError);
    expect(run).toThrow(/only NHWC \(channels-last\) data is supported; use dataFormat 'channelsLast'/);
    expect((tf.backend() as unknown as { numDataIds(): number }).numDataIds()).toBe(buffers);
    tf.dispose([x, dy]);
  });

  it('lets tfjs model.fit train a convolution on wasm, as on the cpu backend', async () => {
    registerWasmConvFilterGradient();
    const build = () =>
      tfl.sequential({
        layers: [
          tfl.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'tanh', kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) }),
          tfl.layers.flatten(),
          tfl.layers.dense({ units: 2, kernelInitializer: tfl.initializers.glorotUniform({ seed: 4 }) }),
        ],
      });
    const run = async () => {
      const model = build();
      model.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
      const x = tf.tensor4d(seeded(8 * 72, 5), [8, 6, 6, 2]);
      const y = tf.tensor2d(seeded(16, 6), [8, 2]);
      const h = await model.fit(x, y, { epochs: 3, batchSize: 4, shuffle: false, verbose: 0 });
      const w = Array.from(await model.getWeights()[0]!.data());
      tf.dispose([x, y]);
      model.dispose();
      return { loss: h.history['loss'] as number[], w };
    };
    const wasm = await run();
    await import('@tensorflow/tfjs-backend-cpu');
    await tf.setBackend('cpu');
    const cpu = await run();
    await tf.setBackend('wasm');
    expect(wasm.loss.at(-1)).toBeLessThan(wasm.loss[0]!);
    for (let i = 0; i < cpu.w.length; i++) expect(wasm.w[i]).toBeCloseTo(cpu.w[i]!, 4);
  });
});
