/**
 * What `OnnxTrainer.create` sets up: validated options, the analysed model (graph construction checked early),
 * the runtime, the optimizer on its device started at the model's initializers, and the warmed-up sessions.
 * @module
 */
import type { HostTree } from 'ifngd';
import { analyzeModel, type ModelAnalysis } from './analyze.js';
import { buildGraph } from './builder.js';
import { constantScales } from './constant-scales.js';
import { Engine } from './engine.js';
import { resolveTrainerOptions, type OnnxTrainerOptions, type TrainerOptions } from './options.js';
import { Passes } from './passes.js';
import { decodeModel, tensorFloats, type ModelProto } from './proto.js';
import { defaultRuntime } from '#runtime';
import { asRuntime, type OrtRuntime } from './runtime-check.js';
import { unshareIdentityInitializers } from './unshare.js';

/** Everything a trainer is made of. */
export interface TrainerParts {
  readonly an: ModelAnalysis;
  readonly o: TrainerOptions;
  readonly ort: OrtRuntime;
  readonly engine: Engine;
  readonly passes: Passes;
  /** The model `exportModel` writes the trained values into: as it came, the exporter's merged parameters given back. */
  readonly source: ModelProto;
  /** The trainable initializers' values. */
  readonly params: HostTree;
  /** The running statistics of the training-mode BatchNormalizations (`an.runningStats`), by initializer name. */
  readonly stats: HostTree;
}

/** The trainable initializers' values (copies), by name. */
function initialParams(an: ModelAnalysis): HostTree {
  const params: Record<string, Float32Array> = {};
  for (const p of an.params) params[p.name] = tensorFloats(an.initializers.get(p.name)!);
  return params;
}

/** The running statistics' values (copies), by name. */
function initialStats(an: ModelAnalysis): HostTree {
  const stats: Record<string, Float32Array> = {};
  for (const s of an.runningStats) for (const n of [s.mean, s.variance]) stats[n] = tensorFloats(an.initializers.get(n)!);
  return stats;
}

/** Sets a trainer up (see `OnnxTrainer.create` for what it throws); a throw releases the device it created. */
export async function setUpTrainer(modelBytes: Uint8Array, options: OnnxTrainerOptions): Promise<TrainerParts> {
  const o = resolveTrainerOptions(options);
  // parameters the exporter merged behind Identity nodes: one per layer again, as the source model trains them
  const source = unshareIdentityInitializers(decodeModel(modelBytes)).model;
  const an = analyzeModel(source, o.output, o.dims);
  buildGraph(an, o.loss, 'gradients'); // fail early on graph-construction errors
  const frozen = constantScales(an);
  if (frozen.length > 0) {
    console.warn(
      `ifngd OnnxTrainer: ${frozen.map((n) => `'${n}'`).join(', ')} stay constant — the trainer trains Gemm, MatMul and Conv ` +
        'weights and biases, BatchNormalization and embedding parameters, and the per-feature scales and shifts of one Mul or ' +
        'Add downstream of a trained layer; these are read by Sub or Div, by several nodes, applied to the inputs, or ' +
        'read as a matrix by an op no layer is made of',
    );
  }
  const ort = o.ort === undefined ? await defaultRuntime() : asRuntime(o.ort, 'options.ort', 'ort');
  const engine = await Engine.create(an, o);
  const params = initialParams(an);
  const passes = new Passes(an, o.loss, ort, o.sessionOptions);
  try {
    await engine.init(params); // NonFiniteError for NaN/±Infinity initializers
    await passes.warmUp();
  } catch (e) {
    engine.releaseDevice(); // e.g. an execution provider the runtime lacks
    throw e;
  }
  return { an, o, ort, engine, passes, params, stats: initialStats(an), source };
}
