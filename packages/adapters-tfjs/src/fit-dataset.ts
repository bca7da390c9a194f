/**
 * `fitDataset`: training from a stream of batches — a `tf.data.Dataset` of `{ xs, ys }` (or `[xs, ys]`) elements,
 * each already a batch, as tfjs's `model.fitDataset` takes it. A stream has no fixed partition into batches, so a
 * batch's identity — its key in FNGD's coefficient cache — is the batch's sample ids: the ids the element carries
 * (`{ xs, ys, ids }`), otherwise a content fingerprint of every sample (its inputs and targets, hashed in order). A
 * batch whose samples changed therefore never gets another batch's coefficients; a dataset that yields the same
 * batches every epoch reuses them; one that reshuffles makes every batch fresh. At the end of each epoch the cache
 * keeps the batches that epoch saw. Callbacks, logs and the returned history are `fit`'s.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import { batchKeyOf, type BatchKey, type SampleId } from 'ifngd';
import { optionError } from './errors.js';
import { EpochAccuracy, epochNumbering, fitMetrics } from './fit-loop.js';
import type { LossName } from './losses.js';
import { verboseCallback } from './verbose.js';
import { callbackList, epochLogs, FitCallbackSet, fitHistory, type FitHistory, type StoppableModel } from './fit-callbacks.js';
import type { BatchResult, EpochLogs, Evaluation, FitCallbacks, TfCallback, TrainerData } from './trainer-types.js';

/** A source of batches (`tf.data.Dataset` structurally): each `iterator()` walks one epoch. */
export interface DatasetLike {
  iterator(): Promise<{ next(): Promise<{ readonly value: unknown; readonly done: boolean }> }>;
}

/** Options of `FngdTrainer.fitDataset` (tfjs's `ModelFitDatasetArgs`, in part). */
export interface FitDatasetOptions {
  /** Epochs to run; with `initialEpoch`, the epoch number to end before (tfjs's meaning). */
  readonly epochs: number;
  /** As tfjs's: the first epoch's number (callbacks, logs, history); the fit runs `epochs − initialEpoch` epochs. */
  readonly initialEpoch?: number;
  /** Batches per epoch; default: until the dataset's iterator is exhausted. */
  readonly batchesPerEpoch?: number;
  /** Validation inputs and targets, evaluated after every epoch. */
  readonly validationData?: readonly [TrainerData, TrainerData];
  readonly callbacks?: FitCallbacks | TfCallback | readonly (FitCallbacks | TfCallback)[];
  /** 0 (default): silent; 1: a progress bar per epoch in a Node terminal, else one line per epoch; 2: one line per epoch. */
  readonly verbose?: 0 | 1 | 2;
}

/** The trainer as `fitDataset` sees it. */
export interface DatasetHost {
  readonly epoch: number;
  /** The loss's name (null: custom, or several outputs): which metrics the epochs log. */
  readonly lossName: LossName | null;
  readonly model: StoppableModel;
  /** Runs user code (a callback) with the trainer's call queue open. */
  open<T>(fn: () => T | Promise<T>): Promise<T>;
  /** One step on a batch (inputs and targets as the user gave them; checked and packed by the trainer). */
  step(x: unknown, y: unknown, key: BatchKey, epoch: number): Promise<BatchResult & { readonly n: number }>;
  /** The batch's inputs and targets in their one-tensor form, for its content fingerprint. */
  fingerprint(x: unknown, y: unknown): Promise<SampleId[]>;
  evaluate(x: unknown, y: unknown): Promise<Evaluation>;
  /** Checks validation inputs and targets as `fit` does (typed errors), before any step. */
  checkValidation(x: unknown, y: unknown): Promise<void>;
  endEpoch(): void;
  /** Keeps only these batches' coefficients (FNGD). */
  retain(keys: readonly BatchKey[]): void;
}

const KEYS = ['epochs', 'initialEpoch', 'batchesPerEpoch', 'validationData', 'callbacks', 'verbose'];

function checkOptions(o: unknown): FitDatasetOptions {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw optionError('options', o, 'fitDataset: options `{ epochs }` are required');
  const r = o as Record<string, unknown>;
  for (const k of Object.keys(r)) if (!KEYS.includes(k)) throw optionError(k, r[k], `fitDataset: unknown option (expected one of ${KEYS.join(', ')})`);
  if (!Number.isSafeInteger(r['epochs']) || (r['epochs'] as number) < 1) throw optionError('epochs', r['epochs'], 'fitDataset: must be an integer ≥ 1');
  const b = r['batchesPerEpoch'];
  if (b !== undefined && (!Number.isSafeInteger(b) || (b as number) < 1)) throw optionError('batchesPerEpoch', b, 'fitDataset: must be an integer ≥ 1');
  const v = r['validationData'];
  if (v !== undefined && !(Array.isArray(v) && v.length === 2)) throw optionError('validationData', v, 'fitDataset: must be a pair [xs, ys]');
  const verbose = r['verbose'];
  if (verbose !== undefined && verbose !== 0 && verbose !== 1 && verbose !== 2) throw optionError('verbose', verbose, 'fitDataset: must be 0, 1 or 2');
  const initial = r['initialEpoch'];
  if (initial !== undefined && (!Number.isSafeInteger(initial) || (initial as number) < 0)) throw optionError('initialEpoch', initial, 'fitDataset: must be an integer ≥ 0');
  callbackList(r['callbacks']);
  return o as FitDatasetOptions;
}

/** A dataset element's inputs, targets and (optional) sample ids. */
function element(value: unknown, at: number): { x: unknown; y: unknown; ids: readonly SampleId[] | null } {
  if (Array.isArray(value) && value.length === 2) return { x: value[0], y: value[1], ids: null };
  const v = value as { xs?: unknown; ys?: unknown; ids?: unknown } | null;
  if (typeof v !== 'object' || v === null || v.xs === undefined || v.ys === undefined) {
    throw optionError('dataset', value, `fitDataset: batch ${at} is not { xs, ys } (or [xs, ys]); map the dataset to that form`);
  }
  if (v.ids !== undefined && !(Array.isArray(v.ids) && v.ids.every((i) => typeof i === 'string' || (typeof i === 'number' && Number.isFinite(i))))) {
    throw optionError('dataset', v.ids, `fitDataset: batch ${at}'s ids must be an array of strings or finite numbers`);
  }
  return { x: v.xs, y: v.ys, ids: (v.ids as readonly SampleId[] | undefined) ?? null };
}

const tensorsOf = (v: unknown): Tensor[] =>
  v instanceof tf.Tensor ? [v] : Array.isArray(v) ? v.filter((t): t is Tensor => t instanceof tf.Tensor) : typeof v === 'object' && v !== null ? Object.values(v).filter((t): t is Tensor => t instanceof tf.Tensor) : [];

/** Runs `fitDataset` (see `FngdTrainer.fitDataset`). */
export async function runFitDataset(host: DatasetHost, dataset: unknown, o: unknown): Promise<FitHistory> {
  const options = checkOptions(o);
  if (typeof (dataset as DatasetLike | null)?.iterator !== 'function') throw optionError('dataset', dataset, 'fitDataset: expected a tf.data.Dataset (an object with iterator())');
  const d = dataset as DatasetLike;
  if (options.validationData) await host.checkValidation(options.validationData[0], options.validationData[1]); // before any step
  const n = epochNumbering(options.epochs, options.initialEpoch, host.epoch);
  const metrics = fitMetrics(host.lossName, options.validationData !== undefined);
  const params = { epochs: n.end, initialEpoch: n.label(host.epoch), steps: options.batchesPerEpoch ?? 0, doValidation: options.validationData !== undefined, metrics };
  const callbacks = [...(options.verbose ? [verboseCallback(options.verbose, n.end)] : []), ...callbackList(options.callbacks)];
  const cbs = new FitCallbackSet(callbacks, host.model, params, host.open);
  const history: EpochLogs[] = [];
  const accuracy = new EpochAccuracy();
  // with batchesPerEpoch one iterator runs through every epoch (as tfjs: a repeated stream goes on); without,
  // every epoch walks a fresh iterator to its end
  const shared = options.batchesPerEpoch === undefined ? null : await d.iterator();
  let known = options.batchesPerEpoch ?? 0; // batches per epoch as far as known (0 during a first open-ended epoch)
  let exhausted = false;
  await cbs.trainBegin();
  for (let e = 0; e < n.count && !cbs.stopRequested && !exhausted; e++) {
    const epoch = host.epoch;
    const label = n.label(epoch);
    await cbs.epochBegin(label);
    const it = shared ?? (await d.iterator());
    const t0 = performance.now();
    const keys = new Set<BatchKey>();
    accuracy.reset();
    let sum = 0;
    let seen = 0;
    let fresh = 0;
    let b = 0;
    for (; options.batchesPerEpoch === undefined || b < options.batchesPerEpoch; b++) {
      const next = await it.next();
      if (next.done) {
        if (shared) {
          console.warn(`ifngd fitDataset: the dataset ran out after ${b} of ${options.batchesPerEpoch} batches in epoch ${epoch}; training stops (use dataset.repeat())`);
          exhausted = true;
        }
        if (b === 0 && !shared) throw optionError('dataset', dataset, `fitDataset: the dataset yielded no batch in epoch ${epoch}`);
        break;
      }
      try {
        const { x, y, ids } = element(next.value, b);
        const n = (tensorsOf(x)[0]?.shape[0] as number | undefined) ?? 0;
        if (ids && (ids.length !== n || new Set(ids).size !== ids.length)) {
          throw optionError('dataset', ids, `fitDataset: batch ${b}'s ids must be ${n} unique ids, one per sample`);
        }
        const key = batchKeyOf(ids ?? (await host.fingerprint(x, y)));
        await cbs.batchBegin(b, n);
        const r = await host.step(x, y, key, epoch);
        keys.add(key);
        sum += r.loss * r.n;
        seen += r.n;
        if (r.fresh) fresh++;
        accuracy.add(r.accuracy, r.n);
        await cbs.batchEnd(label, b, { loss: r.loss, fresh: r.fresh, ...(r.accuracy === undefined ? {} : { accuracy: r.accuracy }), batches: known, size: r.n });
      } finally {
        const v = next.value as { xs?: unknown; ys?: unknown } | unknown[] | null;
        const parts = Array.isArray(v) ? v : typeof v === 'object' && v !== null ? [(v as { xs?: unknown }).xs, (v as { ys?: unknown }).ys] : [];
        tf.dispose(parts.flatMap(tensorsOf)); // the dataset's batch tensors, as tfjs's fitDataset disposes them
      }
      if (cbs.stopRequested) break;
    }
    known = options.batchesPerEpoch ?? b;
    if (seen === 0) break; // a shared iterator that ended at an epoch's start: no epoch to log
    let logs: EpochLogs = { epoch: label, seconds: (performance.now() - t0) / 1000, trainLoss: sum / seen, ...accuracy.logs(), freshBatches: fresh };
    if (options.validationData) {
      const v = await host.evaluate(options.validationData[0], options.validationData[1]);
      logs = { ...logs, valLoss: v.loss, ...(v.accuracy === undefined ? {} : { valAccuracy: v.accuracy }) };
    }
    host.endEpoch();
    host.retain([...keys]);
    history.push(logs);
    await cbs.epochEnd(label, epochLogs(logs));
  }
  const last = history.at(-1);
  await cbs.trainEnd(last ? epochLogs(last) : {});
  return fitHistory(history, params);
}
