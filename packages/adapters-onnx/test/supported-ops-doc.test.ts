/**
 * The ONNX guide's list of supported ops names every op of the registry, and no op the registry lacks: the list a
 * user reads is the list the trainer checks models against.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SUPPORTED_OPS } from '../src/index.js';

const guide = readFileSync(resolve(import.meta.dirname, '../../../docs/guides/onnx-trainer.md'), 'utf8');

describe('docs/guides/onnx-trainer.md, "Supported ops"', () => {
  const section = guide.slice(guide.indexOf('## Supported ops'), guide.indexOf('\n## ', guide.indexOf('## Supported ops') + 3));
  const paragraph = section.slice(section.indexOf('Supported ops:'), section.indexOf('Losses:'));

  it('names every registered op', () => {
    const missing = SUPPORTED_OPS.filter((op) => !new RegExp(`\\b${op}\\b`).test(paragraph));
    expect(missing).toEqual([]);
  });

  it('names no op the registry lacks', () => {
    const named = [...paragraph.matchAll(/\b([A-Z][a-z]+(?:[A-Z][a-z0-9]*)*)\b/g)].map((m) => m[1]!);
    const words = new Set(['Supported', 'Pow', 'Integer', 'Losses', 'Cast', 'ONNX', 'Runtime', 'A', 'The', 'Gram']);
    const unknown = [...new Set(named)].filter((w) => !SUPPORTED_OPS.includes(w) && !words.has(w));
    expect(unknown).toEqual([]);
  });
});
