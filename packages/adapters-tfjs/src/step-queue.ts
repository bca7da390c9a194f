/**
 * The trainer's call queue: training calls (`trainBatch`, `fit`) run one at a time, in call order, so
 * un-awaited calls give exactly what awaiting each in turn gives. Closing the queue (`dispose`) rejects the
 * calls that have not started with a {@link DisposedError}.
 * @module
 */
import { DisposedError } from './errors.js';

/** A FIFO of asynchronous jobs, run one at a time. */
export class StepQueue {
  #tail: Promise<void> = Promise.resolve();
  #pending = 0;
  #closed = false;

  /** Jobs queued or running. */
  get busy(): boolean {
    return this.#pending > 0;
  }

  /** Whether {@link StepQueue.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Runs `job` after every job queued before it has settled. Rejects with {@link DisposedError} when the
   * queue is closed before the job starts (`what` names the call in the message).
   */
  run<T>(what: string, job: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new DisposedError(`${what}: the trainer was disposed`));
    this.#pending++;
    const result = this.#tail.then(() => {
      if (this.#closed) throw new DisposedError(`${what}: the trainer was disposed while this call was queued`);
      return job();
    });
    const done = (): void => {
      this.#pending--;
    };
    this.#tail = result.then(done, done);
    return result;
  }

  /**
   * Closes the queue: later `run` calls and jobs not yet started reject with {@link DisposedError}.
   * `release` runs once the running job (if any) and the rejected ones have settled — at once when idle.
   */
  close(release: () => void): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#pending === 0) release();
    else void this.#tail.then(release);
  }
}
