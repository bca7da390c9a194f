/**
 * The CI-sized protocol end to end: `tune --quick` (resumed after a simulated kill), then `demo --quick` on
 * the file it wrote. Real digits, real tfjs training, a few seconds per run.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { Report } from '../src/report.js';
import type { TunedFile } from '../src/tuned.js';

const run = promisify(execFile);
const cwd = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'mnist-e2e-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(script: string, args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run(
      process.execPath,
      ['--import', 'tsx', '--conditions=@ifngd/source', `src/${script}.ts`, ...args],
      { cwd, maxBuffer: 1 << 24, env: { ...process.env, FORCE_COLOR: '0' } },
    );
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? 1, out: (err.stdout ?? '') + (err.stderr ?? '') };
  }
}

describe('tune → demo (quick)', () => {
  const tuned = join(dir, 'classifier-b64.json');
  const tuneArgs = (trials = 1): string[] => [
    '--task',
    'classifier',
    '--batch',
    '64',
    '--quick',
    '--trials',
    String(trials),
    '--epochs',
    '1',
    '--backend',
    'wasm',
    '--out',
    dir,
  ];

  it(
    'tunes every optimizer with the same budget on the validation split and resumes after a kill',
    { timeout: 300_000 },
    async () => {
      const first = await cli('tune', tuneArgs());
      expect(first.code, first.out).toBe(0);
      const f = JSON.parse(readFileSync(tuned, 'utf8')) as TunedFile;
      expect(f.complete).toBe(true);
      expect(f.data).toMatchObject({ fit: 1600, validation: 400 });
      expect(f.initializer.chosenBy).toBe('adam');
      expect(Object.keys(f.initializer.scores).sort()).toEqual(['glorot-uniform', 'lecun-normal']);
      // Adam once per initializer, every other optimizer once under the chosen one
      const counts = new Map<string, number>();
      for (const t of f.trials) counts.set(t.optimizer, (counts.get(t.optimizer) ?? 0) + 1);
      expect(Object.fromEntries(counts)).toEqual({ adam: 2, sgd: 1, fngd: 1, 'fngd-drift': 1, 'fngd-always': 1 });
      for (const t of f.trials.filter((x) => x.optimizer !== 'adam')) expect(t.initializer).toBe(f.initializer.chosen);
      for (const t of f.trials) expect(t.curve).toHaveLength(1);

      // a kill after four trials: the rerun runs only the missing ones and ends with the same trial set
      const cut: TunedFile = { ...f, trials: f.trials.slice(0, 4), best: {}, complete: false };
      writeFileSync(tuned, JSON.stringify(cut));
      const again = await cli('tune', tuneArgs());
      expect(again.code, again.out).toBe(0);
      expect(again.out).toContain('resuming');
      expect(again.out.match(/^\s+\[\d+\/6\]/gm)).toHaveLength(2);
      const g = JSON.parse(readFileSync(tuned, 'utf8')) as TunedFile;
      expect(g.complete).toBe(true);
      expect(g.trials.map((t) => [t.optimizer, t.initializer, t.index])).toEqual(
        f.trials.map((t) => [t.optimizer, t.initializer, t.index]),
      );
    },
  );

  it('refuses to resume under another protocol', async () => {
    const r = await cli('tune', tuneArgs(2));
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/another protocol \(trialsPerOptimizer differ\).*--fresh/);
    const cpu = await cli('tune', tuneArgs().map((a) => (a === 'wasm' ? 'cpu' : a)));
    expect(cpu.code).not.toBe(0);
    expect(cpu.out).toMatch(/another protocol \(backend \(wasm vs cpu\) differ\)/);
  });

  it('the demo reads the tuned file and reports medians over seeds', { timeout: 300_000 }, async () => {
    const out = join(dir, 'out');
    const r = await cli('main', [
      '--task',
      'classifier',
      '--batch',
      '64',
      '--quick',
      '--seeds',
      '2',
      '--epochs',
      '2',
      '--backend',
      'wasm',
      '--tuned',
      tuned,
      '--out',
      out,
    ]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('ROI summary');
    const rep = JSON.parse(readFileSync(join(out, 'classifier-b64-quick.json'), 'utf8')) as Report;
    expect(rep.seeds).toEqual([1, 2]);
    expect(rep.runs).toHaveLength(10);
    expect(rep.summary.map((s) => s.optimizer).sort()).toEqual(['adam', 'fngd', 'fngd-always', 'fngd-drift', 'sgd']);
    for (const s of rep.summary) expect(s.final?.n).toBe(2);
    expect(rep.verdicts).toHaveLength(3);
    expect(rep.tuned.best.sgd).toEqual((JSON.parse(readFileSync(tuned, 'utf8')) as TunedFile).best.sgd?.config);
    expect(existsSync(join(out, 'classifier-b64-quick-metric-time.svg'))).toBe(true);
  });

  it('the demo refuses an incomplete tuned file and a missing one', async () => {
    const partial = join(dir, 'partial.json');
    const f = JSON.parse(readFileSync(tuned, 'utf8')) as TunedFile;
    writeFileSync(partial, JSON.stringify({ ...f, complete: false }));
    const r = await cli('main', ['--task', 'classifier', '--batch', '64', '--quick', '--tuned', partial]);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/incomplete .*npm run tune/);
    const m = await cli('main', [
      '--task',
      'classifier',
      '--batch',
      '64',
      '--quick',
      '--tuned',
      join(dir, 'nope.json'),
    ]);
    expect(m.code).not.toBe(0);
    expect(m.out).toMatch(/no tuned settings at .*npm run tune/);
  });
});

describe('command-line errors name the flag and change nothing', () => {
  it.each([
    ['tune', ['--task', 'regression'], /--task must be one of classifier, autoencoder/],
    ['tune', ['--batch', '0'], /--batch must be a positive integer, got 0/],
    ['tune', ['--model', 'cnn', '--task', 'autoencoder'], /--model cnn is a classifier/],
    ['main', ['--seeds', '1.5'], /--seeds must be a positive integer, got 1.5/],
    ['main', ['--optimizers', 'adam,lbfgs'], /--optimizers: unknown lbfgs/],
  ])('%s %j', async (script, args, message) => {
    const out = join(dir, 'untouched');
    const r = await cli(script, [...args, '--out', out]);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });
});
