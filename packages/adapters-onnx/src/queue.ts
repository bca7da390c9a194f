/**
 * The trainer's call queue: its asynchronous calls run one at a time, in call order, so two calls that are not
 * awaited give what awaiting them in order gives. Closing (dispose) rejects the calls still waiting.
 *
 * A running call may *open* the queue while it waits on user code (`fit`'s `onEpochEnd`): calls made meanwhile
 * run at once, in their own call order, and the running call goes on after they settled — so a callback can
 * await an evaluation without waiting for the `fit` that called it.
 * @module
 */

interface Lane {
  tail: Promise<void>;
}

const settle = (): void => undefined;

/** Runs asynchronous calls one at a time, in call order. */
export class CallQueue {
  readonly #closedError: () => Error;
  readonly #main: Lane = { tail: Promise.resolve() };
  #open: Lane | null = null;
  #closed = false;

  /** @param closedError the error of a call made, or still waiting, after {@link CallQueue.close} */
  constructor(closedError: () => Error) {
    this.#closedError = closedError;
  }

  /** Whether {@link CallQueue.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Runs `fn` after every call made before it has settled; rejects without running it when the queue is closed by then. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(this.#closedError());
    const lane = this.#open ?? this.#main;
    const p = lane.tail.then(() => {
      if (this.#closed) throw this.#closedError();
      return fn();
    });
    lane.tail = p.then(settle, settle);
    return p;
  }

  /**
   * From inside a running call: runs `fn` (user code) with the queue open — calls made meanwhile run at once,
   * in call order — and returns after `fn` and those calls settled.
   */
  async open<T>(fn: () => T | Promise<T>): Promise<T> {
    const lane: Lane = { tail: Promise.resolve() };
    const outer = this.#open;
    this.#open = lane;
    try {
      return await fn();
    } finally {
      this.#open = outer;
      await lane.tail;
    }
  }

  /**
   * Stops taking calls: new ones reject at once, waiting ones when their turn comes. Resolves when the running
   * call (and, inside an open window, the calls made in it) settled — after that nothing runs.
   */
  close(): Promise<void> {
    this.#closed = true;
    return (this.#open ?? this.#main).tail;
  }
}
