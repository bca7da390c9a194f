/** The demo's input checks: `--port` and a truncated or mislabelled digits blob are refused, naming the value. */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { parseDigits } from '../page/data.js';
import { digitsBlob, SIZES } from '../src/digits.js';
import { parsePort } from '../src/serve.js';

describe('parsePort', () => {
  it('defaults to 5178 and accepts 0..65535', () => {
    expect(parsePort([])).toBe(5178);
    expect(parsePort(['--port', '0'])).toBe(0);
    expect(parsePort(['--port', '65535'])).toBe(65535);
  });

  it.each([['abc'], ['-1'], ['65536'], ['1.5'], [''], [undefined]])('refuses --port %s', (raw) => {
    const argv = raw === undefined ? ['--port'] : ['--port', raw];
    expect(() => parsePort(argv)).toThrow(`--port must be an integer in 0..65535, got '${raw ?? ''}'`);
  });
});

describe('digits blob', () => {
  it('round-trips: header counts, images in [0,1], one-hot labels', async () => {
    await tf.setBackend('cpu');
    const d = parseDigits(digitsBlob());
    expect(d.xTrain.shape).toEqual([SIZES.train, 784]);
    expect(d.yTest.shape).toEqual([SIZES.test, 10]);
    expect(tf.max(d.xTrain).dataSync()[0]).toBeLessThanOrEqual(1);
    expect(Array.from(tf.sum(d.yTrain, 1).dataSync()).every((v) => v === 1)).toBe(true);
    tf.dispose([d.xTrain, d.yTrain, d.xTest, d.yTest]);
  });

  it('refuses a truncated blob, naming both sizes', () => {
    const blob = digitsBlob();
    expect(() => parseDigits(blob.subarray(0, 4))).toThrow('mnist.bin: 4 bytes, not even a header');
    expect(() => parseDigits(blob.subarray(0, 1000))).toThrow(`mnist.bin: 1000 bytes, the header promises ${blob.length}`);
  });
});
