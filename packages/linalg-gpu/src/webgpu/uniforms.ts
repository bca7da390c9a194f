/**
 * Packs kernel uniforms: a flat sequence of 32-bit scalars, matching a WGSL struct made only of
 * `u32`/`i32`/`f32` fields in the same order.
 * @internal
 * @module
 */
import { UNIFORM_BYTES } from './constants.js';

export class Uniforms {
  readonly buffer = new ArrayBuffer(UNIFORM_BYTES);
  readonly #view = new DataView(this.buffer);
  #offset = 0;

  u32(x: number): this {
    this.#view.setUint32(this.#next(), x >>> 0, true);
    return this;
  }
  i32(x: number): this {
    this.#view.setInt32(this.#next(), x | 0, true);
    return this;
  }
  f32(x: number): this {
    this.#view.setFloat32(this.#next(), x, true);
    return this;
  }
  /** Bytes written so far, rounded up to 16. */
  get byteLength(): number {
    return Math.max(16, Math.ceil(this.#offset / 16) * 16);
  }
  #next(): number {
    const o = this.#offset;
    if (o + 4 > UNIFORM_BYTES) throw new Error(`uniform block exceeds ${UNIFORM_BYTES} bytes`);
    this.#offset += 4;
    return o;
  }
}
