/**
 * Muon's orthogonalization: the quintic Newton–Schulz iteration of Keller Jordan's reference, on the linear-algebra
 * device. `X ← G/(‖G‖_F + 1e-7)`, then five times `A = XXᵀ`, `X ← aX + (bA + cA²)X` with
 * (a, b, c) = (3.4445, −4.7750, 2.0315), on the orientation with fewer rows (so `A` is the smaller Gram).
 * It maps the singular values of G to about [0.7, 1.2] rather than exactly 1 — the reference's choice for speed.
 * @module
 */
import type { LinalgDevice, Matrix } from '@ifngd/linalg-gpu';

const A = 3.4445;
const B = -4.775;
const C = 2.0315;

/** `m` (rows × cols, row-major) transposed. */
function transposed(m: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(m.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = m[i * cols + j] as number;
  return out;
}

/** The Newton–Schulz orthogonalization of `g` (rows × cols, row-major), in the same layout. */
export async function orthogonalize(device: LinalgDevice, g: Float32Array, rows: number, cols: number, steps: number): Promise<Float32Array> {
  let norm = 0;
  for (const v of g) norm += v * v;
  const s = 1 / (Math.sqrt(norm) + 1e-7);
  const tall = rows > cols;
  const [r, c] = tall ? [cols, rows] : [rows, cols];
  const start = (tall ? transposed(g, rows, cols) : g).map((v) => v * s);
  const live: Matrix[] = [];
  try {
    let x = device.matrix(start, [r, c]);
    live.push(x);
    for (let k = 0; k < steps; k++) {
      const a = device.gemm(x, x, { transB: true }); // XXᵀ, r × r
      const b = device.gemm(a, a, { alpha: C, beta: B, c: a }); // bA + cA²
      const next = device.gemm(b, x, { beta: A, c: x }); // aX + (bA + cA²)X
      live.push(a, b, next);
      x = next;
    }
    const out = await device.read(x);
    return tall ? transposed(out, r, c) : out;
  } finally {
    for (const m of live) m.dispose();
  }
}
