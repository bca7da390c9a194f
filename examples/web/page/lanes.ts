/** The page's vocabulary, free of heavy imports: the tfjs backends offered, the lanes, an epoch's result, the summary. */

/** tfjs backends the page offers. */
export const BACKENDS = ['webgpu', 'wasm', 'cpu'] as const;
export type Backend = (typeof BACKENDS)[number];
export type Optimizer = 'fngd' | 'adam' | 'onnx';
/** The lanes, in the order they train each epoch. */
export const OPTIMIZERS = ['fngd', 'adam', 'onnx'] as const satisfies readonly Optimizer[];

/** One finished epoch of one optimizer. */
export interface Point {
  readonly optimizer: Optimizer;
  readonly epoch: number;
  readonly trainLoss: number;
  readonly testAccuracy: number;
  /** Training seconds of this optimizer so far (evaluation excluded). */
  readonly seconds: number;
}

/** The return on investment in one sentence: final accuracies, and when FNGD reached Adam's final accuracy. */
export function summary(points: readonly Point[]): string {
  const last = (o: Optimizer) => points.filter((p) => p.optimizer === o).at(-1);
  const f = last('fngd');
  const a = last('adam');
  if (!f || !a) return '';
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  const reach = points.find((p) => p.optimizer === 'fngd' && p.testAccuracy >= a.testAccuracy);
  const when = reach
    ? `FNGD reached Adam's final accuracy after ${reach.seconds.toFixed(1)} s of training (Adam: ${a.seconds.toFixed(1)} s).`
    : "FNGD did not reach Adam's final accuracy.";
  const o = last('onnx');
  const onnx = o ? ` FNGD on ONNX Runtime Web: ${pct(o.testAccuracy)}.` : '';
  return `Test accuracy after ${f.epoch} epoch${f.epoch === 1 ? '' : 's'}: FNGD ${pct(f.testAccuracy)}, Adam ${pct(a.testAccuracy)}. ${when}${onnx}`;
}
