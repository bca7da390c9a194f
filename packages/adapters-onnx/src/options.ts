/**
 * Options of {@link OnnxTrainer.create} and of one step.
 * @module
 */
import type { LinalgDevice } from '@ifngd/linalg-gpu';
import { resolveOptimizer, type FngdOptions, type OptimizerSpec, type ResolvedOptimizer } from 'ifngd';
import type { InferenceSession } from 'onnxruntime-common';
import { InvalidOptionError } from './errors.js';
import type { OnnxKfacOptions } from './kfac.js';
import type { LossKind } from './loss.js';
import type { OrtRuntime } from './runtime-check.js';

/**
 * Options of {@link OnnxTrainer.create}: the loss, the runtime, and every FNGD option — or `kfac`, or any
 * registered `optimizer`. Only `loss` is required; `learningRate`, `damping`, `momentum` and `mode` default to
 * `ifngd`'s measured `FNGD_DEFAULTS`. Any other key is an `InvalidOptionError`.
 */
export interface OnnxTrainerOptions extends Omit<FngdOptions, 'device' | 'ops'> {
  /**
   * Train with KFAC instead of FNGD (`ifngd`'s `kfac` options without `device`/`ops`/`layers`; missing fields
   * from `KFAC_DEFAULTS`). Its layers are the Kronecker ones (Gemm, MatMul(+Add), Conv with group 1); embeddings,
   * grouped convolutions and scale-shift layers take the plain gradient. No FNGD option may be given beside it
   * (`InvalidOptionError`).
   */
  readonly kfac?: OnnxKfacOptions;
  /**
   * Train with any registered optimizer instead of FNGD: `'adamw'`, `{ kind: 'muon', learningRate: 0.02 }`,
   * `{ kind: 'sgd', momentum: 0.9 }`, … (`ifngd`'s `OptimizerKinds`; `{ kind: 'fngd', … }` and
   * `{ kind: 'kfac', … }` too). No FNGD option and no `kfac` may be given beside it (`InvalidOptionError`).
   */
  readonly optimizer?: OptimizerSpec;
  /** `'softmax-cross-entropy'` (output `[N,C]`, logits or Softmax/LogSoftmax output) or `'mse'`. */
  readonly loss: LossKind;
  /** Model output the loss applies to; default the first output. */
  readonly output?: string;
  /** Linear-algebra device for Grams and Cholesky; default `createDevice({ backend: 'auto' })`. */
  readonly device?: LinalgDevice;
  /**
   * ONNX Runtime module (`import * as ort from 'onnxruntime-web'` or `'onnxruntime-node'`). Default: in Node
   * `onnxruntime-node`, else `onnxruntime-web`; in browsers a global `ort`, else `onnxruntime-web`.
   */
  readonly ort?: OrtRuntime;
  /** Session options, e.g. `{ executionProviders: ['webgpu'] }`; default cpu. */
  readonly sessionOptions?: InferenceSession.SessionOptions;
  /**
   * Sizes of the inputs' symbolic dims after the batch, by their names in the file (`dims: { seq: 16 }` for an
   * export with `dynamic_axes={"ids": {0: "batch", 1: "seq"}}`): the trainer trains at those sizes, and feeds of
   * another size are refused.
   */
  readonly dims?: Readonly<Record<string, number>>;
}

/** Options of one {@link OnnxTrainer.step}. */
export interface StepOptions {
  /** Key of the batch in the fixed partition (the FNGD coefficient cache is keyed by it; KFAC ignores it). */
  readonly batchKey: string | number;
  /** Epoch (0-based); default the trainer's current epoch. */
  readonly epoch?: number;
}

/** The FNGD options the trainer passes on to `fngd()` (every `FngdOptions` key but `device` and `ops`). */
type FngdKey = keyof Omit<FngdOptions, 'device' | 'ops'>;

/** Every FNGD option key — checked against `ifngd`'s `FngdOptions` at compile time (a new option fails the build here). */
const FNGD_KEYS = {
  learningRate: true,
  damping: true,
  mode: true,
  refresh: true,
  momentum: true,
  weightDecay: true,
  clipNorm: true,
  guard: true,
  adaptiveDamping: true,
  onNonFinite: true,
  maxJitterRetries: true,
  maxCachedBatches: true,
} as const satisfies Record<FngdKey, true>;

/** The trainer's own keys. */
const OWN_KEYS = ['loss', 'output', 'device', 'ort', 'sessionOptions', 'kfac', 'optimizer', 'dims'] as const;

/** Options of {@link OnnxTrainer.create} after validation, split by who takes them. */
export interface TrainerOptions {
  readonly loss: LossKind;
  readonly output: string | undefined;
  readonly device: LinalgDevice | undefined;
  /** The `ort` option as given (checked by `asRuntime`). */
  readonly ort: unknown;
  readonly sessionOptions: InferenceSession.SessionOptions;
  /** The optimizer: FNGD with the FNGD options given, KFAC with `kfac`, or `optimizer` (values are its to validate). */
  readonly optimizer: ResolvedOptimizer;
  /** Sizes of symbolic non-batch dims, by name. */
  readonly dims: Readonly<Record<string, number>>;
}

const bad = (key: string, value: unknown, why: string): never => {
  throw new InvalidOptionError(`${key}: ${why}, got ${show(value)}`, { key, value });
};

/** A short rendering of an option value for messages. */
export function show(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'function') return 'a function';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object' && v !== null) return 'an object';
  return String(v);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Throws `InvalidOptionError` naming the first key of `o` outside `known` (`where` prefixes the key). */
export function rejectUnknownKeys(o: object, known: readonly string[], where: string): void {
  for (const key of Object.keys(o)) {
    if (!known.includes(key)) {
      const value = (o as Record<string, unknown>)[key];
      throw new InvalidOptionError(`unknown option '${where}${key}' (value ${show(value)}); known: ${known.join(', ')}`, { key: `${where}${key}`, value });
    }
  }
}

/**
 * Validates the options of {@link OnnxTrainer.create} before anything is built: an options object, no unknown
 * key, `loss` one of the two, `output` a name, `device` and `sessionOptions` objects, `kfac` an object without
 * trainer-owned keys and not beside FNGD options. Values of FNGD and KFAC options are `ifngd`'s to validate.
 */
export function resolveTrainerOptions(options: unknown): TrainerOptions {
  if (!isRecord(options)) throw new InvalidOptionError(`options must be an object with at least \`loss\`, got ${show(options)}`, { key: 'options', value: options });
  rejectUnknownKeys(options, [...OWN_KEYS, ...Object.keys(FNGD_KEYS)], '');
  const { loss, output, device, ort, sessionOptions, kfac, optimizer, dims, ...fngd } = options;
  if (dims !== undefined && !(isRecord(dims) && Object.values(dims).every((d) => Number.isSafeInteger(d) && (d as number) >= 1))) {
    bad('dims', dims, 'must be an object of sizes ≥ 1 by dim name, e.g. { seq: 16 }');
  }
  if (loss !== 'softmax-cross-entropy' && loss !== 'mse') bad('loss', loss, "must be 'softmax-cross-entropy' or 'mse'");
  if (output !== undefined && (typeof output !== 'string' || output === '')) bad('output', output, 'must be the name of a model output');
  if (device !== undefined && (!isRecord(device) || typeof device.matrix !== 'function')) bad('device', device, 'must be a @ifngd/linalg-gpu device');
  if (sessionOptions !== undefined && !isRecord(sessionOptions)) bad('sessionOptions', sessionOptions, 'must be an InferenceSession.SessionOptions object');
  if (kfac !== undefined) checkKfacOptions(kfac, fngd);
  for (const [k, v] of [['kfac', kfac], ['', fngd]] as const) {
    if (isRecord(v) && 'kind' in v) throw new InvalidOptionError(`${k ? 'kfac.' : ''}kind: name another optimizer with \`optimizer: { kind }\``, { key: k ? 'kfac.kind' : 'kind', value: v['kind'] });
  }
  const chosen = optimizer !== undefined ? checkOptimizer(optimizer, kfac, fngd) : resolveOptimizer(kfac !== undefined ? { ...kfac, kind: 'kfac' } : { ...fngd, kind: 'fngd' });
  return {
    loss: loss as LossKind,
    output: output as string | undefined,
    device: device as LinalgDevice | undefined,
    ort,
    sessionOptions: (sessionOptions as InferenceSession.SessionOptions | undefined) ?? { executionProviders: ['cpu'] },
    optimizer: chosen,
    dims: (dims as Record<string, number> | undefined) ?? {},
  };
}

/** Resolves `optimizer`: alone (no `kfac`, no FNGD option beside it) and a registered kind (`InvalidOptionError`). */
function checkOptimizer(spec: unknown, kfac: unknown, fngdOptions: Readonly<Record<string, unknown>>): ResolvedOptimizer {
  if (kfac !== undefined) throw new InvalidOptionError('give `optimizer` or `kfac`, not both', { key: 'kfac', value: kfac });
  const fngdKeys = Object.keys(fngdOptions).filter((key) => fngdOptions[key] !== undefined);
  if (fngdKeys.length > 0) {
    const key = fngdKeys[0]!;
    throw new InvalidOptionError(`FNGD options go inside \`optimizer: { kind: 'fngd', … }\` when \`optimizer\` is given (got ${fngdKeys.join(', ')} beside it)`, { key, value: fngdOptions[key] });
  }
  try {
    return resolveOptimizer(spec);
  } catch (e) {
    throw new InvalidOptionError((e as Error).message, { key: 'optimizer', value: spec });
  }
}

/** Throws `InvalidOptionError` for `kfac` options that are not an object, set trainer-owned keys, or come with FNGD options. */
export function checkKfacOptions(k: unknown, fngdOptions: Readonly<Record<string, unknown>>): void {
  if (!isRecord(k)) throw new InvalidOptionError(`kfac must be an options object (\`{}\` for KFAC_DEFAULTS), got ${show(k)}`, { key: 'kfac', value: k });
  for (const key of ['device', 'ops', 'layers']) if (key in k) throw new InvalidOptionError(`kfac.${key} is set by the trainer; remove it`, { key: `kfac.${key}`, value: k[key] });
  const fngdKeys = Object.keys(fngdOptions).filter((key) => fngdOptions[key] !== undefined);
  if (fngdKeys.length > 0) {
    const key = fngdKeys[0]!;
    throw new InvalidOptionError(`give FNGD options or \`kfac\`, not both (got ${fngdKeys.join(', ')} beside kfac)`, { key, value: fngdOptions[key] });
  }
}

/** Validates the options of one step: an object (or absent) with no key but `batchKey` and `epoch`. */
export function checkStepOptions(o: unknown): StepOptions | undefined {
  if (o === undefined) return undefined;
  if (!isRecord(o)) return bad('step', o, 'must be an object ({ batchKey, epoch? })');
  rejectUnknownKeys(o, ['batchKey', 'epoch'], 'step.');
  return o as unknown as StepOptions;
}
