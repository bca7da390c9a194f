/**
 * `npm run demo:web`: serves the page on 127.0.0.1 (vite, sources resolved through the `@ifngd/source` and
 * `browser` conditions) with the MNIST blob at `/mnist.bin`, tfjs's wasm binaries at `/tfjs-wasm/` and
 * onnxruntime-web's wasm files (node_modules/onnxruntime-web/dist) at `/ort-wasm/`. The page's npm dependencies,
 * tfjs-vis (CommonJS) among them, are pre-bundled by vite's dependency optimizer.
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
const require = createRequire(import.meta.url);
const WASM_DIR = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
const ORT_DIST = dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));

/** Serves `/mnist.bin` (built once), `/tfjs-wasm/*.wasm` and `/ort-wasm/ort-wasm-simd-threaded*.{wasm,mjs}`. */
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
          res.setHeader('Content-Length', String(blob.byteLength)); // the page shows the download's fraction
          res.end(blob);
          return;
        }
        const wasm = /^\/tfjs-wasm\/(tfjs-backend-wasm(?:-simd|-threaded-simd)?\.wasm)$/.exec(url);
        if (wasm) {
          res.setHeader('Content-Type', 'application/wasm');
          res.end(readFileSync(join(WASM_DIR, 'dist', wasm[1]!)));
          return;
        }
        const ortFile = /^\/ort-wasm\/(ort-wasm-simd-threaded(?:\.jsep|\.jspi|\.asyncify)?\.(wasm|mjs))$/.exec(url);
        if (ortFile) {
          res.setHeader('Content-Type', ortFile[2] === 'wasm' ? 'application/wasm' : 'text/javascript');
          res.end(readFileSync(join(ORT_DIST, ortFile[1]!)));
          return;
        }
        next();
      });
    },
  };
}

/** Options of {@link startServer}. */
export interface ServerOptions {
  /** Watch the sources and reload the page when they change (default true; the end-to-end test turns it off). */
  readonly watch?: boolean;
}

/** Starts the demo server on 127.0.0.1; resolves to its URL and a close function. */
export async function startServer(port = 5178, options: ServerOptions = {}): Promise<{ url: string; close: () => Promise<void> }> {
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
        '@tensorflow/tfjs-vis', // CommonJS, with vega: pre-bundled, and sharing the one tfjs-core
        'onnxruntime-web',
        'onnxruntime-common',
        'onnx-buf',
        '@bufbuild/protobuf',
      ],
    },
    server: { host: '127.0.0.1', port, strictPort: port !== 0, ...(options.watch === false ? { watch: null, hmr: false } : {}) },
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

const HELP = `npm run demo:web -- [--port N]

Serves the browser demo: FNGD against Adam (TensorFlow.js) and FNGD on ONNX Runtime Web, training on real MNIST
digits in the page, with live charts and a tfjs-vis panel. Open the printed URL in a browser (Chromium with WebGPU
for the webgpu backend; without WebGPU the page trains on wasm). Stop with Ctrl-C.

  --port N     the port (default 5178; 0 = any free port)
  -h, --help   this text`;

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log(HELP);
    process.exit(0);
  }
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
