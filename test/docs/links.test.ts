/**
 * Every relative link in the repository's Markdown (READMEs, docs, examples, changesets) points at a file or
 * folder that exists; a `#fragment` on a Markdown target names one of its headings (GitHub's anchor rules).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const files = execFileSync('git', ['ls-files', '*.md', '**/*.md'], { cwd: ROOT, encoding: 'utf8' })
  .split('\n')
  .filter((f) => f && !f.startsWith('docs/api/') && !f.includes('node_modules/'));

/** GitHub's heading anchor: lower case, punctuation dropped (hyphens and underscores kept), spaces to hyphens. */
const anchor = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

function anchors(file: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  let fence = false;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (/^\s*```/.test(line)) fence = !fence;
    const m = !fence && /^#{1,6}\s+(.*)$/.exec(line);
    if (!m) continue;
    const a = anchor((m[1] as string).replace(/`/g, ''));
    const k = seen.get(a) ?? 0;
    seen.set(a, k + 1);
    out.add(k === 0 ? a : `${a}-${k}`);
  }
  return out;
}

describe('Markdown links', () => {
  it('found Markdown files to check', () => {
    expect(files.length).toBeGreaterThan(10);
  });

  it.each(files)('%s: relative links resolve', (file) => {
    const text = readFileSync(join(ROOT, file), 'utf8').replace(/```[\s\S]*?```/g, '');
    const bad: string[] = [];
    for (const m of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = m[1] as string;
      if (/^(https?:|mailto:|data:)/.test(target)) continue;
      const [path, fragment] = target.split('#') as [string, string | undefined];
      const full = path === '' ? join(ROOT, file) : resolve(ROOT, dirname(file), decodeURIComponent(path));
      if (!existsSync(full)) {
        bad.push(`${target} (no such file)`);
        continue;
      }
      if (fragment && full.endsWith('.md') && statSync(full).isFile() && !anchors(full).has(fragment)) bad.push(`${target} (no such heading)`);
    }
    expect(bad).toEqual([]);
  });
});
