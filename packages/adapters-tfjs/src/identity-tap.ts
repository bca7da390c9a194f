/**
 * The tap that does nothing.
 * @module
 */
import type { Tap } from './model.js';

/** A tap that does nothing (inference, skipped layers, and the global-mode weighted-loss gradient). */
export const identityTap: Tap = {
  dense: (z) => z,
  conv2d: (z) => z,
  site: (_kind, z) => z,
};
