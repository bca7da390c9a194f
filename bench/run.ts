/**
 * `npm run bench [-- --quick] [--json FILE] [--backend cpu|webgpu] [--only SUBSTRING]`
 *
 * Times @ifngd/linalg-gpu (and the FNGD curvature step) on every available backend, side by side in this
 * process with peers on the same hardware: tfjs-backend-webgpu matMul on the same adapter, jax-js Cholesky
 * (WebGPU), tfjs-backend-wasm matMul for the CPU backend. Suite `kfac` (`kfac-cases.ts`): KFAC's factor update,
 * inverse refresh and preconditioning against FNGD's curvature step per layer size, and KFAC's amortised cost
 * per step at its default schedule (a derived row). Prints a table and optionally writes JSON.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { createDevice, type LinalgDevice } from '@ifngd/linalg-gpu';
import { curvatureCases } from './fngd-step.js';
import { kfacBenchCases, kfacStepRows } from './kfac-cases.js';
import { linalgCases, type BenchCase } from './linalg.js';
import { hasAdapter, nodeGpu, releaseGpu } from './peers/webgpu-node.js';
import { gflops, time } from './timing.js';

interface Row {
  suite: string;
  case: string;
  backend: string;
  ms: number;
  gflops: number | null;
  peer: string | null;
  peerMs: number | null;
  /** ours relative to the peer: peerMs / ms (> 1 means we are faster) */
  speedup: number | null;
  /** the case this one is compared with on the same backend, and ms / its ms */
  vs: string | null;
  ratio: number | null;
  note: string | null;
}

const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(`--${name}`);
const option = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
if (flag('help') || flag('h') || args.includes('-h')) {
  console.log(`npm run bench -- [--quick] [--backend cpu|webgpu] [--only SUBSTRING] [--json FILE]

Times @ifngd/linalg-gpu (GEMM, Gram, Cholesky, batched SPD solves) and FNGD's curvature step on every available
backend beside peers in the same process (tfjs-backend-wasm matMul on the CPU; tfjs-backend-webgpu matMul and
jax-js Cholesky on WebGPU), and KFAC's per-step costs against FNGD's.

  --quick            fewer sizes and repetitions
  --backend B        one backend only (default: every available one)
  --only SUBSTRING   only the cases whose name contains it
  --json FILE        also write the rows as JSON (the committed ones are under bench/results/)
  -h, --help         this text`);
  process.exit(0);
}
const quick = flag('quick');
const only = option('only');
const jsonFile = option('json');
const wanted = option('backend');

async function runCase(dev: LinalgDevice, c: BenchCase): Promise<Row> {
  const ours = await c.setup(dev);
  const t = await time(ours.run, c.reps ?? 7, c.budgetMs);
  ours.dispose();
  let peerMs: number | null = null;
  let peerName: string | null = null;
  let note = c.note ?? null;
  if (c.peer) {
    try {
      const p = await c.peer(dev.backend);
      if (p) {
        peerName = p.name;
        peerMs = (await time(p.run, c.reps ?? 7)).ms;
        p.dispose();
      }
    } catch (err) {
      note = `peer failed: ${String(err).slice(0, 120)}`;
    }
  }
  return {
    suite: c.suite,
    case: c.name,
    backend: dev.backend,
    ms: t.ms,
    gflops: c.flops ? gflops(c.flops, t.ms) : null,
    peer: peerName,
    peerMs,
    speedup: peerMs !== null ? peerMs / t.ms : null,
    vs: c.baseline ?? null,
    ratio: null,
    note,
  };
}

function print(rows: Row[]): void {
  const f = (x: number | null, d = 1): string => (x === null ? '' : x.toFixed(d));
  const table = rows.map((r) => ({
    suite: r.suite,
    case: r.case,
    backend: r.backend,
    ms: f(r.ms, 2),
    'GFLOP/s': f(r.gflops, 2),
    peer: r.peer ?? '',
    'peer ms': f(r.peerMs, 2),
    'peer/ours': f(r.speedup, 2),
    'ours/baseline': r.vs ? `${f(r.ratio, 2)} (vs ${r.vs})` : '',
    note: r.note ?? '',
  }));
  console.table(table);
}

async function main(): Promise<void> {
  const gpuOk = await hasAdapter();
  const kinds = (['cpu', 'webgpu'] as const).filter((k) => (k === 'webgpu' ? gpuOk : true) && (!wanted || wanted === k));
  if (!gpuOk) console.log('no WebGPU adapter: benchmarking the CPU backend only (see scripts/setup-webgpu.sh)');
  const rows: Row[] = [];
  for (const kind of kinds) {
    const dev = await createDevice(kind === 'webgpu' ? { backend: 'webgpu', gpu: nodeGpu() } : { backend: 'cpu' });
    console.log(`\n# ${kind}: ${dev.info.description}`);
    const kfac = kfacBenchCases(quick, { reps: quick ? 3 : 5, budgetMs: 2_000 });
    const cases = [...linalgCases(kind, quick), ...curvatureCases(kind, quick), ...kfac].filter(
      (c) => !only || `${c.suite} ${c.name}`.includes(only),
    );
    const mine: Row[] = [];
    for (const c of cases) {
      const row = await runCase(dev, c);
      mine.push(row);
      console.log(
        `  ${row.case}: ${row.ms.toFixed(2)} ms${row.gflops !== null ? ` (${row.gflops.toFixed(2)} GFLOP/s)` : ''}` +
          (row.peer ? `; ${row.peer} ${row.peerMs?.toFixed(2)} ms` : '') +
          (row.note ? `; ${row.note}` : ''),
      );
    }
    for (const d of kfacStepRows((name) => mine.find((r) => r.case === name)?.ms, quick)) {
      mine.push({ suite: 'kfac', case: d.name, backend: dev.backend, ms: d.ms, gflops: null, peer: null, peerMs: null, speedup: null, vs: d.baseline, ratio: null, note: d.note });
    }
    for (const r of mine) {
      const base = mine.find((b) => b.case === r.vs);
      if (base) r.ratio = r.ms / base.ms;
    }
    rows.push(...mine);
    dev.destroy();
  }
  console.log('\n# summary');
  print(rows);
  if (jsonFile) {
    const out = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? '', node: process.version, platform: process.platform },
      quick,
      rows,
    };
    writeFileSync(jsonFile, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`wrote ${jsonFile}`);
  }
  releaseGpu();
}

await main();
