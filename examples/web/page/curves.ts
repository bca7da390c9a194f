/**
 * The page's two charts: the lanes' batch losses and their test accuracy (in %) per epoch, each lane in its own
 * colour, dash pattern and marker — FNGD (tfjs) a thick solid line under the thin dashed FNGD on ONNX Runtime Web,
 * so that both stay visible where they coincide.
 */
import { drawChart, type Series, type SeriesStyle } from './chart.js';
import { OPTIMIZERS, type Optimizer, type Point } from './lanes.js';

/** How each lane is drawn. */
export const STYLES: Readonly<Record<Optimizer, SeriesStyle>> = {
  fngd: { color: '#d62728', dash: [], width: 4, marker: 'circle' },
  adam: { color: '#1f77b4', dash: [12, 4, 2, 4], width: 2, marker: 'square' },
  onnx: { color: '#2ca02c', dash: [6, 4], width: 2, marker: 'triangle' },
};

/** The legend's names of the lanes. */
export const LABELS: Readonly<Record<Optimizer, string>> = { fngd: 'FNGD (tfjs)', adam: 'Adam (tfjs)', onnx: 'FNGD (ONNX Runtime Web)' };

/** Each lane's batch losses as `[epoch, loss]`, `epoch` fractional (after batch b of B in epoch e: e − 1 + b/B). */
export type Curves = Record<Optimizer, [number, number][]>;

/** No losses yet. */
export const noCurves = (): Curves => ({ fngd: [], adam: [], onnx: [] });

/** Redraws both charts: `curves` on `charts.loss`, the test accuracies of `points` (in %) on `charts.accuracy`. */
export function drawCurves(charts: { loss: HTMLCanvasElement; accuracy: HTMLCanvasElement }, points: readonly Point[], curves: Curves, epochs: number): void {
  const series = (pick: (o: Optimizer) => [number, number][]): Series[] => OPTIMIZERS.map((o) => ({ label: LABELS[o], ...STYLES[o], points: pick(o) }));
  drawChart(charts.loss, 'Training loss per batch', series((o) => curves[o]), {
    xTitle: 'epoch (one point per batch of 100)',
    yTitle: 'training loss',
    xMax: epochs,
    yEmpty: [0, 2.5],
    yBounds: [0, Infinity],
  });
  const accuracy = (o: Optimizer) => points.filter((p) => p.optimizer === o).map((p): [number, number] => [p.epoch, 100 * p.testAccuracy]);
  drawChart(charts.accuracy, 'Test accuracy after each epoch', series(accuracy), {
    xTitle: 'epoch',
    yTitle: 'test accuracy (%)',
    xMax: epochs,
    xInteger: true,
    yEmpty: [0, 100],
    yBounds: [0, 100],
  });
}
