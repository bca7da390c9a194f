/**
 * The page: backend picker, Train button, loading line, progress bar, live loss and accuracy charts, the tfjs-vis
 * panel of the FNGD lane, and the summary. Only the light modules load with the page; TensorFlow.js, ONNX Runtime
 * Web, the trainers and tfjs-vis load on Train, step by step on the loading line (`loading.ts`).
 * Query parameters `backend`, `epochs` and `autostart=1` drive it without clicks (the end-to-end test uses them).
 * `#status[data-state]` is `idle` → `running` → `done` (or `error`); `data-backend` names the tfjs backend in use
 * (wasm when webgpu was asked for but cannot run: `#note` says so and why). When done it carries `data-fngd`,
 * `data-adam` and `data-onnx` (final test accuracies; `onnx` is FNGD on ONNX Runtime Web), `data-onnx-losses` and
 * `data-fngd-losses` (the ONNX and FNGD lanes' batch losses, comma-separated, in training order).
 */
import { drawCurves, noCurves, type Curves } from './curves.js';
import { BACKENDS, OPTIMIZERS, summary, type Backend, type Optimizer, type Point } from './lanes.js';
import { LoadingProgress } from './loading.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const backendSel = $<HTMLSelectElement>('backend');
const epochsInput = $<HTMLInputElement>('epochs');
const startBtn = $<HTMLButtonElement>('start');
const progress = $<HTMLProgressElement>('progress');
const status = $<HTMLParagraphElement>('status');
const note = $<HTMLParagraphElement>('note');
const errorBox = $<HTMLParagraphElement>('error');
const charts = { loss: $<HTMLCanvasElement>('loss'), accuracy: $<HTMLCanvasElement>('accuracy') };

const params = new URLSearchParams(location.search);
const qBackend = params.get('backend');
if (qBackend && (BACKENDS as readonly string[]).includes(qBackend)) backendSel.value = qBackend;
if (params.get('epochs')) epochsInput.value = params.get('epochs')!;

/** The modules Train needs, loaded together on the first step of the loading line. */
const heavyModules = () => Promise.all([import('./backend.js'), import('./data.js'), import('./race.js'), import('./vis.js')]);

async function run(): Promise<void> {
  const requested = backendSel.value as Backend;
  const epochs = Number(epochsInput.value);
  errorBox.textContent = '';
  if (!Number.isInteger(epochs) || epochs < 1 || epochs > 20) {
    errorBox.textContent = `epochs must be an integer from 1 to 20, got '${epochsInput.value}'`;
    return;
  }
  startBtn.disabled = true;
  status.dataset.state = 'running';
  delete status.dataset.backend;
  note.hidden = true;
  note.textContent = '';
  const points: Point[] = [];
  const curves: Curves = noCurves();
  const loading = new LoadingProgress($('loading'), 4);
  let disposeData = () => {};
  try {
    status.textContent = `Loading the modules and the ${requested} backend…`;
    loading.next('the training modules (TensorFlow.js, ONNX Runtime Web, FNGD, tfjs-vis)');
    const [{ startBackend }, { fetchDigits }, { race }, { visCallbacks }] = await heavyModules();
    loading.next(`the ${requested} backend`);
    const { used, note: fellBack } = await startBackend(requested);
    status.dataset.backend = used;
    status.textContent = `${used}: loading the digits, the trainers and ONNX Runtime Web…`;
    if (fellBack) {
      note.textContent = fellBack;
      note.hidden = false;
    }
    loading.next('the MNIST digits (/mnist.bin)');
    const data = await fetchDigits('/mnist.bin', (loaded, total) => loading.bytes(loaded, total));
    disposeData = () => Object.values(data).forEach((t) => t.dispose());
    loading.next('the trainers and ONNX Runtime Web (wasm)');
    drawCurves(charts, points, curves, epochs);
    progress.value = 0;
    const steps = OPTIMIZERS.length * epochs * Math.ceil(data.xTrain.shape[0] / 100);
    await race(data, epochs, 100, {
      onReady: () => {
        loading.done();
        status.textContent = `${used}: training…`;
      },
      fngd: visCallbacks($('tfvis')),
      onBatch: (o, at, loss) => {
        curves[o].push([at, loss]);
        progress.value = (curves.fngd.length + curves.adam.length + curves.onnx.length) / steps;
        drawCurves(charts, points, curves, epochs);
      },
      onPoint: (p) => {
        points.push(p);
        status.textContent = `${used}, epoch ${p.epoch}: ${p.optimizer} test accuracy ${(100 * p.testAccuracy).toFixed(1)} %`;
        drawCurves(charts, points, curves, epochs);
      },
    });
    const final = (o: Optimizer) => points.filter((p) => p.optimizer === o).at(-1)!.testAccuracy;
    for (const o of OPTIMIZERS) status.dataset[o] = String(final(o));
    status.dataset.onnxLosses = curves.onnx.map(([, l]) => l).join(',');
    status.dataset.fngdLosses = curves.fngd.map(([, l]) => l).join(',');
    status.textContent = `${used}: ${summary(points)}`;
    status.dataset.state = 'done';
  } catch (err) {
    loading.stop();
    status.dataset.state = 'error';
    errorBox.textContent = String(err);
    console.error(err);
  } finally {
    disposeData();
    startBtn.disabled = false;
  }
}

startBtn.addEventListener('click', () => void run());
drawCurves(charts, [], noCurves(), Number(epochsInput.value) || 3);
if (params.get('autostart') === '1') void run();
