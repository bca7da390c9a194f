/**
 * The optimizer registry: every kind a trainer can run, by name. A kind is one module with an
 * {@link OptimizerDefinition} and one {@link registerOptimizer} call; its options type joins
 * {@link OptimizerKinds} by declaration merging:
 * ```ts
 * declare module 'ifngd' {
 *   interface OptimizerKinds { lion: LionOptions }
 * }
 * registerOptimizer(lionDefinition);
 * ```
 * Both trainers then take `{ optimizer: { kind: 'lion', … } }`.
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import { adamDefinition, adamwDefinition, type AdamOptions } from './adam.js';
import type { OptimizerDefinition, OptimizerEnv, TrainingOptimizer } from './contract.js';
import { fngdDefinition, type FngdTrainingOptions } from './fngd.js';
import { kfacDefinition, type KfacTrainingOptions } from './kfac.js';
import { muonDefinition, type MuonOptions } from './muon.js';
import { shampooDefinition, type ShampooOptions } from './shampoo.js';
import { sgdDefinition, type SgdOptions } from './sgd.js';

/** The options of each registered kind, by kind (extended by declaration merging). */
export interface OptimizerKinds {
  fngd: FngdTrainingOptions;
  kfac: KfacTrainingOptions;
  sgd: SgdOptions;
  adam: AdamOptions;
  adamw: AdamOptions;
  muon: MuonOptions;
  shampoo: ShampooOptions;
}

/** An optimizer as options name it: `{ kind, …its options }`, or the kind alone for its defaults. */
export type OptimizerSpec =
  | { [K in keyof OptimizerKinds]: { readonly kind: K } & OptimizerKinds[K] }[keyof OptimizerKinds]
  | keyof OptimizerKinds;

const DEFINITIONS = new Map<string, OptimizerDefinition<any>>();

/**
 * Registers an optimizer kind. Throws `InvalidArgumentError` for a definition that is not one, a kind or a
 * checkpoint format already taken.
 */
export function registerOptimizer<O>(definition: OptimizerDefinition<O>): void {
  const d = definition as Partial<OptimizerDefinition<O>> | null;
  const valid =
    typeof d === 'object' && d !== null && typeof d.kind === 'string' && /^[a-z][a-z0-9-]*$/.test(d.kind) &&
    typeof d.checkpointFormat === 'string' && d.checkpointFormat !== '' && (d.trees === 'host' || d.trees === 'any') &&
    typeof d.create === 'function';
  if (!valid) throw new InvalidArgumentError('registerOptimizer: a definition { kind (lower-case), checkpointFormat, trees: "host" | "any", create } is required');
  if (DEFINITIONS.has(definition.kind)) throw new InvalidArgumentError(`registerOptimizer: an optimizer '${definition.kind}' is registered already`);
  const owner = [...DEFINITIONS.values()].find((o) => o.checkpointFormat === definition.checkpointFormat);
  if (owner) throw new InvalidArgumentError(`registerOptimizer: checkpoint format '${definition.checkpointFormat}' belongs to '${owner.kind}'`);
  DEFINITIONS.set(definition.kind, definition);
}

for (const d of [fngdDefinition, kfacDefinition, sgdDefinition, adamDefinition, adamwDefinition, muonDefinition, shampooDefinition]) registerOptimizer(d as OptimizerDefinition<any>);

/** The registered kinds, in registration order. */
export function optimizerKinds(): string[] {
  return [...DEFINITIONS.keys()];
}

/** A spec split into its definition and options (validated as a spec; the options are the definition's to check). */
export interface ResolvedOptimizer {
  readonly definition: OptimizerDefinition<unknown>;
  readonly options: Record<string, unknown>;
}

/**
 * Resolves `{ kind, …options }` or a kind name; throws `InvalidArgumentError` for anything else or an unknown
 * kind (naming the registered ones).
 */
export function resolveOptimizer(spec: unknown, where = 'optimizer'): ResolvedOptimizer {
  const kinds = () => optimizerKinds().map((k) => `'${k}'`).join(', ');
  const kind = typeof spec === 'string' ? spec : typeof spec === 'object' && spec !== null && !Array.isArray(spec) ? (spec as { kind?: unknown }).kind : undefined;
  if (typeof kind !== 'string') throw new InvalidArgumentError(`${where}: expected a kind (${kinds()}) or { kind, …options }, got ${spec === null ? 'null' : typeof spec}`);
  const definition = DEFINITIONS.get(kind);
  if (!definition) throw new InvalidArgumentError(`${where}: unknown optimizer kind '${kind}'; registered: ${kinds()}`);
  const { kind: _kind, ...options } = typeof spec === 'string' ? { kind } : (spec as Record<string, unknown>);
  return { definition, options };
}

/** Creates the optimizer a spec names for a trainer (its definition validates the options). */
export function createOptimizer<T>(spec: OptimizerSpec | ResolvedOptimizer, env: OptimizerEnv<T>): TrainingOptimizer<T> {
  const r = typeof spec === 'object' && spec !== null && 'definition' in spec ? spec : resolveOptimizer(spec);
  return r.definition.create(r.options, env);
}

/** The kind whose checkpoints carry `format`, or null. */
export function kindOfCheckpointFormat(format: unknown): string | null {
  for (const d of DEFINITIONS.values()) if (d.checkpointFormat === format) return d.kind;
  return null;
}
