/**
 * The trainers' call queue (both adapters): their asynchronous calls run one at a time, in call order, so calls
 * that are not awaited give exactly what awaiting them in order gives. Closing it (`dispose`) rejects the calls
 * still waiting.
 *
 * A running call may *open* the queue while it waits on user code (a `fit` callback): calls made meanwhile run at
 * once, in their own call order, and the running call goes on after they settled — so a callback can await an
 * evaluation without waiting for the `fit` that called it.
 * @module
 */

interface Lane {
  tail: Promise<void>;
}

const settle = (): void => undefined;

/** Runs asynchronous calls one at a time, in call order. */
export class CallQueue {
  readonly #closedError: (what: string, waited: boolean) => Error;
  readonly #main: Lane = { tail: Promise.resolve() };
  #open: Lane | null = null;
  #closed = false;
  #pending = 0;
  #closing: Promise<void> | null = null;

  /**
   * @param closedError the error of a call made after {@link CallQueue.close} (`waited` false) or still waiting
   *   when it was closed (`waited` true); `what` is the call's name given to {@link CallQueue.run}
   */
  constructor(closedError: (what: string, waited: boolean) => Error) {
    this.#closedError = closedError;
  }

  /** Whether {@link CallQueue.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Calls queued or running. */
  get busy(): boolean {
    return this.#pending > 0;
  }

  /** Runs `fn` after every call made before it has settled; rejects without running it when the queue is closed by then. */
  run<T>(fn: () => Promise<T>, what = 'call'): Promise<T> {
    if (this.#closed) return Promise.reject(this.#closedError(what, false));
    const lane = this.#open ?? this.#main;
    this.#pending++;
    const p = lane.tail.then(() => {
      if (this.#closed) throw this.#closedError(what, true);
      return fn();
    });
    const done = (): void => {
      this.#pending--;
    };
    lane.tail = p.then(done, done).then(settle);
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
   * Stops taking calls: new ones reject at once, waiting ones when their turn comes. `release` runs once the
   * running call (and, inside an open window, the calls made in it) settled — at once, synchronously, when nothing
   * is queued or running; the returned promise resolves after it. Closing twice returns the first closing.
   */
  close(release: () => void | Promise<void> = () => undefined): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    if (this.#pending === 0) {
      const r = release();
      this.#closing = Promise.resolve(r).then(settle);
    } else {
      this.#closing = (this.#open ?? this.#main).tail.then(release).then(settle);
    }
    return this.#closing;
  }
}
