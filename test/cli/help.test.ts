/**
 * Every command-line entry point answers `--help` with its usage — and does nothing else (no training, no
 * device, no files) — in lines of at most 120 characters.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '..', '..');

/** npm script → the file it runs and the folder it runs in. */
const CLIS: readonly (readonly [script: string, file: string, cwd: string])[] = [
  ['demo', 'src/main.ts', 'examples/mnist'],
  ['tune', 'src/tune.ts', 'examples/mnist'],
  ['report', 'src/tables.ts', 'examples/mnist'],
  ['scan', 'src/scan.ts', 'examples/mnist'],
  ['demo:onnx', 'examples/mnist.ts', 'packages/adapters-onnx'],
  ['demo:linalg', 'demo/linalg.ts', '.'],
  ['bench', 'bench/run.ts', '.'],
  ['bench:zoo', 'bench/zoo.ts', '.'],
  ['bench:optimizers', 'bench/optimizers.ts', '.'],
  ['demo:web', 'src/serve.ts', 'examples/web'],
];

describe('--help', () => {
  it.each(CLIS)('npm run %s -- --help prints its usage and exits', async (script, file, cwd) => {
    const r = await run(process.execPath, ['--import', 'tsx', '--conditions=@ifngd/source', file, '--help'], {
      cwd: resolve(root, cwd),
      timeout: 90_000,
      env: { ...process.env, FORCE_COLOR: '0' },
    });
    const out = (r.stdout + r.stderr).trimEnd();
    const lines = out.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^npm run ${script}( |$)`));
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(120);
    expect(out).not.toMatch(/device:|GFLOP|epoch 1|wrote|Warning/);
  });
});
