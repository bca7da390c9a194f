/**
 * Test settings from the environment, in Node (`process.env`) and in vitest browser mode (`import.meta.env`, filled
 * from the browser config's `test.env`). In Node, also points Mesa at a runtime directory it can use.
 */
const proc = (globalThis as { process?: { env: Record<string, string | undefined> } }).process;

if (proc) proc.env.XDG_RUNTIME_DIR ??= '/tmp';

/** The variable `name`, or undefined. */
export function testEnv(name: string): string | undefined {
  if (proc) return proc.env[name];
  return (import.meta as { env?: Record<string, string | undefined> }).env?.[name];
}

/** Whether a missing WebGPU adapter must fail the run (`CI=true` or `IFNGD_REQUIRE_WEBGPU=1`). */
export const requireWebgpu = testEnv('CI') === 'true' || testEnv('IFNGD_REQUIRE_WEBGPU') === '1';

/**
 * Whether this run is vitest browser mode. Tests that need minutes on a software adapter in a browser (SwiftShader
 * is several times slower than lavapipe) skip there with `it.skipIf(inBrowser)`; they run in Node.
 */
export const inBrowser = proc === undefined;
