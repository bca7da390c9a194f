/**
 * What a KFAC optimizer checkpoint holds, and its validation on restore. The container is
 * `checkpoint.ts`'s (magic, container version, CRC-32, float arrays bit for bit); the payload carries its own
 * format name and version, the model fingerprint, the layer configuration, the core counters, every layer's
 * running averages and inverses, the diagonal block's leaves, second moments and inverse, and the transformation
 * state (momentum buffers, schedule position, …). Version 1 payloads (no diagonal block) restore into optimizers
 * without diagonal leaves.
 * @module
 */
import { decodeCheckpoint, encodeCheckpoint, sameStructure } from '../checkpoint.js';
import { allFiniteDeep, checkModelRecord, fromPlain, modelRecord, toPlain } from '../optimizer-checkpoint.js';
import { CheckpointError } from '../errors.js';
import type { LeafSpec, TreeOps } from '../tree.js';
import { aOrder, checkLeaves, type LayerDims } from './dims.js';
import type { KfacDiagonalState } from './diagonal.js';
import type { KfacLayerState } from './layer-state.js';
import type { KfacLayer } from './options.js';
import type { KfacAdaptiveState } from './adaptive.js';

/** Payload format name of a KFAC optimizer checkpoint. */
export const KFAC_CHECKPOINT_FORMAT = 'ifngd-kfac';
const FORMAT = KFAC_CHECKPOINT_FORMAT;
/** Version of the KFAC checkpoint payload (3: the adaptive mode's state). */
export const KFAC_CHECKPOINT_VERSION = 3;

/** The optimizer's counters beyond the transformation chain. */
export interface KfacCore {
  /** Applied steps. */
  readonly step: number;
  readonly skippedSteps: number;
  readonly factorUpdates: number;
  readonly inverseRefreshes: number;
  readonly lastRefreshStep: number | null;
}

/** Everything a checkpoint stores. */
export interface KfacSnapshot<T> {
  readonly spec: readonly LeafSpec[];
  readonly layers: readonly Required<KfacLayer>[];
  readonly chain: unknown;
  readonly core: KfacCore;
  readonly states: readonly KfacLayerState[];
  readonly diagonal: readonly string[];
  readonly diagonalState: KfacDiagonalState;
  /** The adaptive mode's state (null when the optimizer is not adaptive). */
  readonly adaptive: KfacAdaptiveState | null;
  readonly ops: TreeOps<T>;
}

/** Encodes a snapshot. */
export function serializeKfac<T>(s: KfacSnapshot<T>): Uint8Array {
  return encodeCheckpoint({
    format: FORMAT,
    version: KFAC_CHECKPOINT_VERSION,
    model: modelRecord(s.spec),
    layers: s.layers.map((l) => ({ ...l })),
    core: { ...s.core },
    states: s.states.map((st) => ({ ...st, dims: st.dims ? { ...st.dims } : null })),
    diagonal: [...s.diagonal],
    diagonalState: { ...s.diagonalState },
    adaptive: s.adaptive ? { ...s.adaptive, velocity: s.adaptive.velocity ? { ...s.adaptive.velocity } : null } : null,
    chain: toPlain(s.chain, s.ops),
  });
}

const bad = (what: string): never => {
  throw new CheckpointError('CHECKPOINT_FORMAT', `checkpoint: invalid ${what}`);
};
const count = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;

function checkCore(c: unknown): KfacCore {
  const x = c as Record<string, unknown> | null;
  if (typeof x !== 'object' || x === null) return bad('core state');
  const ok =
    count(x.step) &&
    count(x.skippedSteps) &&
    count(x.factorUpdates) &&
    count(x.inverseRefreshes) &&
    (x.lastRefreshStep === null || count(x.lastRefreshStep));
  if (!ok) return bad('core state');
  return {
    step: x.step as number,
    skippedSteps: x.skippedSteps as number,
    factorUpdates: x.factorUpdates as number,
    inverseRefreshes: x.inverseRefreshes as number,
    lastRefreshStep: x.lastRefreshStep as number | null,
  };
}

function matrix<A extends Float32Array | Float64Array>(
  v: unknown,
  kind: new (n: number) => A,
  order: number,
  what: string,
): A | null {
  if (v === null) return null;
  if (!(v instanceof kind) || v.length !== order * order || !v.every(Number.isFinite)) return bad(what);
  return v;
}

function checkState(
  v: unknown,
  layer: Required<KfacLayer>,
  l: number,
  leafSize: (name: string) => number | undefined,
): KfacLayerState {
  const x = v as Record<string, unknown> | null;
  if (typeof x !== 'object' || x === null) return bad(`state of layer ${l}`);
  const d = x.dims as Record<string, unknown> | null;
  if (d === null) {
    const empty = x.a === null && x.g === null && x.aInv === null && x.gInv === null && x.pi === null;
    return empty ? { dims: null, a: null, g: null, aInv: null, gInv: null, pi: null } : bad(`state of layer ${l}`);
  }
  if (
    typeof d !== 'object' ||
    !count(d.p) ||
    !count(d.q) ||
    (d.p as number) < 1 ||
    (d.q as number) < 1 ||
    d.bias !== (layer.bias !== null)
  ) {
    return bad(`dimensions of layer ${l}`);
  }
  const dims: LayerDims = { p: d.p as number, q: d.q as number, bias: d.bias as boolean };
  try {
    checkLeaves(dims, layer, leafSize);
  } catch (err) {
    throw new CheckpointError('CHECKPOINT_MODEL', `checkpoint: ${(err as Error).message}`);
  }
  const a = matrix(x.a, Float64Array, aOrder(dims), `A of layer ${l}`);
  const g = matrix(x.g, Float64Array, dims.q, `G of layer ${l}`);
  const aInv = matrix(x.aInv, Float32Array, aOrder(dims), `A⁻¹ of layer ${l}`);
  const gInv = matrix(x.gInv, Float32Array, dims.q, `G⁻¹ of layer ${l}`);
  const pi = x.pi;
  if (!a || !g) return bad(`factors of layer ${l}`);
  const inverses = aInv !== null && gInv !== null && typeof pi === 'number' && Number.isFinite(pi) && pi > 0;
  if (!inverses && !(aInv === null && gInv === null && pi === null)) return bad(`inverses of layer ${l}`);
  return { dims, a, g, aInv, gInv, pi: inverses ? (pi as number) : null };
}

function checkDiagonal(v: unknown, size: number): KfacDiagonalState {
  const x = v as Record<string, unknown> | null;
  if (typeof x !== 'object' || x === null) return bad('diagonal state');
  const vector = <A extends Float32Array | Float64Array>(u: unknown, kind: new (n: number) => A, what: string): A | null => {
    if (u === null) return null;
    if (!(u instanceof kind) || u.length !== size || !u.every((e) => Number.isFinite(e) && e >= 0)) return bad(what);
    return u;
  };
  const d = vector(x.d, Float64Array, 'diagonal second moments');
  const inv = vector(x.inv, Float32Array, 'diagonal inverse');
  if (d === null && inv !== null) return bad('diagonal state (an inverse without second moments)');
  if (inv !== null && !inv.every((e) => e > 0)) return bad('diagonal inverse');
  return { d, inv };
}

/**
 * Decodes and validates a checkpoint against the current model, layer configuration and transformation
 * state structure. Pure: returns the restored pieces or throws {@link CheckpointError} (`CHECKPOINT_FORMAT`,
 * `CHECKPOINT_VERSION`, `CHECKPOINT_CHECKSUM`, `CHECKPOINT_MODEL`).
 */
export function restoreKfac<T>(
  bytes: Uint8Array,
  current: {
    spec: readonly LeafSpec[];
    layers: readonly Required<KfacLayer>[];
    diagonal: readonly string[];
    chain: unknown;
    /** Whether the optimizer runs the adaptive mode. */
    adaptive: boolean;
    ops: TreeOps<T>;
  },
): { chain: unknown; core: KfacCore; states: KfacLayerState[]; diagonalState: KfacDiagonalState; adaptive: KfacAdaptiveState | null } {
  const p = decodeCheckpoint(bytes) as Record<string, unknown> | null;
  if (typeof p !== 'object' || p === null || p.format !== FORMAT)
    return bad('payload (not a KFAC optimizer checkpoint)');
  const v1 = p.version === 1 && current.diagonal.length === 0;
  // versions 1 and 2 hold no adaptive state: they restore into optimizers that are not adaptive
  const older = (v1 || p.version === 2) && !current.adaptive;
  if (p.version !== KFAC_CHECKPOINT_VERSION && !older) {
    throw new CheckpointError(
      'CHECKPOINT_VERSION',
      `checkpoint: KFAC payload version ${String(p.version)}, this build reads ${KFAC_CHECKPOINT_VERSION}`,
    );
  }
  checkModelRecord(p.model, current.spec);
  if (JSON.stringify(p.layers) !== JSON.stringify(current.layers)) {
    throw new CheckpointError(
      'CHECKPOINT_MODEL',
      `checkpoint KFAC layers ${JSON.stringify(p.layers)}, optimizer layers ${JSON.stringify(current.layers)}`,
    );
  }
  const diagonal = v1 ? [] : p.diagonal;
  if (JSON.stringify(diagonal) !== JSON.stringify(current.diagonal)) {
    throw new CheckpointError(
      'CHECKPOINT_MODEL',
      `checkpoint KFAC diagonal leaves ${JSON.stringify(diagonal)}, optimizer diagonal leaves ${JSON.stringify(current.diagonal)}`,
    );
  }
  if (!allFiniteDeep(p.chain)) return bad('transformation state (NaN or ±Infinity)');
  if (!sameStructure(toPlain(current.chain, current.ops), p.chain)) {
    throw new CheckpointError(
      'CHECKPOINT_MODEL',
      'checkpoint was made with another optimizer configuration (transformation state differs)',
    );
  }
  const core = checkCore(p.core);
  const sizes = new Map(current.spec.map((l) => [l.name, l.size]));
  if (!Array.isArray(p.states) || p.states.length !== current.layers.length) return bad('layer states');
  const states = p.states.map((s, l) => checkState(s, current.layers[l]!, l, (name) => sizes.get(name)));
  const diagonalSize = current.diagonal.reduce((s, name) => s + (sizes.get(name) ?? 0), 0);
  const diagonalState = v1 ? { d: null, inv: null } : checkDiagonal(p.diagonalState, diagonalSize);
  const saved = p.version === KFAC_CHECKPOINT_VERSION ? p.adaptive : null;
  if ((saved !== null) !== current.adaptive) {
    throw new CheckpointError('CHECKPOINT_MODEL', `checkpoint was made ${current.adaptive ? 'without' : 'with'} the adaptive mode; the optimizer runs ${current.adaptive ? 'it' : 'without it'}`);
  }
  const adaptive = saved === null ? null : checkAdaptive(saved, sizes);
  return { chain: fromPlain(p.chain, current.ops), core, states, diagonalState, adaptive };
}

function checkAdaptive(v: unknown, sizes: ReadonlyMap<string, number>): KfacAdaptiveState {
  const x = v as Record<string, unknown> | null;
  if (typeof x !== 'object' || x === null) return bad('adaptive state');
  const num = (u: unknown, positive: boolean): boolean => typeof u === 'number' && Number.isFinite(u) && (!positive || u > 0);
  const orNull = (u: unknown): boolean => u === null || num(u, false);
  if (!num(x.damping, true) || !orNull(x.learningRate) || !orNull(x.momentum) || !orNull(x.rho)) return bad('adaptive state');
  let velocity: Record<string, Float32Array> | null = null;
  if (x.velocity !== null) {
    const vel = x.velocity as Record<string, unknown>;
    if (typeof vel !== 'object' || vel === null) return bad('adaptive velocity');
    const names = Object.keys(vel);
    if (names.length !== sizes.size) return bad('adaptive velocity');
    velocity = {};
    for (const name of names) {
      const a = vel[name];
      if (!(a instanceof Float32Array) || a.length !== sizes.get(name) || !a.every(Number.isFinite)) return bad(`adaptive velocity of '${name}'`);
      velocity[name] = a;
    }
  }
  return { damping: x.damping as number, velocity, learningRate: x.learningRate as number | null, momentum: x.momentum as number | null, rho: x.rho as number | null };
}
