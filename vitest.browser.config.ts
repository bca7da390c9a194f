import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';

/**
 * The numeric suites (linalg-gpu, fisher) and the tfjs adapter's webgpu suite in a real browser (`npm run test:browser`): Debian's Chromium (never a downloaded one), WebGPU
 * on its SwiftShader adapter. Sources resolve with the `browser` condition, so linalg-gpu takes `navigator.gpu`
 * and never the Node `webgpu` package. `CI=true` (or IFNGD_REQUIRE_WEBGPU=1) makes a missing adapter fail.
 */
const executablePath = process.env.IFNGD_CHROMIUM ?? '/usr/bin/chromium';

export default defineConfig({
  resolve: { conditions: ['@ifngd/source', 'browser', 'import', 'module', 'default'] },
  // pre-bundled up front: discovering them mid-run makes vite reload the page under a running test
  optimizeDeps: {
    include: [
      '@tensorflow/tfjs-core',
      '@tensorflow/tfjs-layers',
      '@tensorflow/tfjs-backend-cpu',
      '@tensorflow/tfjs-backend-webgpu',
      'fast-check',
    ],
  },
  test: {
    include: [
      'packages/linalg-gpu/test/**/*.test.ts',
      'packages/fisher/test/**/*.test.ts',
      'packages/adapters-tfjs/test/webgpu.test.ts',
    ],
    exclude: ['packages/linalg-gpu/test/platform-node.test.ts'],
    env: {
      CI: process.env.CI ?? '',
      IFNGD_REQUIRE_WEBGPU: process.env.IFNGD_REQUIRE_WEBGPU ?? '',
    },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default', './scripts/count-reporter.ts'],
    browser: {
      enabled: true,
      headless: true,
      screenshotFailures: false,
      provider: playwright({
        launchOptions: {
          executablePath,
          args: ['--enable-unsafe-webgpu', '--no-sandbox', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update'],
        },
      }),
      instances: [{ browser: 'chromium' }],
    },
  },
});
