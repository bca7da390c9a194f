/**
 * A fresh consumer project built from `npm pack` tarballs: no workspace links, dependencies from the npm cache
 * (`--prefer-offline`). Used by consumer.test.ts.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The published packages, in dependency order: workspace folder → package name. */
export const PACKAGES = {
  'packages/linalg-gpu': '@ifngd/linalg-gpu',
  'packages/fisher': '@ifngd/fisher',
  'packages/ifngd': 'ifngd',
  'packages/adapters-tfjs': '@ifngd/adapters-tfjs',
  'packages/adapters-onnx': '@ifngd/adapters-onnx',
} as const;

/**
 * Third-party packages of the consumer. tfjs at the *lowest* version the adapter's peer range admits (the
 * repository's own tests run the highest); `webgpu` installed so bundlers could reach it; no onnxruntime-node.
 */
export const THIRD_PARTY: Readonly<Record<string, string>> = {
  '@tensorflow/tfjs-core': '4.21.0',
  '@tensorflow/tfjs-layers': '4.21.0',
  '@tensorflow/tfjs-backend-cpu': '4.21.0',
  'onnxruntime-web': '^1.30.0',
  webgpu: '^0.6.2',
  typescript: '~5.9.3',
  esbuild: '^0.28.2',
  vite: '8.3.8',
};

/** One packed tarball, as `npm pack --json` reports it. */
export interface Packed {
  readonly name: string;
  readonly filename: string;
  readonly files: readonly { readonly path: string }[];
}

/** Environment for child npm/node processes: the parent's, minus npm's workspace settings. */
export function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.toLowerCase().startsWith('npm_')) env[k] = v;
  env.ONNXRUNTIME_NODE_INSTALL = 'skip';
  return env;
}

/** Runs a command; rejects with its output on a non-zero exit. */
export async function sh(cmd: string, args: readonly string[], cwd: string): Promise<string> {
  try {
    const { stdout, stderr } = await run(cmd, args, { cwd, env: childEnv(), maxBuffer: 64 << 20 });
    return stdout + stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}\n${e.stderr ?? ''}\n${e.message}`);
  }
}

/** Packs every package (their `dist` must be built) into `dir`. */
export async function packAll(dir: string): Promise<Packed[]> {
  const ws = Object.keys(PACKAGES).flatMap((p) => ['-w', p]);
  const out = await sh('npm', ['pack', ...ws, '--pack-destination', dir, '--json', '--silent'], ROOT);
  return JSON.parse(out.slice(out.indexOf('['))) as Packed[];
}

/** A temporary consumer project with the tarballs and {@link THIRD_PARTY} installed, and the fixtures copied. */
export async function createConsumer(): Promise<{ dir: string; packed: Packed[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'ifngd-consumer-'));
  const tarballs = join(dir, 'tarballs');
  mkdirSync(tarballs);
  const packed = await packAll(tarballs);
  const deps: Record<string, string> = { ...THIRD_PARTY };
  for (const p of packed) deps[p.name] = `file:tarballs/${p.filename}`;
  const pkg = { name: 'ifngd-consumer', private: true, type: 'module', dependencies: deps };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
  cpSync(join(ROOT, 'test/consumer/fixtures'), dir, { recursive: true });
  // the repository's worked example, as a consumer writes it: the package name instead of the source path
  const worked = readFileSync(join(ROOT, 'packages/ifngd/examples/worked-example.ts'), 'utf8');
  writeFileSync(join(dir, 'src/worked-example.ts'), worked.replace(/from '\.\.\/src\/index\.js'/, "from 'ifngd'"));
  await sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], dir);
  return { dir, packed };
}
