/**
 * What every optimizer on host trees shares (SGD, Adam, AdamW, Muon, Shampoo): the step on a captured batch
 * (the mean-loss gradient with the regularizers' gradients, one read), `ifngd`'s one non-finite rule, the learning
 * rate evaluated once per step, counters, and a checkpoint that records the model's leaves and refuses another
 * kind, model or state shape. Each optimizer supplies only its update rule.
 * @module
 */
import { decodeCheckpoint, encodeCheckpoint, sameStructure } from '../checkpoint.js';
import { CheckpointError, InvalidArgumentError, NonFiniteError, NotInitializedError } from '../errors.js';
import { checkKeys, checkObject } from '../option-keys.js';
import { allFiniteDeep, checkModelRecord, fromPlain, modelRecord, toPlain } from '../optimizer-checkpoint.js';
import { scheduledRate } from '../rate.js';
import { asSchedule, type Schedule } from '../schedule.js';
import { hostTreeOps, type HostTree, type LeafSpec, type TreeOps } from '../tree.js';
import type { StepCapture, StepOutcome, TrainingOptimizer } from './contract.js';

/** Options every host optimizer takes. */
export interface HostOptimizerOptions {
  /** Learning rate or schedule of the step count. */
  readonly learningRate?: number | Schedule;
  /** A non-finite loss, gradient or update: throw `NonFiniteError` (default) or skip the step (counted). */
  readonly onNonFinite?: 'throw' | 'skip';
}

/** The counters of a host optimizer. */
export interface HostOptimizerStats {
  /** Applied steps. */
  readonly steps: number;
  /** Steps skipped under `onNonFinite: 'skip'`. */
  readonly skippedSteps: number;
}

/** What an update rule returns: the parameter change `Δθ` (already times −lr), the next state, and whether the step
 * computed fresh curvature (a preconditioner's roots; default false). */
export interface RuleUpdate<S> {
  readonly updates: HostTree;
  readonly state: S;
  readonly fresh?: boolean;
}

/** An update rule: the step's parameter change and the next rule state; `dispose` releases what it keeps on a device. */
export interface UpdateRule<S> {
  init(params: HostTree): S;
  update(grads: HostTree, state: S, params: HostTree, lr: number): Promise<RuleUpdate<S>> | RuleUpdate<S>;
  dispose?(): void;
}

/** Checks `options` against `known` keys (plus the shared ones) and resolves the shared ones. */
export function hostOptions(options: unknown, known: readonly string[], kind: string, defaultRate: number): { learningRate: Schedule; onNonFinite: 'throw' | 'skip' } {
  checkObject(options, kind);
  checkKeys(options, ['learningRate', 'onNonFinite', ...known], kind);
  const o = options as HostOptimizerOptions;
  const onNonFinite = o.onNonFinite ?? 'throw';
  if (onNonFinite !== 'throw' && onNonFinite !== 'skip') throw new InvalidArgumentError(`${kind}: onNonFinite must be 'throw' or 'skip', got ${String(onNonFinite)}`);
  const lr = o.learningRate ?? defaultRate;
  if (typeof lr === 'number' && !(lr >= 0 && Number.isFinite(lr))) throw new InvalidArgumentError(`${kind}: learningRate must be finite and ≥ 0, got ${String(lr)}`);
  return { learningRate: asSchedule(lr, `${kind}: learningRate`), onNonFinite };
}

/** A number option in a range, or its default. */
export function numberOption(o: Record<string, unknown>, key: string, fallback: number, ok: (v: number) => boolean, range: string, kind: string): number {
  const v = o[key] ?? fallback;
  if (typeof v !== 'number' || !ok(v)) throw new InvalidArgumentError(`${kind}: ${key} must be ${range}, got ${String(v)}`);
  return v;
}

const allFinite = (t: HostTree): boolean => Object.values(t).every((a) => a.every(Number.isFinite));

/** A first-order optimizer on host trees, driven through the optimizer contract. */
export class HostOptimizer<S> implements TrainingOptimizer<HostTree> {
  readonly kind: string;
  readonly inner: this = this;
  readonly #format: string;
  readonly #rule: UpdateRule<S>;
  readonly #lr: Schedule;
  readonly #skip: boolean;
  readonly #ops: TreeOps<HostTree, unknown>;
  #spec: readonly LeafSpec[] | null = null;
  #state: S | null = null;
  #steps = 0;
  #skipped = 0;
  #busy = false;

  /** `ops`: the trainer's host tree ops (their `spec` gives the leaves' shapes the checkpoint records). */
  constructor(kind: string, format: string, rule: UpdateRule<S>, shared: { learningRate: Schedule; onNonFinite: 'throw' | 'skip' }, ops: TreeOps<HostTree, unknown>) {
    this.kind = kind;
    this.#ops = ops;
    this.#format = format;
    this.#rule = rule;
    this.#lr = shared.learningRate;
    this.#skip = shared.onNonFinite === 'skip';
  }

  /** The rule's state (moments, momentum buffers); null before `init`. */
  get state(): S | null {
    return this.#state;
  }

  get stats(): HostOptimizerStats {
    return { steps: this.#steps, skippedSteps: this.#skipped };
  }

  async init(params: HostTree): Promise<void> {
    this.#idle('init');
    if (!allFinite(params)) throw new NonFiniteError('init: parameters hold NaN or ±Infinity');
    this.#state = this.#rule.init(params);
    this.#spec = this.#ops.spec(params);
    this.#steps = 0;
    this.#skipped = 0;
  }

  async step(capture: StepCapture<HostTree>): Promise<StepOutcome<HostTree>> {
    this.#idle('step');
    const state = this.#state;
    if (state === null || this.#spec === null) throw new NotInitializedError('step: call init(params) (or restore) first');
    this.#busy = true;
    try {
      const n = capture.n;
      const g = await capture.gradients({ weights: new Float32Array(n).fill(1 / n), plainWeight: 1 / n, penalties: 1 });
      const { loss } = await capture.read([]);
      const skipped = (why: string): StepOutcome<HostTree> => {
        if (!this.#skip) throw new NonFiniteError(`step: ${why}; nothing changed`);
        this.#skipped++;
        return { params: g.params, loss, fresh: false };
      };
      if (!Number.isFinite(loss)) return skipped(`the batch's mean loss is ${loss}`);
      if (!allFinite(g.grads)) return skipped('gradients hold NaN or ±Infinity');
      const lr = scheduledRate(this.#lr, this.#steps, this.#skip, 'step');
      if (!Number.isFinite(lr)) return skipped(`the learning rate is ${lr}`);
      const r = await this.#rule.update(g.grads, state, g.params, lr);
      const next: Record<string, Float32Array> = {};
      for (const [k, p] of Object.entries(g.params)) {
        const u = r.updates[k] as Float32Array;
        const out = new Float32Array(p.length);
        for (let i = 0; i < p.length; i++) out[i] = (p[i] as number) + (u[i] as number);
        next[k] = out;
      }
      if (!allFinite(next)) return skipped('the update holds NaN or ±Infinity');
      // --- commit ---
      this.#state = r.state;
      this.#steps++;
      return { params: next, loss, fresh: r.fresh ?? false };
    } finally {
      this.#busy = false;
    }
  }

  serialize(): Uint8Array {
    if (this.#state === null || this.#spec === null) throw new NotInitializedError('serialize: call init(params) (or restore) first');
    return encodeCheckpoint({
      format: this.#format,
      version: 1,
      model: modelRecord(this.#spec),
      core: { steps: this.#steps, skippedSteps: this.#skipped },
      state: toPlain(this.#state, hostTreeOps),
    });
  }

  restore(bytes: Uint8Array): void {
    this.#idle('restore');
    if (this.#state === null || this.#spec === null) throw new NotInitializedError('restore: call init(params) first (the checkpoint must match its parameters)');
    const bad = (what: string): never => {
      throw new CheckpointError('CHECKPOINT_FORMAT', `checkpoint: invalid ${what}`);
    };
    const p = decodeCheckpoint(bytes) as Record<string, unknown> | null;
    if (typeof p !== 'object' || p === null) return bad('payload');
    if (p.format !== this.#format) throw new CheckpointError('CHECKPOINT_FORMAT', `checkpoint: not a ${this.kind} checkpoint (format ${JSON.stringify(p.format)})`);
    if (p.version !== 1) throw new CheckpointError('CHECKPOINT_VERSION', `checkpoint: ${this.kind} payload version ${String(p.version)} is not supported`);
    checkModelRecord(p.model, this.#spec);
    const core = p.core as Record<string, unknown> | null;
    const count = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
    if (typeof core !== 'object' || core === null || !count(core.steps) || !count(core.skippedSteps)) return bad('core state');
    const plainNow = toPlain(this.#state, hostTreeOps);
    if (!sameStructure(plainNow, p.state)) return bad('optimizer state (another configuration or model)');
    if (!allFiniteDeep(p.state)) return bad('optimizer state (non-finite values)');
    // --- commit ---
    this.#state = fromPlain(p.state, hostTreeOps) as S;
    this.#steps = core.steps;
    this.#skipped = core.skippedSteps;
  }

  dispose(): void {
    this.#rule.dispose?.();
  }

  #idle(what: string): void {
    if (this.#busy) throw new InvalidArgumentError(`${what}: a step is still running; await it first`);
  }
}
