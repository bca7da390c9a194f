/**
 * Validation of the trainer's own options (`FngdTrainer.create`, `fit`): unknown keys, wrong types and
 * conflicting choices throw {@link InvalidOptionError} naming the key and the value, before anything is
 * created. The nested `fngd`/`kfac` objects are validated by `ifngd`'s `fngd()`/`kfac()`.
 * @module
 */
import { optionError } from './errors.js';
import { callbackList } from './fit-callbacks.js';
import type { LossName } from './losses.js';

/** The keys of `FngdTrainerOptions`. */
const TRAINER_KEYS = ['loss', 'lossWeights', 'fngd', 'kfac', 'optimizer', 'device', 'perSample', 'skipLayers'] as const;
/** The keys of `FitOptions`. */
const FIT_KEYS = ['epochs', 'initialEpoch', 'batchSize', 'seed', 'shuffle', 'sampleIds', 'validationData', 'validationSplit', 'verbose', 'sampleWeight', 'classWeight', 'callbacks'] as const;
const LOSS_NAMES: readonly LossName[] = ['softmax-cross-entropy', 'sigmoid-cross-entropy', 'mse'];

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(where: string, o: Record<string, unknown>, allowed: readonly string[], prefix = ''): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw optionError(prefix + k, o[k], `${where}: unknown option (expected one of ${allowed.join(', ')})`);
  }
}

/** Which optimizer the options choose. */
export type TrainerKind = 'fngd' | 'kfac' | 'optimizer';

/** Validates `FngdTrainer.create` options (not the nested `fngd`/`kfac` objects' fields); returns the choice. */
export function checkTrainerOptions(options: unknown): TrainerKind {
  if (!isPlainObject(options)) throw optionError('options', options, 'FngdTrainer.create: options `{ loss }` are required');
  checkKeys('FngdTrainer.create', options, TRAINER_KEYS);
  const loss = options['loss'];
  const isLoss = (l: unknown): boolean => typeof l === 'function' || LOSS_NAMES.includes(l as LossName);
  const perOutput = Array.isArray(loss) ? loss : isPlainObject(loss) ? Object.values(loss) : null;
  if (!isLoss(loss) && !(perOutput && perOutput.length > 0 && perOutput.every(isLoss))) {
    throw optionError('loss', loss, `must be ${LOSS_NAMES.map((n) => `'${n}'`).join(', ')} or a per-sample loss function (several outputs: an array of them in output order, or an object by output name)`);
  }
  const lw = options['lossWeights'];
  const weights = Array.isArray(lw) ? lw : isPlainObject(lw) ? Object.values(lw) : null;
  if (lw !== undefined && !(weights && weights.every((w) => typeof w === 'number' && Number.isFinite(w) && w >= 0))) {
    throw optionError('lossWeights', lw, 'must be finite weights ≥ 0, an array in output order or an object by output name');
  }
  const given = (['fngd', 'kfac', 'optimizer'] as const).filter((k) => options[k] !== undefined);
  if (given.length > 1) {
    const second = given[1] as string;
    throw optionError(second, options[second], `give at most one of \`fngd\`, \`kfac\` and \`optimizer\` (got ${given.join(', ')})`);
  }
  for (const k of ['fngd', 'kfac'] as const) {
    const v = options[k];
    if (v !== undefined && !isPlainObject(v)) throw optionError(k, v, `\`${k}\` must be an options object (\`{}\` for the defaults)`);
  }
  const opt = options['optimizer'];
  const isSpec = typeof opt === 'string' || (isPlainObject(opt) && typeof opt['kind'] === 'string');
  if (opt !== undefined && !(isPlainObject(opt) && typeof opt['applyGradients'] === 'function') && !isSpec) {
    throw optionError('optimizer', opt, "must be a registered optimizer ('adamw', { kind: 'muon', … }) or a tf.Optimizer (e.g. tf.train.adam(0.001))");
  }
  const dev = options['device'];
  if (dev !== undefined && !(isPlainObject(dev) && typeof dev['matrix'] === 'function' && typeof dev['destroy'] === 'function')) {
    throw optionError('device', dev, 'must be a LinalgDevice (e.g. from linalgDeviceForTf())');
  }
  const skip = options['skipLayers'];
  if (skip !== undefined && !(Array.isArray(skip) && skip.every((k) => typeof k === 'string' && k !== ''))) {
    throw optionError('skipLayers', skip, 'must be an array of layer names or class names');
  }
  const ps = options['perSample'];
  if (ps !== undefined && ps !== 'share' && ps !== 'exact') {
    throw optionError('perSample', ps, "must be 'share' (default) or 'exact': how FNGD defines per-sample gradients when samples interact");
  }
  return (given[0] as TrainerKind | undefined) ?? 'fngd';
}

/** Validates `trainBatch` options: an object `{ batchKey, epoch? }`, no other key (a misspelt one is named). */
export function checkBatchOptions(options: unknown): void {
  if (!isPlainObject(options)) throw optionError('options', options, 'trainBatch: options `{ batchKey }` are required');
  checkKeys('trainBatch', options, ['batchKey', 'epoch']);
  if (!('batchKey' in options)) throw optionError('batchKey', undefined, 'trainBatch: `batchKey` is required (the batch\'s key in the coefficient cache)');
  const e = options['epoch'];
  if (e !== undefined && !(Number.isSafeInteger(e) && (e as number) >= 0)) throw optionError('epoch', e, 'trainBatch: must be an integer ≥ 0');
}

/** Validates `fit` options' keys and the types of `shuffle`, `validationData` and `callbacks`. */
export function checkFitOptions(options: unknown): void {
  if (!isPlainObject(options)) throw optionError('options', options, 'fit: options `{ epochs }` are required');
  checkKeys('fit', options, FIT_KEYS);
  const shuffle = options['shuffle'];
  if (shuffle !== undefined && typeof shuffle !== 'boolean' && shuffle !== 'samples') throw optionError('shuffle', shuffle, "fit: must be true, false or 'samples'");
  const val = options['validationData'];
  if (val !== undefined && !(Array.isArray(val) && val.length === 2)) throw optionError('validationData', val, 'fit: must be a pair [xs, ys]');
  const split = options['validationSplit'];
  if (split !== undefined) {
    if (typeof split !== 'number' || !(split > 0 && split < 1)) throw optionError('validationSplit', split, 'fit: must be a fraction in (0, 1)');
    if (val !== undefined) throw optionError('validationSplit', split, 'fit: give validationData or validationSplit, not both');
  }
  const verbose = options['verbose'];
  if (verbose !== undefined && verbose !== 0 && verbose !== 1 && verbose !== 2) throw optionError('verbose', verbose, 'fit: must be 0, 1 or 2');
  const initial = options['initialEpoch'];
  if (initial !== undefined && (!Number.isSafeInteger(initial) || (initial as number) < 0)) throw optionError('initialEpoch', initial, 'fit: must be an integer ≥ 0');
  callbackList(options['callbacks']);
}
