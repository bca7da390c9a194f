/**
 * From npm into an app: every package packed, installed from its tarball into a fresh project (no workspace links),
 * typechecked with `skipLibCheck: false`, trained under Node, and bundled for the browser by esbuild and vite
 * without the Node-only `webgpu` package or onnxruntime-node. Run by `npm run test:consumer` (and .ci/run).
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGES, ROOT, createConsumer, sh, type Packed } from './project.js';

let dir = '';
let packed: Packed[] = [];

beforeAll(async () => {
  await sh('npx', ['turbo', 'run', 'build', '--output-logs=errors-only'], ROOT);
  ({ dir, packed } = await createConsumer());
}, 300_000);

afterAll(() => {
  if (dir && !process.env.IFNGD_KEEP_CONSUMER) rmSync(dir, { recursive: true, force: true });
});

/** Last JSON line a fixture printed. */
function lastJson<T>(out: string): T {
  const line = out.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (!line) throw new Error(`no JSON output in:\n${out}`);
  return JSON.parse(line) as T;
}

describe('tarballs', () => {
  it('hold dist, README, LICENSE and package.json with repository, homepage and engines; no tests', () => {
    expect(packed.map((p) => p.name).sort()).toEqual(Object.values(PACKAGES).sort());
    for (const p of packed) {
      const files = p.files.map((f) => f.path);
      expect(files, p.name).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts']));
      expect(files.filter((f) => /(^|\/)test\/|\.test\.ts$/.test(f)), p.name).toEqual([]);
      const pkg = JSON.parse(readFileSync(join(dir, 'node_modules', p.name, 'package.json'), 'utf8')) as Record<string, unknown>;
      const [folder] = Object.entries(PACKAGES).find(([, name]) => name === p.name)!;
      expect(pkg.repository, p.name).toMatchObject({ type: 'git', directory: folder });
      expect(pkg.homepage, p.name).toMatch(/^https:\/\//);
      expect(pkg.license).toBe('MIT');
    }
  });

  it('declare @webgpu/types where the .d.ts use GPU types, and only optional runtime peers', () => {
    const read = (name: string) => JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8'));
    expect(read('@ifngd/linalg-gpu').dependencies).toHaveProperty('@webgpu/types');
    expect(read('@ifngd/linalg-gpu').peerDependenciesMeta.webgpu.optional).toBe(true);
    const onnx = read('@ifngd/adapters-onnx');
    expect(Object.keys(onnx.peerDependencies).sort()).toEqual(['onnxruntime-node', 'onnxruntime-web']);
    for (const peer of Object.keys(onnx.peerDependencies)) expect(onnx.peerDependenciesMeta[peer].optional).toBe(true);
    expect(existsSync(join(dir, 'node_modules/onnxruntime-node'))).toBe(false);
    // one tfjs-core in the tree: the consumer's 4.21 satisfies the adapter's peer range
    expect(read('@tensorflow/tfjs-core').version).toBe('4.21.0');
    expect(existsSync(join(dir, 'node_modules/@ifngd/adapters-tfjs/node_modules/@tensorflow'))).toBe(false);
  });
});

describe('consumer project', () => {
  it('typechecks linalg-gpu + fisher + ifngd + adapters-onnx with skipLibCheck: false, no error at all', async () => {
    await sh('npx', ['tsc', '-p', 'tsconfig.json'], dir);
    expect(existsSync(join(dir, 'out/worked-example.js'))).toBe(true);
  }, 120_000);

  it('typechecks the tfjs adapter with skipLibCheck: false: errors only in tfjs 4.x own .d.ts', async () => {
    // tfjs-core's .d.ts name an undeclared `Long`, tfjs-layers' fail strict checks, and tfjs-core pins
    // @webgpu/types 0.1.38 exactly, whose globals clash with any newer copy: third-party, and the reason tfjs
    // projects keep skipLibCheck: true. Nothing may be reported in our packages or in the consumer's code.
    const out = await sh('npx', ['tsc', '-p', 'tsconfig.tfjs.json'], dir).catch((e: Error) => e.message);
    const errors = [...out.matchAll(/^(\S+\.ts)\(\d+,\d+\): error (TS\d+)/gm)].map((m) => ({ file: m[1]!, code: m[2]! }));
    const duplicateGlobals = new Set(['TS6200', 'TS2717', 'TS2403', 'TS2687']);
    const ours = errors.filter(
      (e) => !e.file.startsWith('node_modules/@tensorflow/') && !(e.file.startsWith('node_modules/@webgpu/types/') && duplicateGlobals.has(e.code)),
    );
    expect(ours).toEqual([]);
    expect(existsSync(join(dir, 'out-tfjs/tfjs-node.js'))).toBe(true); // emitted despite third-party errors
  }, 120_000);

  it('runs the worked example (linalg-gpu + fisher + ifngd, no framework) under Node', async () => {
    const out = await sh('node', ['out/worked-example.js'], dir);
    const losses = [...out.matchAll(/mean batch loss (\S+)/g)].map((m) => Number(m[1]));
    expect(losses).toHaveLength(4);
    expect(losses[3]!).toBeLessThan(losses[0]! / 10);
  }, 60_000);

  it('ensureNavigatorGpu defines navigator.gpu and the GPU* globals in Node from the `webgpu` package', async () => {
    const r = lastJson<{ same: boolean; requestAdapter: string; usage: number }>(await sh('node', ['out/webgpu-node.js'], dir));
    expect(r).toEqual({ same: true, requestAdapter: 'function', usage: 4 });
  }, 60_000);

  it('trains a tfjs-layers MLP with FngdTrainer (tfjs 4.21, cpu backend)', async () => {
    const r = lastJson<{ tfjs: string; losses: number[]; history: number[] }>(await sh('node', ['out-tfjs/tfjs-node.js'], dir));
    expect(r.tfjs).toBe('4.21.0');
    expect(r.losses).toHaveLength(3);
    expect(r.history).toEqual(r.losses); // fit returns a tf.History whose `loss` is the epochs' training loss
    expect(r.losses[2]!).toBeLessThan(r.losses[0]!);
  }, 60_000);

  it('trains an ONNX model with OnnxTrainer on onnxruntime-web in Node, without onnxruntime-node', async () => {
    const r = lastJson<{ losses: number[] }>(await sh('node', ['out/onnx-node.js'], dir));
    expect(r.losses).toHaveLength(3);
    expect(r.losses[2]!).toBeLessThan(r.losses[0]!);
  }, 60_000);
});

describe('browser bundles', () => {
  /** Paths of node_modules packages a bundle drew from. */
  const forbidden = [/node_modules\/webgpu\//, /node_modules\/onnxruntime-node\//, /platform\.node\.js$/, /runtime\.node\.js$/];

  it('esbuild --platform=browser bundles every package without the webgpu package or onnxruntime-node', async () => {
    await sh('npx', ['esbuild', 'src-tfjs/browser-entry.ts', '--bundle', '--platform=browser', '--format=esm', '--target=es2022',
      '--outfile=bundle/esbuild.js', '--metafile=bundle/esbuild-meta.json', '--log-level=error',
      '--loader:.wasm=file'], dir);
    const inputs = Object.keys((JSON.parse(readFileSync(join(dir, 'bundle/esbuild-meta.json'), 'utf8')) as { inputs: object }).inputs);
    expect(inputs.some((i) => i.endsWith('linalg-gpu/dist/webgpu/platform.browser.js'))).toBe(true);
    expect(inputs.some((i) => i.endsWith('adapters-onnx/dist/runtime.browser.js'))).toBe(true);
    for (const re of forbidden) expect(inputs.filter((i) => re.test(i))).toEqual([]);
    expect(readFileSync(join(dir, 'bundle/esbuild.js'), 'utf8')).not.toMatch(/dawn\.node|from\s*["']webgpu["']/);
  }, 120_000);

  it('vite build bundles the same entry the same way', async () => {
    await sh('npx', ['vite', 'build', '--logLevel', 'error'], dir);
    const manifest = JSON.parse(readFileSync(join(dir, 'dist-vite/.vite/manifest.json'), 'utf8')) as Record<string, { file: string }>;
    const js = Object.values(manifest).map((m) => m.file).filter((f) => f.endsWith('.js'));
    expect(js.length).toBeGreaterThan(0);
    const text = js.map((f) => readFileSync(join(dir, 'dist-vite', f), 'utf8')).join('\n');
    expect(text).toMatch(/navigator\.gpu is missing/); // platform.browser.js is in
    expect(text).not.toMatch(/dawn\.node|optional peer dependency `webgpu`|ONNXRUNTIME_NODE_INSTALL/);
  }, 120_000);
});
