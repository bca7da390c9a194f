/**
 * `fit`'s callbacks as tfjs takes them: config objects of hooks (tfjs-vis's `fitCallbacks`, `{ onEpochEnd }`),
 * `tf.Callback` instances (`tf.callbacks.earlyStopping()`, a `tf.CustomCallback`), or an array of both; every hook
 * (`onTrainBegin/End`, `onEpochBegin/End`, `onBatchBegin/End`, `onYield`), called in order, awaited. Logs carry
 * tfjs's keys (`loss`, `val_loss`, `val_acc`) beside the trainer's (`trainLoss`, `valLoss`, `valAccuracy`,
 * `fresh`, `freshBatches`, `seconds`). A `tf.Callback` gets the model (`setModel`) and the run's parameters
 * (`setParams`); setting `model.stopTraining = true` — what `earlyStopping` does — ends the `fit` after the current
 * batch. The returned history is a `tf.History` of the epoch logs.
 * @module
 */
import { History } from '@tensorflow/tfjs-layers';
import { optionError } from './errors.js';
import type { BatchResult, EpochLogs } from './trainer-types.js';

/** The hooks of a callback config object (tfjs's `CustomCallbackArgs`). */
export const CALLBACK_HOOKS = ['onTrainBegin', 'onTrainEnd', 'onEpochBegin', 'onEpochEnd', 'onBatchBegin', 'onBatchEnd', 'onYield'] as const;

type Logs = Record<string, number | boolean | undefined>;
type Hook = (...args: unknown[]) => unknown;

/** A `tf.Callback` as the trainer drives it (structurally: tfjs-layers' `BaseCallback`). */
interface CallbackObject {
  setModel(model: unknown): void;
  setParams(params: Record<string, unknown>): void;
}

const isCallbackObject = (c: unknown): c is CallbackObject =>
  typeof c === 'object' && c !== null && typeof (c as CallbackObject).setModel === 'function' && typeof (c as CallbackObject).setParams === 'function';

const isPlain = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);

/** The callbacks given, as a list (throws `InvalidOptionError` naming the bad entry or key). */
export function callbackList(callbacks: unknown): unknown[] {
  if (callbacks === undefined) return [];
  const list = Array.isArray(callbacks) ? callbacks : [callbacks];
  list.forEach((c, i) => {
    const where = Array.isArray(callbacks) ? `callbacks[${i}]` : 'callbacks';
    if (isCallbackObject(c)) return;
    if (!isPlain(c)) throw optionError(where, c, 'fit: must be a tf.Callback, an object of hooks, or an array of them');
    for (const k of Object.keys(c)) {
      if (!(CALLBACK_HOOKS as readonly string[]).includes(k)) {
        throw optionError(`${where}.${k}`, c[k], `fit: unknown callback hook (expected one of ${CALLBACK_HOOKS.join(', ')})`);
      }
      if (c[k] !== undefined && typeof c[k] !== 'function') throw optionError(`${where}.${k}`, c[k], 'fit: must be a function');
    }
  });
  return list;
}

/** What a `tf.Callback` is given as its model: the LayersModel, or a stand-in holding `stopTraining`. */
export interface StoppableModel {
  stopTraining: boolean;
}

/** Epoch logs with tfjs's keys beside the trainer's. */
export function epochLogs(l: EpochLogs): EpochLogs & Logs {
  return {
    ...l,
    loss: l.trainLoss,
    ...(l.trainAccuracy === undefined ? {} : { acc: l.trainAccuracy }),
    ...(l.valLoss === undefined ? {} : { val_loss: l.valLoss }),
    ...(l.valAccuracy === undefined ? {} : { val_acc: l.valAccuracy }),
  };
}

/** Logs (a plain object of values) with booleans as 0/1 and other non-numbers left out; anything else as is. */
function numericLogs(a: unknown): unknown {
  if (!isPlain(a)) return a;
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(a)) {
    if (typeof v === 'number') out[k] = v;
    else if (typeof v === 'boolean') out[k] = v ? 1 : 0;
  }
  return out;
}

/** A compiled model's own `stopTraining` (user code may set it directly); false when tfjs refuses to read it. */
function realStop(model: object): boolean {
  try {
    return (model as { stopTraining?: unknown }).stopTraining === true;
  } catch {
    return false;
  }
}

/**
 * The model a `tf.Callback` sees: `layers` itself for everything but `stopTraining`, which lives in `flag` (tfjs
 * refuses to set it on a Sequential that was never compiled, and the trainer needs no compile); a FunctionModel's
 * trainer passes the flag alone.
 */
export function callbackModel(layers: object | null, flag: StoppableModel): StoppableModel {
  if (!layers) return flag;
  return new Proxy(layers, {
    get(target, p) {
      if (p === 'stopTraining') return flag.stopTraining || realStop(target);
      const v = Reflect.get(target, p, target) as unknown;
      return typeof v === 'function' ? (v as Hook).bind(target) : v;
    },
    set(target, p, v) {
      if (p === 'stopTraining') {
        flag.stopTraining = v === true;
        try {
          Reflect.set(target, p, v, target); // a compiled model keeps its own flag in step
        } catch {
          // an uncompiled Sequential refuses it: the flag is ours
        }
      } else Reflect.set(target, p, v, target);
      return true;
    },
  }) as unknown as StoppableModel;
}

/** Drives the callbacks of one `fit`. */
export class FitCallbackSet {
  readonly #list: readonly unknown[];
  readonly #model: StoppableModel;
  readonly #open: <T>(fn: () => T | Promise<T>) => Promise<T>;

  /**
   * `open` runs a hook with the trainer's call queue open, so that calls a hook makes (an `evaluate`, even a
   * `trainBatch`) run at once instead of waiting for the `fit` that called it.
   */
  constructor(callbacks: unknown, model: StoppableModel, params: Record<string, unknown>, open: <T>(fn: () => T | Promise<T>) => Promise<T> = async (fn) => fn()) {
    this.#list = callbackList(callbacks);
    this.#model = model;
    this.#open = open;
    model.stopTraining = false;
    for (const c of this.#list) {
      if (isCallbackObject(c)) {
        c.setModel(model);
        c.setParams(params);
      }
    }
  }

  /** Whether a callback asked to stop (`model.stopTraining`). */
  get stopRequested(): boolean {
    return this.#model.stopTraining === true;
  }

  async #call(hook: (typeof CALLBACK_HOOKS)[number], ...args: unknown[]): Promise<void> {
    for (const c of this.#list) {
      const f = (c as Record<string, unknown>)[hook];
      // tf.Callbacks resolve every log value as a number or a scalar tensor: theirs are the numeric ones
      if (typeof f === 'function') await this.#open(() => (f as Hook).apply(c, isCallbackObject(c) ? args.map(numericLogs) : args));
    }
  }

  trainBegin(): Promise<void> {
    return this.#call('onTrainBegin', {});
  }

  trainEnd(logs: Logs): Promise<void> {
    return this.#call('onTrainEnd', logs);
  }

  epochBegin(epoch: number): Promise<void> {
    return this.#call('onEpochBegin', epoch, {});
  }

  async epochEnd(epoch: number, logs: EpochLogs & Logs): Promise<void> {
    await this.#call('onEpochEnd', epoch, logs);
  }

  batchBegin(batch: number, size: number): Promise<void> {
    return this.#call('onBatchBegin', batch, { batch, size });
  }

  async batchEnd(epoch: number, batch: number, r: BatchResult & { readonly batches: number; readonly size: number }): Promise<void> {
    const logs = { ...r, batch, ...(r.accuracy === undefined ? {} : { acc: r.accuracy }) };
    await this.#call('onBatchEnd', batch, logs);
    await this.#call('onYield', epoch, batch, logs);
  }
}

/** The history a `fit` returns: a `tf.History` of its epochs (tfjs's keys and ours), and the epoch logs. */
export type FitHistory = History & { readonly logs: readonly EpochLogs[] };

/** A `tf.History` of `logs`. */
export async function fitHistory(logs: readonly EpochLogs[], params: Record<string, unknown>): Promise<FitHistory> {
  const h = new History();
  h.setParams(params as Parameters<History['setParams']>[0]);
  await h.onTrainBegin();
  for (const l of logs) {
    const numeric = Object.fromEntries(Object.entries(epochLogs(l)).filter((e): e is [string, number] => typeof e[1] === 'number'));
    await h.onEpochEnd(l.epoch, numeric);
  }
  return Object.assign(h, { logs });
}
