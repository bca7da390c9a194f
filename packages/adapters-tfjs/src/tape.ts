/**
 * A guard for tfjs gradient calls whose function throws. tfjs 4.x keeps clones of the tensors each recorded op
 * needs for its backward pass ("saved" tensors, `keep`-ed) and disposes them only when the backward pass runs;
 * when the forward function throws (a failing custom loss, a shape error) they stay allocated until process
 * exit. This releases them, so a failed step leaves `tf.memory().numTensors` unchanged.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';

interface EngineTapeState {
  gradientDepth: number;
  activeTape: { saved?: Tensor[] }[] | null;
}

/** Runs `run` (a `tf.grad`/`tf.variableGrads`/`engine().gradients` call); on a throw, releases the failed tape. */
export function releaseTapeOnThrow<T>(run: () => T): T {
  try {
    return run();
  } catch (e) {
    const state = (tf.engine() as unknown as { state?: EngineTapeState }).state;
    // only the outermost gradient call owns the tape (nested ones share it with their caller)
    if (state && state.gradientDepth === 0 && Array.isArray(state.activeTape)) {
      for (const node of state.activeTape) for (const t of node.saved ?? []) if (!t.isDisposed) t.dispose();
      state.activeTape = null;
    }
    throw e;
  }
}
