import { defineConfig } from 'vitest/config';

// The consumer test (`npm run test:consumer`): packs, installs and bundles the built packages, so it runs on its
// own, after `npm run build`, rather than inside `npm test`.
export default defineConfig({
  test: {
    include: ['test/consumer/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    reporters: ['default', './scripts/count-reporter.ts'],
  },
});
