/**
 * TypeScript code blocks of Markdown files, for compiling them. A block may be preceded (on the line right above
 * its fence) by `<!-- ts-check: … -->`, whose text — declarations and imports the prose leaves implicit — is
 * compiled before the block; it is an HTML comment, so readers of the rendered README do not see it.
 */

/** One ```ts block. */
export interface Snippet {
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** `ts-check` preamble, or ''. */
  readonly preamble: string;
  /** The block's code, de-indented by the fence's indentation. */
  readonly code: string;
}

const FENCE = /^(\s*)```(ts|typescript)\s*$/;
const PREAMBLE = /<!--\s*ts-check:([\s\S]*?)-->\s*$/;

/** Every ```ts / ```typescript block of `markdown`, with its preamble; throws on an unclosed fence. */
export function extractSnippets(markdown: string): Snippet[] {
  const lines = markdown.split('\n');
  const out: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const end = lines.findIndex((l, j) => j > i && l.trim() === '```');
    if (end < 0) throw new Error(`unclosed \`\`\`ts fence at line ${i + 1}`);
    const code = lines.slice(i + 1, end).map((l) => l.slice(Math.min(indent, l.length - l.trimStart().length)));
    // the preamble comment ends on the line above the fence and may span several lines
    let preamble = '';
    if (i > 0 && /-->\s*$/.test(lines[i - 1]!)) {
      const start = lines.slice(0, i).map((l) => l.includes('<!--')).lastIndexOf(true);
      const m = PREAMBLE.exec(lines.slice(start, i).join('\n'));
      if (m) preamble = m[1]!.trim();
    }
    out.push({ line: i + 1, preamble, code: code.join('\n') });
    i = end;
  }
  return out;
}

/** A compilable module: the preamble, the block, and `export {}` so top-level await is allowed. */
export function snippetModule(s: Snippet, source: string): string {
  return `// ${source}:${s.line}\n${s.preamble}\n// --- block ---\n${s.code}\nexport {};\n`;
}
