/**
 * The CI-sized protocol end to end: `tune --quick` (resumed after a simulated kill), then `demo --quick` on
 * the file it wrote. Real digits, real tfjs training, a few seconds per run.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
      expect(Object.fromEntries(counts)).toEqual({
        adam: 2,
        sgd: 1,
        fngd: 1,
        'fngd-drift': 1,
        'fngd-auto': 1,
        'fngd-always': 1,
        kfac: 1,
        'kfac-sampled': 1,
        'kfac-adaptive': 1,
        'kfac-gn': 1,
        'kfac-lm': 1,
        adamw: 1,
        muon: 1,
        shampoo: 1,
      });
      expect(f.best.kfac?.config).toHaveProperty('damping');
      for (const t of f.trials.filter((x) => x.optimizer !== 'adam')) expect(t.initializer).toBe(f.initializer.chosen);
      for (const t of f.trials) expect(t.curve).toHaveLength(1);

      // a kill after four trials: the rerun runs only the missing ones and ends with the same trial set
      const cut: TunedFile = { ...f, trials: f.trials.slice(0, 4), best: {}, complete: false };
      writeFileSync(tuned, JSON.stringify(cut));
      const again = await cli('tune', tuneArgs());
      expect(again.code, again.out).toBe(0);
      expect(again.out).toContain('resuming');
      expect(again.out.match(/^\s+\[\d+\/15\]/gm)).toHaveLength(11);
      const g = JSON.parse(readFileSync(tuned, 'utf8')) as TunedFile;
      expect(g.complete).toBe(true);
      expect(g.trials.map((t) => [t.optimizer, t.initializer, t.index])).toEqual(
        f.trials.map((t) => [t.optimizer, t.initializer, t.index]),
      );
    },
  );

  it('resumes a file tuned before KFAC joined the protocol: only the KFAC trial runs', { timeout: 300_000 }, async () => {
    const f = JSON.parse(readFileSync(tuned, 'utf8')) as TunedFile;
    const { kfac: _k, ...spaces } = f.search.spaces as Record<string, unknown>;
    const { kfac: _b, ...best } = f.best;
    const old: TunedFile = {
      ...f,
      search: { ...f.search, spaces },
      trials: f.trials.filter((t) => t.optimizer !== 'kfac'),
      best,
    };
    writeFileSync(tuned, JSON.stringify(old));
    const r = await cli('tune', tuneArgs());
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('the protocol adds kfac');
    expect(r.out.match(/^\s+\[\d+\/15\] kfac /gm)).toHaveLength(1);
    expect(r.out.match(/^\s+\[\d+\/15\]/gm)).toHaveLength(1);
    const g = JSON.parse(readFileSync(tuned, 'utf8')) as TunedFile;
    expect(g.complete).toBe(true);
    expect(g.search).toEqual(f.search);
    expect(g.trials.filter((t) => t.optimizer !== 'kfac')).toEqual(old.trials);
    expect(g.best.kfac).toBeDefined();
  });

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
    expect(r.out).toContain('Return on investment');
    for (const line of r.out.split('\n')) expect(line.length, line).toBeLessThanOrEqual(120);
    const rep = JSON.parse(readFileSync(join(out, 'classifier-b64-quick.json'), 'utf8')) as Report;
    expect(rep.seeds).toEqual([1, 2]);
    expect(rep.runs).toHaveLength(28);
    expect(rep.summary.map((s) => s.optimizer).sort()).toEqual([
      'adam',
      'adamw',
      'fngd',
      'fngd-always',
      'fngd-auto',
      'fngd-drift',
      'kfac',
      'kfac-adaptive',
      'kfac-gn',
      'kfac-lm',
      'kfac-sampled',
      'muon',
      'sgd',
      'shampoo',
    ]);
    for (const s of rep.summary) expect(s.final?.n).toBe(2);
    expect(rep.verdicts).toHaveLength(4);
    expect(rep.tuned.best.sgd).toEqual((JSON.parse(readFileSync(tuned, 'utf8')) as TunedFile).best.sgd?.config);
    expect(existsSync(join(out, 'classifier-b64-quick-metric-time.svg'))).toBe(true);
  });

  it('the demo skips, with a note, an optimizer the tuned file holds no trial of (tuned before it joined)', async () => {
    const old = join(dir, 'without-kfac.json');
    const f = JSON.parse(readFileSync(tuned, 'utf8')) as TunedFile;
    const { kfac: _b, ...best } = f.best;
    writeFileSync(old, JSON.stringify({ ...f, trials: f.trials.filter((t) => t.optimizer !== 'kfac'), best }));
    const out = join(dir, 'skip');
    const args = ['--task', 'classifier', '--batch', '64', '--quick', '--epochs', '1', '--backend', 'wasm'];
    const r = await cli('main', [...args, '--optimizers', 'sgd,kfac', '--tuned', old, '--out', out]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/note: kfac is skipped — .*holds no trial of it[\s\S]*npm run tune -- --task classifier --batch 64/);
    const rep = JSON.parse(readFileSync(join(out, 'classifier-b64-quick.json'), 'utf8')) as Report;
    expect(rep.summary.map((s) => s.optimizer)).toEqual(['sgd']);
    const none = await cli('main', [...args, '--optimizers', 'kfac', '--tuned', old, '--out', out]);
    expect(none.code).not.toBe(0);
    expect(none.out).toMatch(/none of kfac was tuned/);
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

describe('tune → demo on downloaded data (CIFAR binary format), the image tasks', () => {
  const cifar = join(dir, 'cifar-10-batches-bin');
  const out = join(dir, 'cifar-out');

  it('tunes the ResNet on a CIFAR directory and names the files by the source', { timeout: 300_000 }, async () => {
    mkdirSync(cifar, { recursive: true });
    // 6 files × 450 records: the 2,500 images a quick run draws; each label brightens its image
    let s = 5;
    const rand = (): number => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    for (const f of [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`).concat('test_batch.bin')) {
      const b = new Uint8Array(450 * 3073);
      for (let r = 0; r < 450; r++) {
        const label = Math.floor(rand() * 10);
        b[r * 3073] = label;
        for (let p = 1; p <= 3072; p++) b[r * 3073 + p] = Math.floor(label * 20 + rand() * 60);
      }
      writeFileSync(join(cifar, f), b);
    }
    const r = await cli('tune', ['--task', 'classifier', '--model', 'resnet', '--batch', '128', '--quick', '--trials', '1', '--epochs', '1', '--backend', 'wasm', '--optimizers', 'sgd', '--data', `cifar10:${cifar}`, '--out', out]);
    expect(r.code, r.out).toBe(0);
    const f = JSON.parse(readFileSync(join(out, 'classifier-resnet-cifar10-b128.json'), 'utf8')) as TunedFile;
    expect(f.data.source).toBe('cifar10');
    expect(f.model).toBe('resnet');
    expect(f.trials.map((t) => t.optimizer).sort()).toEqual(['adam', 'adam', 'sgd']);
  });

  it('the demo trains the ResNet on 32×32×3 images; a file tuned on other data is refused', { timeout: 300_000 }, async () => {
    const tuned = join(out, 'classifier-resnet-cifar10-b128.json');
    const args = ['--model', 'resnet', '--quick', '--epochs', '1', '--backend', 'wasm', '--optimizers', 'sgd,adam', '--tuned', tuned, '--out', out];
    const r = await cli('main', [...args, '--data', `cifar10:${cifar}`]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/cifar10 classifier \(ResNet-BN .*dense10; shifted and mirrored images\), 2000\/500 real images/);
    const rep = JSON.parse(readFileSync(join(out, 'classifier-resnet-cifar10-b128-quick.json'), 'utf8')) as Report;
    expect(rep.summary.map((x) => x.optimizer).sort()).toEqual(['adam', 'sgd']);
    const other = await cli('main', args);
    expect(other.code).not.toBe(0);
    expect(other.out).toMatch(/was tuned for classifier \(resnet, cifar10\) batch 128, not classifier \(resnet, mnist\)/);
    const bad = await cli('main', [...args, '--data', 'cifar10']);
    expect(bad.code).not.toBe(0);
    expect(bad.out).toMatch(/--data cifar10:DIR needs the directory/);
  });
});
