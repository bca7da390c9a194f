/**
 * Matrix handles: a shape, an owner device and reference-counted backend storage.
 * @module
 */
import { DeviceLostError, DisposedError } from './errors.js';

/** `[rows, cols]` or `[batch, rows, cols]`; row-major, batch-major. */
export type Shape = readonly [number, number] | readonly [number, number, number];

/**
 * Reference-counted storage shared by a matrix and its reshaped views; released to the backend's pool when
 * the last holder is disposed.
 * @internal
 */
export class SharedStorage {
  #count = 1;
  constructor(
    readonly value: unknown,
    readonly elements: number,
    private readonly release: (value: unknown) => void,
  ) {}
  retain(): this {
    this.#count++;
    return this;
  }
  drop(): void {
    if (--this.#count === 0) this.release(this.value);
  }
}

/** Identity of the device that owns a matrix (compared by reference). @internal */
export interface MatrixOwner {
  readonly label: string;
  readonly destroyed: boolean;
  /** Why the device was lost, or null. */
  readonly lostReason: string | null;
}

/**
 * A handle to a (batched) float32 matrix living on one device. Operations return new handles at once;
 * the data is produced asynchronously and read with `device.read(m)`. Call {@link Matrix.dispose} to
 * give the storage back to the device's pool.
 */
export class Matrix {
  /** The shape as created: `[rows, cols]` or `[batch, rows, cols]`. */
  readonly shape: Shape;
  /** Batch entries (1 for a 2-D matrix). */
  readonly batch: number;
  /** Rows of each batch entry. */
  readonly rows: number;
  /** Columns of each batch entry. */
  readonly cols: number;
  /** @internal */
  readonly owner: MatrixOwner;
  /** @internal */
  readonly storage: SharedStorage;
  /**
   * Per-batch status this matrix depends on (a Cholesky factor, a triangular solve, or a result computed from
   * one): int32 codes, positive for a failed factorization, negative for a singular solve.
   * @internal
   */
  readonly info: SharedStorage | null;
  #disposed = false;

  /** @internal */
  constructor(owner: MatrixOwner, shape: Shape, storage: SharedStorage, info: SharedStorage | null) {
    this.owner = owner;
    this.shape = Object.freeze([...shape]) as unknown as Shape;
    this.batch = shape.length === 3 ? shape[0] : 1;
    this.rows = shape.length === 3 ? shape[1] : shape[0];
    this.cols = shape.length === 3 ? shape[2] : shape[1];
    this.storage = storage;
    this.info = info;
  }

  /** Elements per batch entry (`rows·cols`). */
  get entrySize(): number {
    return this.rows * this.cols;
  }

  /** Total elements (`batch·rows·cols`). */
  get size(): number {
    return this.batch * this.rows * this.cols;
  }

  /** Whether {@link Matrix.dispose} was called. */
  get isDisposed(): boolean {
    return this.#disposed;
  }

  /**
   * Whether the device this matrix lives on was lost (see `LinalgDevice.isLost`): its data is gone, and every
   * use of it throws {@link DeviceLostError}. {@link Matrix.dispose} stays allowed (and does nothing more).
   */
  get isLost(): boolean {
    return this.owner.lostReason !== null;
  }

  /** Releases this handle's storage (shared storage is freed when its last view is disposed). Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    if (!this.owner.destroyed) {
      this.storage.drop();
      this.info?.drop();
    }
  }

  /** `[3,4]` / `[2,3,4]` style text for messages. */
  toString(): string {
    return `[${this.shape.join(',')}]`;
  }

  /** @internal */
  assertLive(what: string): void {
    if (this.#disposed) throw new DisposedError(`${what}: matrix ${this.toString()} was disposed`);
    if (this.owner.destroyed) {
      throw new DisposedError(`${what}: matrix ${this.toString()} belongs to a destroyed device (${this.owner.label})`);
    }
    const lost = this.owner.lostReason;
    if (lost !== null) throw new DeviceLostError(`${what}: matrix ${this.toString()} of device ${this.owner.label}`, lost);
  }
}
