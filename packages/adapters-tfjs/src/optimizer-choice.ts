/**
 * Which optimizer a trainer's options choose: a registered one (`fngd`, `kfac`, `optimizer: { kind, … }`, FNGD by
 * default), resolved through `ifngd`'s registry, or a tfjs optimizer.
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import { InvalidArgumentError, resolveOptimizer } from 'ifngd';
import { optionError } from './errors.js';
import type { EngineChoice } from './step-engine.js';
import type { FngdTrainerOptions } from './trainer-types.js';

/** Whether `v` is a tfjs optimizer (it has `applyGradients`). */
export function isTfOptimizer(v: unknown): v is tf.Optimizer {
  return typeof v === 'object' && v !== null && typeof (v as { applyGradients?: unknown }).applyGradients === 'function';
}

/** The optimizer of checked options (`checkTrainerOptions`); an unknown kind is an `InvalidOptionError` (key `optimizer`). */
export function engineChoice(options: FngdTrainerOptions): EngineChoice {
  const perSample = options.perSample ?? 'share';
  const o = options.optimizer;
  if (isTfOptimizer(o)) return { tf: o };
  for (const k of ['fngd', 'kfac'] as const) {
    const v = options[k] as Record<string, unknown> | undefined;
    if (v && 'kind' in v) throw optionError(`${k}.kind`, v['kind'], `\`${k}\` holds ${k}'s options; name another optimizer with \`optimizer: { kind }\``);
  }
  const spec = o !== undefined ? o : options.kfac !== undefined ? { ...options.kfac, kind: 'kfac' } : { ...(options.fngd ?? {}), kind: 'fngd' };
  try {
    return { resolved: resolveOptimizer(spec), perSample };
  } catch (e) {
    if (e instanceof InvalidArgumentError) throw optionError('optimizer', o, e.message);
    throw e;
  }
}
