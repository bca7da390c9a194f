/**
 * ONNX Runtime plumbing: lazy creation of each session exactly once, and host ↔ tensor conversions.
 * @module
 */
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import type { OrtRuntime } from './runtime-check.js';

/** A session created on first use from bytes built on demand, then reused. */
export class LazySession {
  #session: Promise<InferenceSession> | null = null;
  constructor(
    private readonly ort: OrtRuntime,
    private readonly build: () => Uint8Array,
    private readonly options: InferenceSession.SessionOptions,
  ) {}

  /** Whether the session exists. */
  get created(): boolean {
    return this.#session !== null;
  }

  /** Creates (once) and returns the session. */
  get(): Promise<InferenceSession> {
    if (!this.#session) {
      const p = Promise.resolve().then(() => this.ort.InferenceSession.create(this.build(), this.options));
      p.catch(() => (this.#session = null));
      this.#session = p;
    }
    return this.#session;
  }

  /** Runs the session. */
  async run(feeds: Record<string, Tensor>, outputs?: readonly string[]): Promise<Record<string, Tensor>> {
    const s = await this.get();
    return (outputs ? s.run(feeds, outputs) : s.run(feeds)) as Promise<Record<string, Tensor>>;
  }

  /** Releases the session. */
  async release(): Promise<void> {
    const s = this.#session;
    this.#session = null;
    if (s) await (await s).release();
  }
}

/** Float32 contents of an output tensor. */
export function floats(t: Tensor | undefined, what: string): Float32Array {
  if (!t || !(t.data instanceof Float32Array)) throw new Error(`ONNX Runtime returned no float32 '${what}'`);
  return t.data;
}
