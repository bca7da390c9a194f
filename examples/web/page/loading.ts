/**
 * The loading line: which step of how many is running, what it loads, the files and bytes the page has fetched
 * since (Resource Timing), a byte fraction where one is known, and the seconds so far — refreshed every quarter
 * second, so a slow step is visibly alive. The element carries `data-step`, `data-steps`, `data-fraction` (0–1 over
 * all steps) and `data-stage` (`loading`, then `done`).
 */

const MB = 1024 * 1024;

/** Bytes fetched and files completed since `since` (ms on the performance clock). */
function fetched(since: number): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const e of performance.getEntriesByType('resource') as PerformanceResourceTiming[]) {
    if (e.responseEnd < since) continue;
    files++;
    bytes += e.encodedBodySize || e.transferSize;
  }
  return { files, bytes };
}

/** Drives the loading line of one run. */
export class LoadingProgress {
  readonly #el: HTMLElement;
  readonly #text: HTMLElement;
  readonly #bar: HTMLProgressElement;
  readonly #steps: number;
  readonly #t0 = performance.now();
  #step = 0;
  #what = '';
  #part: { loaded: number; total: number } | null = null;
  #timer: ReturnType<typeof setInterval> | null = null;

  /** `steps` named steps follow, shown in `el`: its `<progress>` takes the fraction, its `<span>` the text. */
  constructor(el: HTMLElement, steps: number) {
    this.#el = el;
    this.#bar = el.querySelector('progress')!;
    this.#text = el.querySelector('span')!;
    this.#steps = steps;
    performance.setResourceTimingBufferSize(10_000);
    el.hidden = false;
    el.dataset.stage = 'loading';
    this.#timer = setInterval(() => this.#render(), 250);
  }

  /** Starts the next step, loading `what`. */
  next(what: string): void {
    this.#step = Math.min(this.#step + 1, this.#steps);
    this.#what = what;
    this.#part = null;
    this.#render();
  }

  /** Progress within the current step: `loaded` of `total` bytes (`total` 0 when unknown). */
  bytes(loaded: number, total: number): void {
    this.#part = { loaded, total };
    this.#render();
  }

  /** All steps done: the line sums them up and stops refreshing. */
  done(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#step = this.#steps;
    const { files, bytes } = fetched(this.#t0);
    const secs = ((performance.now() - this.#t0) / 1000).toFixed(1);
    this.#set(1, `Loaded ${this.#steps}/${this.#steps} steps in ${secs} s: ${files} files, ${(bytes / MB).toFixed(1)} MB.`);
    this.#el.dataset.stage = 'done';
  }

  /** Stops refreshing, leaving the line as it is (after an error). */
  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  #render(): void {
    if (this.#timer === null) return;
    const { files, bytes } = fetched(this.#t0);
    const secs = Math.floor((performance.now() - this.#t0) / 1000);
    const part = this.#part;
    const within = part && part.total > 0 ? Math.min(1, part.loaded / part.total) : 0;
    const detail = part
      ? part.total > 0
        ? `${(part.loaded / MB).toFixed(1)} of ${(part.total / MB).toFixed(1)} MB (${Math.round(100 * within)} %)`
        : `${(part.loaded / MB).toFixed(1)} MB`
      : `${files} files, ${(bytes / MB).toFixed(1)} MB fetched so far`;
    this.#set((this.#step - 1 + within) / this.#steps, `Loading ${this.#step}/${this.#steps}: ${this.#what} — ${detail}, ${secs} s`);
  }

  #set(fraction: number, text: string): void {
    const f = Math.max(0, Math.min(1, fraction));
    this.#text.textContent = text;
    this.#el.dataset.step = String(this.#step);
    this.#el.dataset.steps = String(this.#steps);
    this.#el.dataset.fraction = f.toFixed(3);
    this.#bar.value = f;
  }
}
