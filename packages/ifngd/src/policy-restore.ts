/**
 * Checkpoints across refresh policies. A checkpoint records the policy kind it was made with; restoring it
 * into an optimizer with another policy converts, for every pair of `'first-epoch'`, `everyEpochs`, `'always'`,
 * `'drift'` and `'auto'`:
 *
 * - **cached coefficients, counters, transformation state: kept.** A cache entry is a policy-independent fact
 *   (α of a batch, computed at epoch e with λ, its fresh update norm and losses); every policy reads the same
 *   fields, and a stale mark is honoured by every policy (the batch is recomputed at its next visit).
 * - **the policy's own state: kept from the same kind, fresh from another.** `'drift'`'s probe countdown
 *   (`probeInterval`, `sinceProbe`; its interval clamped to this optimizer's `[minProbeEvery, maxProbeEvery]`)
 *   and `'auto'`'s learned model (decay rate, timings, mean loss). Other policies have no state of their own.
 *
 * Before this conversion a `'first-epoch'` checkpoint restored into `'drift'` carried probe interval 0 — a
 * probe (a factorization) at every request, i.e. `'always'`. Nothing is refused for the pair itself; a
 * checkpoint whose policy state contradicts its recorded policy (say `'drift'` with interval 0) is corrupt
 * and refused (`CheckpointError`). Checkpoints from before the policy was recorded name their kind by their
 * state: `auto` state → `'auto'`, a probe interval ≥ 1 → `'drift'`, otherwise one of the stateless three.
 * @module
 */
import { emptyAutoState } from './auto.js';
import { CheckpointError } from './errors.js';
import type { CoreState } from './optimizer-checkpoint.js';
import type { ResolvedPolicy } from './refresh.js';

/** The refresh policy a checkpoint was made with; `'stateless'`: one of first-epoch, everyEpochs, always (old checkpoints). */
export type CheckpointPolicy = ResolvedPolicy['kind'] | 'stateless';

const KINDS: readonly string[] = ['first-epoch', 'every', 'always', 'drift', 'auto'];

/** Reads (or infers) a checkpoint's policy and checks that its core state fits it; throws `CheckpointError`. */
export function checkpointPolicy(recorded: unknown, core: CoreState): CheckpointPolicy {
  const bad = (why: string): never => {
    throw new CheckpointError('CHECKPOINT_FORMAT', `checkpoint: invalid policy state (${why})`);
  };
  if (recorded !== undefined && (typeof recorded !== 'string' || !KINDS.includes(recorded))) return bad(`unknown policy ${JSON.stringify(recorded)}`);
  const kind = (recorded as CheckpointPolicy | undefined) ?? (core.auto !== null ? 'auto' : core.probeInterval >= 1 ? 'drift' : 'stateless');
  if (kind === 'drift') {
    if (!(core.probeInterval >= 1) || !(core.sinceProbe >= 0)) bad(`'drift' with probe interval ${core.probeInterval}, ${core.sinceProbe} since the last probe`);
  } else if (core.probeInterval !== 0 || core.sinceProbe !== 0) {
    bad(`'${kind}' with a probe countdown`);
  }
  if ((kind === 'auto') !== (core.auto !== null)) bad(kind === 'auto' ? `'auto' without its state` : `'${kind}' with auto state`);
  return kind;
}

/** The core state of a checkpoint made under `from`, for an optimizer with policy `to` (see the module doc). */
export function convertCore(core: CoreState, from: CheckpointPolicy, to: ResolvedPolicy): CoreState {
  let probeInterval = 0;
  let sinceProbe = 0;
  if (to.kind === 'drift') {
    const d = to.drift;
    probeInterval = from === 'drift' ? Math.min(d.maxProbeEvery, Math.max(d.minProbeEvery, core.probeInterval)) : d.probeEvery;
    sinceProbe = from === 'drift' ? core.sinceProbe : 0;
  }
  const auto = to.kind === 'auto' ? (from === 'auto' && core.auto ? core.auto : emptyAutoState()) : null;
  return { ...core, probeInterval, sinceProbe, auto };
}
