import { defineConfig } from 'vitest/config';

// In-repo imports resolve to TypeScript sources through the `@ifngd/source` export condition,
// so tests never need a build step. Consumers resolve the same specifiers to `dist/`.
export default defineConfig({
  resolve: { conditions: ['@ifngd/source', 'import', 'module', 'node', 'default'] },
  ssr: { resolve: { conditions: ['@ifngd/source', 'import', 'node', 'default'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'test/docs/**/*.test.ts', 'test/errors/**/*.test.ts', 'test/cli/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default', './scripts/count-reporter.ts'],
  },
});
