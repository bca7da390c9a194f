/**
 * KFAC's curvature costs against FNGD's, per layer size, on the CPU backend (the cases are in
 * `kfac-cases.ts`, shared with `npm run bench`, which also runs them on WebGPU):
 *
 *   npx tsx --conditions=@ifngd/source bench/kfac.ts [--json bench/results/kfac.json] [--quick]
 *
 * Ratios are against the FNGD curvature step of the same layer and batch (same process, right after); the
 * last row per layer and batch is KFAC's amortised cost per step at its default schedule.
 * @module
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { createDevice } from '@ifngd/linalg-gpu';
import {
  KFAC_BENCH_DAMPING,
  KFAC_LAYERS,
  KFAC_PARTS,
  kfacBatches,
  kfacCaseName,
  kfacCases,
  kfacStepMs,
  DEFAULT_SCHEDULE,
  type KfacPart,
} from './kfac-cases.js';
import { time } from './timing.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const jsonAt = args.indexOf('--json');
const jsonFile = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
const REPS = quick ? 3 : 5;
/** Per-case time budget (ms): expensive cases stop after it (at least one timed run after the warm-up). */
const BUDGET = 2_000;

interface Row {
  layer: string;
  n: number;
  case: KfacPart | 'kfac step (amortised)';
  ms: number;
  /** ms ÷ the FNGD curvature step's ms (same layer, same n). */
  vsFngd: number | null;
}

async function main(): Promise<void> {
  const dev = await createDevice({ backend: 'cpu' });
  console.log(`# cpu: ${dev.info.description}`);
  const started = performance.now();
  const rows: Row[] = [];
  for (const n of kfacBatches(quick)) {
    for (const l of KFAC_LAYERS) {
      const mine: Row[] = [];
      for (const [i, c] of kfacCases(l, n).entries()) {
        const runner = await c.setup(dev);
        const { ms } = await time(runner.run, REPS, BUDGET);
        runner.dispose();
        const part = KFAC_PARTS[i] as KfacPart;
        mine.push({ layer: l.name, n, case: part, ms, vsFngd: null });
        console.log(`  ${kfacCaseName(l, n, part)}: ${ms.toFixed(2)} ms`);
      }
      const step = kfacStepMs((part) => mine.find((r) => r.case === part)?.ms);
      if (step !== null) mine.push({ layer: l.name, n, case: 'kfac step (amortised)', ms: step, vsFngd: null });
      const fngdMs = mine.find((r) => r.case === 'fngd curvature step')!.ms;
      for (const r of mine) r.vsFngd = r.ms / fngdMs;
      rows.push(...mine);
    }
  }
  dev.destroy();
  console.table(rows.map((r) => ({ ...r, ms: r.ms.toFixed(2), vsFngd: r.vsFngd?.toFixed(2) })));
  const seconds = (performance.now() - started) / 1000;
  console.log(`total ${seconds.toFixed(1)} s`);
  if (jsonFile) {
    const machine = {
      cpus: os.cpus().length,
      cpu: os.cpus()[0]?.model ?? '',
      node: process.version,
      platform: process.platform,
    };
    const out = {
      date: new Date().toISOString(),
      backend: 'cpu',
      machine,
      quick,
      damping: KFAC_BENCH_DAMPING,
      schedule: DEFAULT_SCHEDULE,
      reps: REPS,
      seconds,
      rows,
    };
    writeFileSync(jsonFile, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`wrote ${jsonFile}`);
  }
}

await main();
