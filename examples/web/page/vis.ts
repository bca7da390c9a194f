/**
 * The tfjs-vis panel: `tfvis.show.fitCallbacks` rendering into a container of the page, for the FNGD lane's
 * `FngdTrainer.fit` — one chart per callback (`onBatchEnd`: the batch losses; `onEpochEnd`: `loss` with `val_loss`,
 * and `val_acc`, a fraction), accumulated over the run's `fit` calls.
 */
import * as tfvis from '@tensorflow/tfjs-vis';

/** The log keys the panel plots (the trainer also logs `acc`; `val_*` come from its validation on the test digits). */
export const VIS_METRICS = ['loss', 'val_loss', 'val_acc'] as const;

/** tfjs-vis's fit callbacks drawing into `container` (emptied first); hand them to `fit` as they are. */
export function visCallbacks(container: HTMLElement): ReturnType<typeof tfvis.show.fitCallbacks> {
  container.replaceChildren();
  return tfvis.show.fitCallbacks(container, [...VIS_METRICS], { callbacks: ['onEpochEnd', 'onBatchEnd'] });
}
