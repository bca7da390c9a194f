import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDevice, type LinalgDevice, type Matrix } from '@ifngd/linalg-gpu';
import { layerGram } from '@ifngd/fisher';
import { fromLayersModel, identityTap, softmaxCrossEntropy } from '../src/index.js';
import { capture, PatchFilters, perSampleJacobian, uploadFactors } from '../src/internal.js';
import { bruteJacobian, classData, cnn, gram, mlp, useCpu, variablesOf } from './helpers.js';

let dev: LinalgDevice;
beforeAll(async () => {
  await useCpu();
  dev = await createDevice({ backend: 'cpu' });
});

async function factorGrams(model: ReturnType<typeof mlp>, x: tf.Tensor, y: tf.Tensor): Promise<number[][][]> {
  const fm = fromLayersModel(model);
  const cap = capture(fm, softmaxCrossEntropy, x, y);
  const made: Matrix[] = [];
  const filters = new PatchFilters();
  try {
    const factors = await uploadFactors(dev, cap, filters, () => perSampleJacobian(fm, softmaxCrossEntropy, x, y, cap.uncovered), made);
    const out: number[][][] = [];
    for (const f of factors) {
      const g = layerGram(dev, f);
      const h = await dev.read(g);
      g.dispose();
      const n = x.shape[0] as number;
      out.push(Array.from({ length: n }, (_, i) => Array.from(h.subarray(i * n, (i + 1) * n))));
    }
    return out;
  } finally {
    for (const m of made) m.dispose();
    cap.dispose();
    filters.dispose();
  }
}

function expectClose(got: number[][], want: number[][], tol = 2e-4): void {
  const scale = Math.max(...want.flat().map(Math.abs), 1e-12);
  got.forEach((row, i) => row.forEach((v, j) => expect(Math.abs(v - (want[i]![j] as number)) / scale).toBeLessThan(tol)));
}

describe('factor capture', () => {
  it('dense factors give the per-sample Gram of a brute-force tf.grad loop, layer by layer', async () => {
    const model = mlp(6, 5, 3);
    const [x, y] = classData(9, [6], 3);
    const j = bruteJacobian(model, softmaxCrossEntropy, x, y);
    const grams = await factorGrams(model, x, y);
    const sizes = variablesOf(model).map((v) => v.size);
    expect(grams).toHaveLength(2);
    const cut = (sizes[0] as number) + (sizes[1] as number);
    expectClose(grams[0] as number[][], gram(j, 0, cut));
    expectClose(grams[1] as number[][], gram(j, cut));
    x.dispose();
    y.dispose();
  });

  it('conv factors (unfolded patches, with and without bias, same/valid padding) match the brute-force Gram', async () => {
    const model = cnn();
    const [x, y] = classData(5, [6, 6, 2], 3, 11);
    const j = bruteJacobian(model, softmaxCrossEntropy, x, y);
    const grams = await factorGrams(model, x, y);
    const sizes = variablesOf(model).map((v) => v.size); // conv1 k,b | conv2 k | dense k,b
    const c1 = (sizes[0] as number) + (sizes[1] as number);
    const c2 = c1 + (sizes[2] as number);
    expect(grams).toHaveLength(3);
    expectClose(grams[0] as number[][], gram(j, 0, c1));
    expectClose(grams[1] as number[][], gram(j, c1, c2));
    expectClose(grams[2] as number[][], gram(j, c2));
    x.dispose();
    y.dispose();
  });

  it('folds a final softmax into the cross-entropy (logits) and keeps the Gram exact', async () => {
    const tfl = await import('@tensorflow/tfjs-layers');
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 4, inputShape: [3], activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) }), tfl.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 4 }) })] });
    const fm = fromLayersModel(model, 'softmax');
    expect(fm.folded).toBe('softmax');
    const [x, y] = classData(4, [3], 2);
    const logits = fm.forward(x, identityTap, false);
    const probs = model.predict(x) as tf.Tensor;
    const diff = tf.max(tf.abs(tf.sub(tf.softmax(logits), probs))).dataSync()[0] as number;
    expect(diff).toBeLessThan(1e-6);
    tf.dispose([x, y, logits, probs]);
  });
});
