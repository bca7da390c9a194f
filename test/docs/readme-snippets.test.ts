/**
 * Every TypeScript block of the READMEs (and of the guides that hold code) compiles against the packages' public APIs (strict settings of
 * tsconfig.base.json). Blocks are written to test/docs/.snippets (git-ignored) and checked by one `tsc` run.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { extractSnippets, snippetModule } from './snippets.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const OUT = join(ROOT, 'test/docs/.snippets');
const READMES = [
  'README.md',
  'packages/linalg-gpu/README.md',
  'packages/fisher/README.md',
  'packages/ifngd/README.md',
  'packages/adapters-tfjs/README.md',
  'packages/adapters-onnx/README.md',
  'docs/guides/layer-blocks.md',
  'docs/guides/optimizer.md',
  'docs/guides/kfac.md',
  'docs/guides/errors-and-recovery.md',
  'docs/guides/tfjs-trainer.md',
  'docs/guides/refresh-policies.md',
  'docs/guides/optimizers.md',
];

describe('extractSnippets', () => {
  it('finds indented blocks, reads a multi-line preamble and de-indents', () => {
    const md = ['text', '<!-- ts-check:', 'declare const x: number;', '-->', '  ```ts', '  const y = x;', '  ```', '```sh', 'ls', '```'].join('\n');
    expect(extractSnippets(md)).toEqual([{ line: 5, preamble: 'declare const x: number;', code: 'const y = x;' }]);
  });

  it('throws on an unclosed fence, naming its line', () => {
    expect(() => extractSnippets('a\n```ts\nconst x = 1;\n')).toThrow(/unclosed ```ts fence at line 2/);
  });
});

describe('README code blocks', () => {
  it('all compile', async () => {
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    const names = new Map<string, string>();
    for (const readme of READMES) {
      const snippets = extractSnippets(readFileSync(join(ROOT, readme), 'utf8'));
      snippets.forEach((s, i) => {
        const name = `${readme.replace(/\/?README\.md$/, '').replace(/[/.]/g, '_') || 'root'}-${i + 1}.ts`;
        names.set(name, `${readme}:${s.line}`);
        writeFileSync(join(OUT, name), snippetModule(s, readme));
      });
    }
    expect(names.size).toBeGreaterThanOrEqual(9);
    writeFileSync(
      join(OUT, 'tsconfig.json'),
      JSON.stringify({ extends: '../../../tsconfig.base.json', compilerOptions: { noEmit: true, noUnusedLocals: false }, include: ['*.ts'] }),
    );
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const out = await promisify(execFile)(process.execPath, [tsc, '-p', join(OUT, 'tsconfig.json')], { cwd: OUT }).then(
      (r) => r.stdout,
      (e: { stdout?: string }) => e.stdout ?? String(e),
    );
    // name each error by its README and block
    const errors = out
      .split('\n')
      .filter((l) => / error TS/.test(l))
      .map((l) => l.replace(/^(\S+?\.ts)/, (f) => names.get(f) ?? f));
    expect(errors).toEqual([]);
  }, 120_000);
});
