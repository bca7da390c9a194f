/**
 * Coefficients as tickets: each `Coefficients` the optimizer hands out carries its staged request, commits at
 * most once, and only while the optimizer's generation and the batch's cache entry are those it was served from.
 * @module
 */
import type { CoefficientCache } from './cache.js';
import type { Coefficients } from './coefficients.js';
import { BatchSizeMismatchError, InvalidArgumentError, StaleCoefficientsError } from './errors.js';
import type { StagedRequest } from './request.js';

/** A ticket: the staged request behind a `Coefficients`. */
export interface TicketRecord {
  readonly staged: StagedRequest;
  /** Set when a step committed it (a ticket commits at most once). */
  committed: boolean;
}

/** The coefficients of a staged request (α copied; frozen). */
export function coefficientsOf(staged: StagedRequest): Coefficients {
  const entry = staged.entry;
  const alpha = entry.alpha.slice();
  const n = entry.n;
  return Object.freeze({
    batchKey: entry.key,
    n,
    layers: entry.layers,
    alpha,
    damping: entry.damping,
    fresh: staged.fresh,
    source: staged.decision,
    skipped: staged.skip === true,
    layer: (l: number) => {
      if (!Number.isSafeInteger(l) || l < 0 || l >= entry.layers) throw new InvalidArgumentError(`layer ${l} of ${entry.layers}`);
      return alpha.subarray(l * n, (l + 1) * n);
    },
  });
}

/**
 * Refuses a ticket that cannot commit: used, from before `init`/`restore` (another `generation`), or its batch's
 * cache entry changed since (`BatchSizeMismatchError` when it changed to another n).
 */
export function checkTicket(ticket: TicketRecord, generation: number, cache: CoefficientCache): void {
  const { staged } = ticket;
  const key = JSON.stringify(staged.entry.key);
  if (ticket.committed) throw new StaleCoefficientsError(`step: the coefficients of batch ${key} were already used by a step; request new ones`);
  if (staged.generation !== generation) {
    throw new StaleCoefficientsError(`step: the coefficients of batch ${key} were requested before init/restore; request new ones`);
  }
  const current = cache.get(staged.entry.key);
  if (current === staged.basis) return;
  if (current && current.n !== staged.entry.n) {
    throw new BatchSizeMismatchError(`step: batch ${key} was cached with n = ${current.n} since these coefficients (n = ${staged.entry.n}) were requested`);
  }
  throw new StaleCoefficientsError(`step: the cached coefficients of batch ${key} changed since these were requested (another step on the batch, or invalidate); request new ones`);
}
