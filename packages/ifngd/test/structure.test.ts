/**
 * `ifngd`'s modules import one another without a circle (type-only imports included): each module can be read,
 * tested and replaced from its imports down.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..', 'src');

function modules(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? modules(p) : n.endsWith('.ts') ? [p] : [];
  });
}

/** Relative imports and re-exports of every module (`import type` too), as module paths. */
function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const file of modules(SRC)) {
    const text = readFileSync(file, 'utf8');
    const deps = [...text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]/g)].map((m) => normalize(join(dirname(file), m[1]!.replace(/\.js$/, '.ts'))));
    g.set(file, deps);
  }
  return g;
}

/** One import circle, if any (depth-first search for a back edge). */
function circle(g: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (v: string): string[] | null => {
    state.set(v, 'open');
    path.push(v);
    for (const w of g.get(v) ?? []) {
      if (!g.has(w)) continue;
      if (state.get(w) === 'open') return path.slice(path.indexOf(w)).concat(w);
      if (!state.has(w)) {
        const c = visit(w);
        if (c) return c;
      }
    }
    path.pop();
    state.set(v, 'done');
    return null;
  };
  for (const v of g.keys()) {
    if (state.has(v)) continue;
    const c = visit(v);
    if (c) return c;
  }
  return null;
}

describe('module structure', () => {
  it('ifngd/src has no import circle', () => {
    const g = graph();
    expect(g.size).toBeGreaterThan(40);
    const c = circle(g);
    expect(c?.map((p) => p.slice(SRC.length + 1)) ?? null).toBeNull();
  });

  it('the circle search finds a circle where there is one', () => {
    const g = new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]);
    expect(circle(g)).toEqual(['a', 'b', 'c', 'a']);
  });
});
