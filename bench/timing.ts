/** Timing helpers: warm-up, then the median of repeated runs (wall clock, including completion). */

export interface Timing {
  /** Median milliseconds. */
  readonly ms: number;
  /** All samples, milliseconds. */
  readonly samples: readonly number[];
}

/**
 * Warms up (at least one run, and until 3 runs or 250 ms, so JIT tiers settle on tiny cases), then runs `fn`
 * `reps` times (fewer if the time budget runs out); median in ms.
 */
export async function time(fn: () => Promise<void>, reps = 7, budgetMs = 20_000): Promise<Timing> {
  const warmStart = performance.now();
  for (let i = 0; i < 3 && (i === 0 || performance.now() - warmStart < 250); i++) await fn();
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
