/**
 * `verbose`: what a `fit` prints, as one more callback. `verbose: 1` in a Node terminal redraws one progress bar
 * per epoch (batches done, the running loss) and ends it with the epoch's line; `verbose: 2`, and `verbose: 1` in
 * a browser or when Node's output is not a terminal (a log file, CI), print the epoch's line alone.
 * @module
 */
import type { BatchLogs, CallbackEpochLogs } from './trainer-types.js';

/** Where the lines go: a terminal line redrawn in place (Node TTY), or whole lines. */
export interface VerboseSink {
  /** Redraws the current line (null: this sink has none). */
  readonly redraw: ((text: string) => void) | null;
  /** Prints a whole line (after clearing a redrawn one). */
  line(text: string): void;
}

/** Node's stdout when it is a terminal; otherwise `console.log` lines. */
export function defaultSink(): VerboseSink {
  const out = (globalThis as { process?: { stdout?: { isTTY?: boolean; write(s: string): boolean; columns?: number } } }).process?.stdout;
  if (!out?.isTTY) return { redraw: null, line: (t) => console.log(t) };
  let drawn = false;
  return {
    redraw(t) {
      out.write(`\r${t.slice(0, Math.max(20, (out.columns ?? 100) - 1))}\x1b[K`);
      drawn = true;
    },
    line(t) {
      if (drawn) out.write('\r\x1b[K');
      drawn = false;
      console.log(t);
    },
  };
}

/** The line that ends an epoch: its number of those in the fit, seconds, losses, and the fresh batches. */
export function epochLine(logs: CallbackEpochLogs, epoch: number, end: number): string {
  const parts = [`Epoch ${epoch + 1}/${end}`, `${logs.seconds.toFixed(1)}s`, `loss=${logs.trainLoss.toFixed(4)}`];
  if (logs.trainAccuracy !== undefined) parts.push(`acc=${logs.trainAccuracy.toFixed(4)}`);
  if (logs.valLoss !== undefined) parts.push(`val_loss=${logs.valLoss.toFixed(4)}`);
  if (logs.valAccuracy !== undefined) parts.push(`val_acc=${logs.valAccuracy.toFixed(4)}`);
  parts.push(`fresh batches=${logs.freshBatches}`);
  return parts.join(' - ');
}

/** A progress bar of `done` of `total` batches (total 0: not known yet, as in a stream's first epoch). */
export function progressBar(epoch: number, end: number, done: number, total: number, loss: number): string {
  const width = 30;
  const head = `Epoch ${epoch + 1}/${end}`;
  const tail = `loss=${Number.isFinite(loss) ? loss.toFixed(4) : String(loss)}`;
  if (total <= 0) return `${head} ${done} batches - ${tail}`;
  const filled = Math.min(width, Math.round((width * done) / total));
  return `${head} [${'='.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total} - ${tail}`;
}

/**
 * The callback `verbose` adds to a fit whose epochs are numbered up to `end` (exclusive): hook names as tfjs's, so
 * the fit drives it like the user's callbacks.
 */
export function verboseCallback(level: 1 | 2, end: number, sink: VerboseSink = defaultSink()) {
  const bar = level === 1 ? sink.redraw : null;
  let epoch = 0;
  let sum = 0;
  let seen = 0;
  return {
    onEpochBegin(e: number): void {
      epoch = e;
      sum = 0;
      seen = 0;
    },
    onBatchEnd(batch: number, logs: BatchLogs): void {
      sum += logs.loss * logs.size;
      seen += logs.size;
      bar?.(progressBar(epoch, end, batch + 1, logs.batches, seen > 0 ? sum / seen : NaN));
    },
    onEpochEnd(e: number, logs: CallbackEpochLogs): void {
      sink.line(epochLine(logs, e, end));
    },
  };
}
