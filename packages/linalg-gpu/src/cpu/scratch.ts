/**
 * Growable float64 scratch buffers, reused across calls so that hot paths never allocate.
 * @internal
 * @module
 */

/** A float64 buffer that only grows; `get(n)` returns a buffer of at least `n` elements (contents unspecified). */
export class Scratch {
  private buf: Float64Array = new Float64Array(0);

  /** A buffer holding at least `elements` values. Growth over-allocates by 50% to amortise repeated growth. */
  get(elements: number): Float64Array {
    if (this.buf.length < elements) {
      this.buf = new Float64Array(Math.max(elements, Math.ceil(this.buf.length * 1.5)));
    }
    return this.buf;
  }

  /** Drops the buffer so its memory can be reclaimed. */
  release(): void {
    this.buf = new Float64Array(0);
  }
}

/**
 * A growable packed array of doubles. Plain JS arrays with packed-double elements skip the typed-array
 * base-pointer arithmetic on every load, which measurably speeds up the GEMM micro-kernel.
 */
export class PackedScratch {
  private buf: number[] = [];

  /** An array holding at least `elements` values (contents unspecified, always packed doubles). */
  get(elements: number): number[] {
    const buf = this.buf;
    if (buf.length < elements) {
      const target = Math.max(elements, Math.ceil(buf.length * 1.5));
      // push() keeps the elements kind PACKED_DOUBLE (no holes), unlike new Array(n).
      for (let i = buf.length; i < target; i++) buf.push(0.5);
    }
    return buf;
  }

  /** Drops the array so its memory can be reclaimed. */
  release(): void {
    this.buf = [];
  }
}
