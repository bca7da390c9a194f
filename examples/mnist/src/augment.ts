/**
 * The image tasks' augmentation: every image shifted by a random whole number of pixels, −2…2 on each axis
 * independently, the uncovered border zero (MNIST's background; CIFAR's pixels are not centred, so zero is black
 * there, as a zero-padded random crop makes it), and — only where a mirror image keeps the label (CIFAR's objects,
 * not digits: a mirrored 2 is no digit) — flipped left–right with probability ½. A new draw every epoch, seeded by
 * the run's seed and the epoch.
 * @module
 */
import { mixSeed, mulberry32 } from '@ifngd/adapters-tfjs/internal';

/** Largest shift, in pixels, along each axis. */
export const MAX_SHIFT = 2;

/** How to augment: the images' `[h, w, c]`, whether to flip, the largest shift. */
export interface Augmentation {
  readonly shape: readonly [number, number, number];
  readonly flips: boolean;
  readonly maxShift?: number;
}

/** `count` images shifted (and maybe flipped) by seeded random draws: a new array; `images` is kept. */
export function augmentImages(images: Float32Array, count: number, seed: number, a: Augmentation): Float32Array {
  const [h, w, c] = a.shape;
  const max = a.maxShift ?? MAX_SHIFT;
  const size = h * w * c;
  const out = new Float32Array(count * size);
  const rand = mulberry32(seed);
  for (let n = 0; n < count; n++) {
    const dy = Math.floor(rand() * (2 * max + 1)) - max;
    const dx = Math.floor(rand() * (2 * max + 1)) - max;
    const flip = a.flips && rand() < 0.5;
    const base = n * size;
    for (let y = 0; y < h; y++) {
      const sy = y - dy;
      if (sy < 0 || sy >= h) continue;
      for (let x = 0; x < w; x++) {
        // output column x shows source column sx of the (flipped) shifted image
        const fx = x - dx;
        if (fx < 0 || fx >= w) continue;
        const sx = flip ? w - 1 - fx : fx;
        const o = base + (y * w + x) * c;
        const i = base + (sy * w + sx) * c;
        for (let k = 0; k < c; k++) out[o + k] = images[i + k] as number;
      }
    }
  }
  return out;
}

/** The augmentation seed of a run's epoch (distinct runs and epochs draw distinct shifts). */
export function shiftSeed(seed: number, epoch: number): number {
  return mixSeed(0x5d1f7 + seed, epoch);
}
