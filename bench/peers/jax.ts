/** jax-js peer (WebGPU backend in Node through the shared navigator.gpu): matmul and Cholesky. */
import { nodeGpu } from './webgpu-node.js';

type Jax = typeof import('@jax-js/jax');

let jaxMod: Jax | null = null;
async function jax(): Promise<Jax> {
  if (jaxMod) return jaxMod;
  nodeGpu();
  const mod = await import('@jax-js/jax');
  const devices = await mod.init('webgpu');
  if (!devices.includes('webgpu')) throw new Error(`jax-js initialised ${devices.join(',')} but not webgpu`);
  mod.defaultDevice('webgpu');
  jaxMod = mod;
  return mod;
}

function spd(n: number): Float32Array {
  const out = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) out[i * n + j] = i === j ? n : 1 / (1 + Math.abs(i - j));
  }
  return out;
}

/** Runs one jax-js Cholesky of an n×n SPD matrix (batch entries stacked) and waits for the data. */
export async function jaxCholesky(n: number, batch = 1): Promise<[() => Promise<void>, () => void]> {
  const { numpy: np } = await jax();
  const one = spd(n);
  const data = new Float32Array(batch * n * n);
  for (let b = 0; b < batch; b++) data.set(one, b * n * n);
  const a = np.array(data).reshape(batch > 1 ? [batch, n, n] : [n, n]);
  return [
    async () => {
      const l = np.linalg.cholesky(a.ref);
      await l.data();
    },
    () => a.dispose(),
  ];
}

/** Runs one jax-js matmul and waits for the data. */
export async function jaxMatmul(m: number, n: number, k: number): Promise<[() => Promise<void>, () => void]> {
  const { numpy: np } = await jax();
  const a = np.array(Float32Array.from({ length: m * k }, () => Math.random() - 0.5)).reshape([m, k]);
  const b = np.array(Float32Array.from({ length: k * n }, () => Math.random() - 0.5)).reshape([k, n]);
  return [
    async () => {
      const c = np.matmul(a.ref, b.ref);
      await c.data();
    },
    () => {
      a.dispose();
      b.dispose();
    },
  ];
}
