/**
 * The page: backend picker, Train button, progress bar, live loss and accuracy charts, and the summary.
 * Query parameters `backend`, `epochs` and `autostart=1` drive it without clicks (the end-to-end test uses them).
 * `#status[data-state]` is `idle` → `running` → `done` (or `error`); when done it carries `data-fngd`, `data-adam`
 * and `data-onnx` (final test accuracies; `onnx` is FNGD on ONNX Runtime Web) and `data-onnx-losses` (the ONNX lane's
 * batch losses, comma-separated, in training order).
 */
import { drawChart, type Series } from './chart.js';
import { fetchDigits } from './data.js';
import { BACKENDS, OPTIMIZERS, race, summary, useBackend, type Backend, type Optimizer, type Point } from './race.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const backendSel = $<HTMLSelectElement>('backend');
const epochsInput = $<HTMLInputElement>('epochs');
const startBtn = $<HTMLButtonElement>('start');
const progress = $<HTMLProgressElement>('progress');
const status = $<HTMLParagraphElement>('status');
const errorBox = $<HTMLParagraphElement>('error');
const COLORS = { fngd: '#d62728', adam: '#1f77b4', onnx: '#2ca02c' } as const;
const LABELS = { fngd: 'FNGD', adam: 'Adam', onnx: 'FNGD (ONNX Runtime Web)' } as const;

const params = new URLSearchParams(location.search);
const qBackend = params.get('backend');
if (qBackend && (BACKENDS as readonly string[]).includes(qBackend)) backendSel.value = qBackend;
if (params.get('epochs')) epochsInput.value = params.get('epochs')!;

type Curves = Record<Optimizer, [number, number][]>;
const noCurves = (): Curves => ({ fngd: [], adam: [], onnx: [] });

function draw(points: readonly Point[], losses: Curves, epochs: number): void {
  const series = (pick: (o: Optimizer) => [number, number][]): Series[] =>
    OPTIMIZERS.map((o) => ({ label: LABELS[o], color: COLORS[o], points: pick(o) }));
  drawChart($<HTMLCanvasElement>('loss'), 'training loss per batch', series((o) => losses[o]), epochs);
  const acc = (o: Optimizer) => points.filter((p) => p.optimizer === o).map((p): [number, number] => [p.epoch, p.testAccuracy]);
  drawChart($<HTMLCanvasElement>('accuracy'), 'test accuracy after each epoch', series(acc), epochs);
}

async function run(): Promise<void> {
  const backend = backendSel.value as Backend;
  const epochs = Number(epochsInput.value);
  errorBox.textContent = '';
  if (!Number.isInteger(epochs) || epochs < 1 || epochs > 20) {
    errorBox.textContent = `epochs must be an integer from 1 to 20, got '${epochsInput.value}'`;
    return;
  }
  startBtn.disabled = true;
  status.dataset.state = 'running';
  const points: Point[] = [];
  const losses: Curves = noCurves();
  try {
    status.textContent = `Loading digits and the ${backend} backend…`;
    await useBackend(backend);
    const data = await fetchDigits();
    draw(points, losses, epochs);
    progress.value = 0;
    await race(data, epochs, 100, {
      onBatch: (o, at, loss) => {
        losses[o].push([at, loss]);
        progress.value = (losses.fngd.length + losses.adam.length + losses.onnx.length) / (OPTIMIZERS.length * epochs * Math.ceil(data.xTrain.shape[0] / 100));
        draw(points, losses, epochs);
      },
      onPoint: (p) => {
        points.push(p);
        status.textContent = `epoch ${p.epoch}: ${p.optimizer} test accuracy ${(100 * p.testAccuracy).toFixed(1)} %`;
        draw(points, losses, epochs);
      },
    });
    const final = (o: Optimizer) => points.filter((p) => p.optimizer === o).at(-1)!.testAccuracy;
    for (const o of OPTIMIZERS) status.dataset[o] = String(final(o));
    status.dataset.onnxLosses = losses.onnx.map(([, l]) => l).join(',');
    status.textContent = `${backend}: ${summary(points)}`;
    status.dataset.state = 'done';
  } catch (err) {
    status.dataset.state = 'error';
    errorBox.textContent = String(err);
    console.error(err);
  } finally {
    startBtn.disabled = false;
  }
}

startBtn.addEventListener('click', () => void run());
draw([], noCurves(), Number(epochsInput.value) || 3);
if (params.get('autostart') === '1') void run();
