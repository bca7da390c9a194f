/** Fetches `/mnist.bin` (see src/digits.ts for the layout) into tfjs tensors: images in [0,1], one-hot labels. */
import * as tf from '@tensorflow/tfjs-core';

/** Training and test digits on the active backend. */
export interface Digits {
  readonly xTrain: tf.Tensor2D;
  readonly yTrain: tf.Tensor2D;
  readonly xTest: tf.Tensor2D;
  readonly yTest: tf.Tensor2D;
}

/** Parses the blob; throws naming what is wrong when it is truncated. */
export function parseDigits(bytes: Uint8Array): Digits {
  if (bytes.length < 8) throw new Error(`mnist.bin: ${bytes.length} bytes, not even a header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nTrain = view.getUint32(0, true);
  const nTest = view.getUint32(4, true);
  const want = 8 + (nTrain + nTest) * 785;
  if (bytes.length !== want) throw new Error(`mnist.bin: ${bytes.length} bytes, the header promises ${want}`);
  const images = (start: number, n: number) => tf.tensor2d(Float32Array.from(bytes.subarray(start, start + n * 784), (v) => v / 255), [n, 784]);
  const labels = (start: number, n: number) =>
    tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Int32Array.from(bytes.subarray(start, start + n)), 'int32'), 10), 'float32') as tf.Tensor2D);
  const lab = 8 + (nTrain + nTest) * 784;
  return {
    xTrain: images(8, nTrain),
    xTest: images(8 + nTrain * 784, nTest),
    yTrain: labels(lab, nTrain),
    yTest: labels(lab + nTrain, nTest),
  };
}

/** Reads a response's body, reporting `loaded` of `total` bytes (`total` from Content-Length; 0 when unknown). */
async function readBody(res: Response, onProgress: (loaded: number, total: number) => void): Promise<Uint8Array> {
  const total = Number(res.headers.get('Content-Length')) || 0;
  if (!res.body) return new Uint8Array(await res.arrayBuffer());
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  const reader = res.body.getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    chunks.push(r.value);
    loaded += r.value.length;
    onProgress(loaded, total);
  }
  const out = new Uint8Array(loaded);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** Downloads and parses the digits; `onProgress` hears the bytes as they arrive. */
export async function fetchDigits(url = '/mnist.bin', onProgress: (loaded: number, total: number) => void = () => {}): Promise<Digits> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return parseDigits(await readBody(res, onProgress));
}
