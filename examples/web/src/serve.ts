/**
 * `npm run demo:web`: serves the page on 127.0.0.1 (vite, sources resolved through the `@ifngd/source` and
 * `browser` conditions) with the MNIST blob at `/mnist.bin` and tfjs's wasm binaries at `/tfjs-wasm/`.
 * `--port N` (default 5178; 0 = any free port). Open the printed URL in a browser with WebGPU for the webgpu backend.
 * @module
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer, type Plugin, type ViteDevServer } from 'vite';
import { digitsBlob } from './digits.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const WASM_DIR = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json'));

/** Serves `/mnist.bin` (built once) and `/tfjs-wasm/*.wasm`. */
function assets(): Plugin {
  let blob: Uint8Array | null = null;
  return {
    name: 'ifngd-web-assets',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const url = req.url?.split('?')[0] ?? '';
        if (url === '/mnist.bin') {
          blob ??= digitsBlob();
          res.setHeader('Content-Type', 'application/octet-stream');
          res.end(blob);
          return;
        }
        const wasm = /^\/tfjs-wasm\/(tfjs-backend-wasm(?:-simd|-threaded-simd)?\.wasm)$/.exec(url);
        if (wasm) {
          res.setHeader('Content-Type', 'application/wasm');
          res.end(readFileSync(join(WASM_DIR, 'dist', wasm[1]!)));
          return;
        }
        next();
      });
    },
  };
}

/** Starts the demo server on 127.0.0.1; resolves to its URL and a close function. */
export async function startServer(port = 5178): Promise<{ url: string; close: () => Promise<void> }> {
  const server: ViteDevServer = await createServer({
    configFile: false,
    root: join(HERE, '../page'),
    logLevel: 'warn',
    plugins: [assets()],
    resolve: { conditions: ['@ifngd/source', 'browser', 'import', 'module', 'default'] },
    optimizeDeps: {
      include: [
        '@tensorflow/tfjs-core',
        '@tensorflow/tfjs-layers',
        '@tensorflow/tfjs-backend-cpu',
        '@tensorflow/tfjs-backend-wasm',
        '@tensorflow/tfjs-backend-webgpu',
      ],
    },
    server: { host: '127.0.0.1', port, strictPort: port !== 0 },
  });
  await server.listen();
  const address = server.httpServer?.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  return { url: `http://127.0.0.1:${actual}/`, close: () => server.close() };
}

/** The port of `--port N` in `argv` (default 5178; 0 = any free port); throws naming a bad value. */
export function parsePort(argv: readonly string[]): number {
  const i = argv.indexOf('--port');
  if (i < 0) return 5178;
  const raw = argv[i + 1];
  const port = Number(raw);
  if (raw === undefined || raw.trim() === '' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`demo:web: --port must be an integer in 0..65535, got '${raw ?? ''}'`);
  }
  return port;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  let port: number;
  try {
    port = parsePort(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  const { url } = await startServer(port);
  console.log(`FNGD vs Adam in the browser: ${url}`);
}
