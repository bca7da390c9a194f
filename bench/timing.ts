/** Timing helpers: warm-up, then the median of repeated runs (wall clock, including completion). */

export interface Timing {
  /** Median milliseconds. */
  readonly ms: number;
  /** All samples, milliseconds. */
  readonly samples: readonly number[];
}

/** Runs `fn` once to warm up, then `reps` times (fewer if the time budget runs out); median in ms. */
export async function time(fn: () => Promise<void>, reps = 5, budgetMs = 20_000): Promise<Timing> {
  await fn();
  const samples: number[] = [];
  const start = performance.now();
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
    if (performance.now() - start > budgetMs && samples.length >= 1) break;
  }
  const sorted = [...samples].sort((a, b) => a - b);
  return { ms: sorted[Math.floor(sorted.length / 2)]!, samples };
}

/** GFLOP/s for `flops` in `ms` milliseconds. */
export const gflops = (flops: number, ms: number): number => flops / ms / 1e6;
